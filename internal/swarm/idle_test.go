package swarm

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/sqlitestore"
)

// TestIdleSwarmReleasesTree: a seeder whose tree lives in the store's file
// drops its cached pages once it has had no channel for IdleRelease, and
// the next downloader still gets every chunk verified (the pages are read
// again on demand).
func TestIdleSwarmReleasesTree(t *testing.T) {
	data := randomContent(2<<20+77, 9)
	dir := t.TempDir()
	st, err := sqlitestore.Open(sqlitestore.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	path := filepath.Join(dir, "content.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sw, tree, err := Import(st, bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: 1024, Path: path}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	seed := startEngine(t, nil, func(c *Config) { c.IdleRelease = 100 * time.Millisecond })
	if _, err := seed.e.Add(SwarmConfig{Store: sw}); err != nil {
		t.Fatal(err)
	}
	waitReleased := func(when string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for seed.e.HashCacheStats().Bytes != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the idle seeder still caches %+v", when, seed.e.HashCacheStats())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for round := range 2 {
		l := startEngine(t, nil, nil)
		s, lsw := leechSwarm(t, l, tree.Root(), 1024, ModeLeech)
		s.Connect(seed.conn.LocalAddr())
		waitDone(t, s, 30*time.Second)
		if round == 0 && seed.e.HashCacheStats().Misses == 0 {
			t.Fatal("the seeder served without reading its tree through the cache")
		}
		got := make([]byte, 0, len(data))
		buf := make([]byte, 1024)
		for c := uint64(0); c < uint64((len(data)+1023)/1024); c++ {
			n, err := lsw.ReadChunk(c, buf)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:n]...)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round %d: content differs", round)
		}
		waitReleased("after a download")
	}
}
