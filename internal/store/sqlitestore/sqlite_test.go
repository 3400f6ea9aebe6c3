package sqlitestore_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/sqlitestore"
	"github.com/swarmgate/swarmgate/internal/store/storetest"
)

func openSwarm(t *testing.T, s store.Store, in store.Info) store.Swarm {
	t.Helper()
	sw, err := s.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	return sw
}

func writeChunks(t *testing.T, sw store.Swarm, seed string, from, to uint64) {
	t.Helper()
	in := sw.Info()
	for c := from; c < to; c++ {
		if err := sw.WriteChunk(c, storetest.ChunkData(seed, c, in.ChunkLen(c))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPragmas(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	tests := []struct {
		pragma string
		want   string
	}{
		{"foreign_keys", "1"},
		{"journal_mode", "wal"},
		{"synchronous", "2"},
		{"user_version", "1"},
	}
	for _, tt := range tests {
		var got string
		if err := s.DB().QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
		}
	}
	if v := sqlitestore.SchemaVersion(); v != 1 {
		t.Errorf("SchemaVersion = %d", v)
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	_, err := sqlitestore.Open(sqlitestore.Config{Dir: dir})
	if !errors.Is(err, sqlitestore.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	s.Close()
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if _, err := s.DB().Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := sqlitestore.Open(sqlitestore.Config{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

func TestPaths(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	in := store.Info{SwarmID: storetest.ID("p", 0), ChunkSize: 1024, Length: 2048}
	sw := openSwarm(t, s, in)
	defer sw.Close()
	want := filepath.Join(s.Dir(), "content", hex.EncodeToString(in.SwarmID))
	if got := sw.Info().Path; got != want {
		t.Errorf("default Path = %q, want %q", got, want)
	}
	var stored string
	if err := s.DB().QueryRow("SELECT path FROM swarm WHERE swarm_id = ?", in.SwarmID).Scan(&stored); err != nil || stored != "" {
		t.Errorf("stored default path = %q, %v; want ''", stored, err)
	}
	writeChunks(t, sw, "p", 0, 2)
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(want); err != nil || fi.Size() != 2048 {
		t.Errorf("content file: %v, %v", fi, err)
	}

	t.Chdir(dir)
	rel := store.Info{SwarmID: storetest.ID("rel", 0), ChunkSize: 1024, Length: 10, Path: "sub/file"}
	sr := openSwarm(t, s, rel)
	defer sr.Close()
	if got, want := sr.Info().Path, filepath.Join(s.Dir(), "sub", "file"); got != want {
		t.Errorf("relative Path stored as %q, want %q", got, want)
	}
}

func TestPathInUse(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	path := filepath.Join(dir, "shared")
	a := openSwarm(t, s, store.Info{SwarmID: storetest.ID("a", 0), ChunkSize: 1024, Length: 10, Path: path})
	defer a.Close()
	_, err := s.Open(store.Info{SwarmID: storetest.ID("b", 0), ChunkSize: 1024, Length: 10, Path: path})
	if !errors.Is(err, store.ErrInvalidInfo) || !errors.Is(err, sqlitestore.ErrPathInUse) {
		t.Fatalf("second swarm on the same content file: %v", err)
	}
	t.Log(err)
}

func TestRemoveKeepsContent(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	in := store.Info{SwarmID: storetest.ID("rm", 0), ChunkSize: 1024, Length: 4096}
	sw := openSwarm(t, s, in)
	writeChunks(t, sw, "rm", 0, 4)
	if err := sw.PutHash(0, make([]byte, 20)); err != nil {
		t.Fatal(err)
	}
	path := sw.Info().Path
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(in.SwarmID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("content file gone after Remove: %v", err)
	}
	tree := filepath.Join(s.Dir(), "trees", hex.EncodeToString(in.SwarmID)+".mhash")
	if _, err := os.Stat(tree); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tree file after Remove: %v", err)
	}
	var n int
	s.DB().QueryRow("SELECT count(*) FROM bitmap").Scan(&n)
	if n != 0 {
		t.Errorf("%d bitmap rows after Remove", n)
	}
}

// TestRepair: a content file cut short, and a lost tree sidecar, make the
// store forget what they no longer hold instead of serving short reads.
func TestRepair(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	in := store.Info{SwarmID: storetest.ID("rep", 0), ChunkSize: 1024, Length: 9*1024 + 500}
	sw := openSwarm(t, s, in)
	writeChunks(t, sw, "rep", 0, 10)
	if err := sw.PutHashes([]uint64{0, 2, 4}, make([]byte, 60)); err != nil {
		t.Fatal(err)
	}
	path := sw.Info().Path
	sw.Close()
	s.Close()

	if err := os.Truncate(path, 5*1024+10); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "trees", hex.EncodeToString(in.SwarmID)+".mhash")); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()
	sw = openSwarm(t, s, in)
	defer sw.Close()
	if got := sw.Verified(); len(got) != 1 || got[0] != (store.Range{Start: 0, End: 4}) {
		t.Errorf("Verified after truncation = %v, want [{0 4}]", got)
	}
	n := 0
	sw.Hashes(func(uint64, []byte) { n++ })
	if n != 0 {
		t.Errorf("%d hashes after losing the tree file", n)
	}
	// The repair is persisted.
	sw.Close()
	s.Close()
	s = openStore(t, dir)
	defer s.Close()
	sw = openSwarm(t, s, in)
	defer sw.Close()
	if sw.NumVerified() != 5 {
		t.Errorf("NumVerified %d after second reopen", sw.NumVerified())
	}
	os.Truncate(path, 10*1024) // bytes back, but the store doesn't trust them
	if sw.Have(7) {
		t.Error("chunk 7 verified again by magic")
	}
}

func bitmapRows(t *testing.T, s *sqlitestore.Store) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRow("SELECT count(*) FROM bitmap").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitRows(t *testing.T, s *sqlitestore.Store) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for bitmapRows(t, s) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCheckpointCadence(t *testing.T) {
	in := store.Info{SwarmID: storetest.ID("cad", 0), ChunkSize: 1024, Length: 1 << 20}
	t.Run("interval", func(t *testing.T) {
		s, err := sqlitestore.Open(sqlitestore.Config{Dir: t.TempDir(), FlushInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sw := openSwarm(t, s, in)
		defer sw.Close()
		writeChunks(t, sw, "cad", 0, 3)
		waitRows(t, s)
	})
	t.Run("bytes", func(t *testing.T) {
		s, err := sqlitestore.Open(sqlitestore.Config{Dir: t.TempDir(), FlushInterval: -1, FlushBytes: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sw := openSwarm(t, s, in)
		defer sw.Close()
		writeChunks(t, sw, "cad", 0, 32)
		time.Sleep(50 * time.Millisecond)
		if n := bitmapRows(t, s); n != 0 {
			t.Fatalf("%d rows before FlushBytes was reached", n)
		}
		writeChunks(t, sw, "cad", 32, 64)
		waitRows(t, s)
	})
	t.Run("flush only", func(t *testing.T) {
		s, err := sqlitestore.Open(sqlitestore.Config{Dir: t.TempDir(), FlushInterval: -1, FlushBytes: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sw := openSwarm(t, s, in)
		defer sw.Close()
		writeChunks(t, sw, "cad", 0, 100)
		time.Sleep(50 * time.Millisecond)
		if n := bitmapRows(t, s); n != 0 {
			t.Fatalf("%d rows without a Flush", n)
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
		if n := bitmapRows(t, s); n != 1 {
			t.Fatalf("%d rows after Flush, want 1", n)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	if _, err := sqlitestore.Open(sqlitestore.Config{}); err == nil {
		t.Error("Open without Dir succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := sqlitestore.Open(sqlitestore.Config{Dir: f}); err == nil {
		t.Error("Open on a regular file succeeded")
	}
}

// TestCompleteFile: once every chunk is written the content file holds the
// whole content, without a Flush.
func TestCompleteFile(t *testing.T) {
	s, err := sqlitestore.Open(sqlitestore.Config{Dir: t.TempDir(), FlushInterval: -1, FlushBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := store.Info{SwarmID: storetest.ID("complete", 0), ChunkSize: 1024, Length: 40*1024 + 7}
	sw := openSwarm(t, s, in)
	defer sw.Close()
	var want []byte
	for c := range uint64(41) {
		want = append(want, storetest.ChunkData("complete", c, sw.Info().ChunkLen(c))...)
	}
	for _, c := range []uint64{40, 3, 2, 1, 0} {
		if err := sw.WriteChunk(c, storetest.ChunkData("complete", c, sw.Info().ChunkLen(c))); err != nil {
			t.Fatal(err)
		}
	}
	writeChunks(t, sw, "complete", 4, 40)
	got, err := os.ReadFile(sw.Info().Path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("content file after the last chunk: %d bytes, %v; want the %d bytes written", len(got), err, len(want))
	}
}

// TestCorruptState: a damaged bitmap row makes Open fail with a clear
// error, not hang or panic, and leaves the store usable.
func TestCorruptState(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	in := store.Info{SwarmID: storetest.ID("corrupt", 0), ChunkSize: 1024, Length: 4096}
	sw := openSwarm(t, s, in)
	writeChunks(t, sw, "corrupt", 0, 2)
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec("UPDATE bitmap SET bits = x'0102'"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Open(in)
	if err == nil || !strings.Contains(err.Error(), "load state") {
		t.Fatalf("Open with a damaged page: %v", err)
	}
	other := openSwarm(t, s, store.Info{SwarmID: storetest.ID("fine", 0), ChunkSize: 1024, Length: 10})
	other.Close()
	// Removing the damaged swarm clears it.
	if err := s.Remove(in.SwarmID); err != nil {
		t.Fatal(err)
	}
	sw = openSwarm(t, s, in)
	defer sw.Close()
	if sw.NumVerified() != 0 {
		t.Error("state after Remove")
	}
}
