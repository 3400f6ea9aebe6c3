package node

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// TestSeedAndFetch opens two nodes on loopback, imports a file into one
// and fetches it with the other.
func TestSeedAndFetch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	content := bytes.Repeat([]byte("swarmgate node "), 20000)
	file := filepath.Join(dir, "content.bin")
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}
	seeder, err := Open(Config{Listen: "127.0.0.1:0", StateDir: filepath.Join(dir, "seed")})
	if err != nil {
		t.Fatal(err)
	}
	defer seeder.Close()
	sw, err := ImportFile(seeder.Store, file, merkle.Options{ChunkSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	if _, err := seeder.Engine.Add(swarm.SwarmConfig{Store: sw}); err != nil {
		t.Fatal(err)
	}
	seeder.Start(ctx)

	leecher, err := Open(Config{Listen: "127.0.0.1:0", StateDir: filepath.Join(dir, "get")})
	if err != nil {
		t.Fatal(err)
	}
	defer leecher.Close()
	out := filepath.Join(dir, "out.bin")
	info := sw.Info()
	lw, err := leecher.Store.Open(store.Info{SwarmID: info.SwarmID, HashFunc: info.HashFunc, ChunkSize: info.ChunkSize, Length: -1, Path: out})
	if err != nil {
		t.Fatal(err)
	}
	defer lw.Close()
	s, err := leecher.Engine.Add(swarm.SwarmConfig{Store: lw, Mode: swarm.ModeLeech})
	if err != nil {
		t.Fatal(err)
	}
	leecher.Start(ctx)
	s.Connect(seeder.Conn.LocalAddr())
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("download did not complete")
	}
	if err := lw.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("downloaded content differs (err %v, %d bytes)", err, len(got))
	}
	if err := leecher.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Config{Listen: "127.0.0.1:0"}); err == nil {
		t.Fatal("Open without a state directory succeeded")
	}
	c, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := ListenUDP(c.LocalAddr().String()); err == nil || !bytes.Contains([]byte(err.Error()), []byte("in use")) {
		t.Fatalf("second listen on one port: %v, want an in-use error", err)
	}
	if _, _, err := OpenContent(t.TempDir()); err == nil {
		t.Fatal("OpenContent of a directory succeeded")
	}
}
