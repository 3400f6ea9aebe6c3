package sqlitestore_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/storetest"
)

type marker interface {
	MarkVerified(first, last uint64) error
}

func TestMarkVerified(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seed.bin")
	var data []byte
	for c := range uint64(10) {
		data = append(data, storetest.ChunkData("mark", c, 1024)...)
	}
	data = data[:9*1024+100]
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, filepath.Join(dir, "store"))
	in := store.Info{SwarmID: storetest.ID("mark", 0), ChunkSize: 1024, Length: int64(len(data)), Path: path}
	sw := openSwarm(t, s, in)
	m, ok := sw.(marker)
	if !ok {
		t.Fatal("sqlitestore swarm has no MarkVerified")
	}
	if err := m.MarkVerified(3, 10); !errors.Is(err, store.ErrOutOfRange) {
		t.Errorf("MarkVerified past the end: %v", err)
	}
	if err := m.MarkVerified(5, 4); !errors.Is(err, store.ErrOutOfRange) {
		t.Errorf("MarkVerified(5, 4): %v", err)
	}
	if err := m.MarkVerified(0, 9); err != nil {
		t.Fatal(err)
	}
	if sw.NumVerified() != 10 {
		t.Fatalf("NumVerified %d", sw.NumVerified())
	}
	sw.Close()
	s.Close()

	s = openStore(t, filepath.Join(dir, "store"))
	defer s.Close()
	sw = openSwarm(t, s, in)
	defer sw.Close()
	buf := make([]byte, 1024)
	var got []byte
	for c := range uint64(10) {
		n, err := sw.ReadChunk(c, buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, data) {
		t.Error("content read back differs")
	}

	// A file too short for the chunks claimed.
	short := store.Info{SwarmID: storetest.ID("short", 0), ChunkSize: 1024, Length: 4096, Path: filepath.Join(dir, "short.bin")}
	os.WriteFile(short.Path, make([]byte, 3000), 0o644)
	ss := openSwarm(t, s, short)
	defer ss.Close()
	if err := ss.(marker).MarkVerified(0, 3); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("MarkVerified on a short file: %v", err)
	}
	if ss.NumVerified() != 0 {
		t.Error("short file marked")
	}
	unk := openSwarm(t, s, store.Info{SwarmID: storetest.ID("unk", 0), ChunkSize: 1024, Length: -1})
	defer unk.Close()
	if err := unk.(marker).MarkVerified(0, 0); !errors.Is(err, store.ErrLengthUnknown) {
		t.Errorf("MarkVerified with unknown length: %v", err)
	}
}
