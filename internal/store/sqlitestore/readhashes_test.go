package sqlitestore_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/storetest"
)

// TestReadHashes: runs of hashes read back with their known bits, whether
// still buffered, written to the sidecar, or after a reopen.
func TestReadHashes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	in := store.Info{SwarmID: storetest.ID("rh", 0), ChunkSize: 1024, Length: 1000 * 1024}
	hash := func(b uint64) []byte { return bytes.Repeat([]byte{byte(b), byte(b >> 8)}, 10) }
	bins := []uint64{0, 1, 2, 63, 64, 300, 511, 1000}
	check := func(t *testing.T, sw store.Swarm, what string) {
		t.Helper()
		hr, ok := sw.(store.HashReader)
		if !ok {
			t.Fatal("sqlitestore swarm is no HashReader")
		}
		dst := make([]byte, 512*20)
		known := make([]uint64, 8)
		if err := hr.ReadHashes(0, dst, known); err != nil {
			t.Fatal(err)
		}
		want := map[uint64]bool{}
		for _, b := range bins {
			want[b] = true
		}
		for k := uint64(0); k < 512; k++ {
			got := known[k/64]&(1<<(k%64)) != 0
			if got != want[k] {
				t.Fatalf("%s: bin %d known %v, want %v", what, k, got, want[k])
			}
			if got && !bytes.Equal(dst[k*20:(k+1)*20], hash(k)) {
				t.Fatalf("%s: bin %d hash %x", what, k, dst[k*20:(k+1)*20])
			}
		}
		// A run past the end of the sidecar: bin 1000 only.
		dst = make([]byte, 256*20)
		if err := hr.ReadHashes(768, dst, known[:4]); err != nil {
			t.Fatal(err)
		}
		for k := uint64(0); k < 256; k++ {
			if got := known[k/64]&(1<<(k%64)) != 0; got != (k == 1000-768) {
				t.Fatalf("%s: bin %d known %v", what, 768+k, got)
			}
		}
		if !bytes.Equal(dst[(1000-768)*20:(1000-768+1)*20], hash(1000)) {
			t.Fatalf("%s: bin 1000", what)
		}
	}
	s := openStore(t, dir)
	sw := openSwarm(t, s, in)
	var hashes []byte
	for _, b := range bins {
		hashes = append(hashes, hash(b)...)
	}
	if err := sw.PutHashes(bins, hashes); err != nil {
		t.Fatal(err)
	}
	check(t, sw, "buffered")
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	check(t, sw, "flushed")
	sw.Close()
	s.Close()
	s = openStore(t, dir)
	check(t, openSwarm(t, s, in), "reopened")
}
