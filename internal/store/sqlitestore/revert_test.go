package sqlitestore

import (
	"errors"
	"testing"

	"github.com/swarmgate/swarmgate/internal/store"
)

// TestRevert: after a failed fdatasync the swarm falls back to its last
// committed checkpoint, so chunks whose bytes may have been dropped by the
// kernel are fetched again rather than served.
func TestRevert(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir(), FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := make([]byte, 20)
	id[0] = 1
	h, err := s.Open(store.Info{SwarmID: id, ChunkSize: 1024, Length: 10 * 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	p := make([]byte, 1024)
	for c := range uint64(5) {
		if err := h.WriteChunk(c, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.PutHash(0, make([]byte, 20)); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	for c := uint64(5); c < 8; c++ {
		if err := h.WriteChunk(c, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.PutHash(2, make([]byte, 20)); err != nil {
		t.Fatal(err)
	}
	h.(*handle).s.revert(errors.New("simulated fdatasync failure"))
	if got := h.Verified(); len(got) != 1 || got[0] != (store.Range{Start: 0, End: 4}) {
		t.Errorf("Verified after revert = %v, want [{0 4}]", got)
	}
	if _, err := h.Hash(2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Hash(2) after revert: %v", err)
	}
	if _, err := h.Hash(0); err != nil {
		t.Errorf("Hash(0) after revert: %v", err)
	}
	// Writing again works and sticks.
	for c := uint64(5); c < 10; c++ {
		if err := h.WriteChunk(c, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	if h.NumVerified() != 10 {
		t.Errorf("NumVerified %d", h.NumVerified())
	}
}
