package swarm

import (
	"bytes"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/store"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r *bytes.Reader
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// TestInPlace: content hashed and served from a ReaderAt (a browser's
// File) has Import's root, is complete and read-only, and a leecher gets
// every byte from it.
func TestInPlace(t *testing.T) {
	data := randomContent(3<<20+1234, 41)
	src := &countingReader{r: bytes.NewReader(data)}
	sw, err := InPlace(src, int64(len(data)), store.Info{ChunkSize: 1024}, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _, err := Import(store.NewMemory(), bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: 1024}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sw.Info().SwarmID, ref.Info().SwarmID) {
		t.Fatalf("root %x, Import's %x", sw.Info().SwarmID, ref.Info().SwarmID)
	}
	n := (uint64(len(data)) + 1023) / 1024
	if sw.NumVerified() != n || !sw.Have(n-1) || sw.Have(n) {
		t.Fatalf("verified %d of %d", sw.NumVerified(), n)
	}
	if err := sw.WriteChunk(n, make([]byte, 10)); err == nil {
		t.Error("a write past the end succeeded")
	}
	if err := sw.PutHash(0, make([]byte, 20)); err == nil {
		t.Error("a different hash was accepted")
	}
	hashed := src.n.Load()

	a, b := startEngine(t, nil, nil), startEngine(t, nil, nil)
	s, err := a.e.Add(SwarmConfig{Store: sw})
	if err != nil {
		t.Fatal(err)
	}
	dst, out := leechSwarm(t, b, s.ID(), 1024, ModeLeech)
	if err := dst.Connect(a.conn.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	waitDone(t, dst, 30*time.Second)
	checkContent(t, out, data)
	if served := src.n.Load() - hashed; served < int64(len(data)) {
		t.Errorf("served %d bytes from the reader, less than the content", served)
	}
}

// TestInPlaceAddSharesTree: adding in-place content (a publisher's file,
// hashed in the tab) neither copies its tree nor collects its hashes on
// the way: for 256 MiB that cost 94 MiB of the tab's memory, for a tree
// of 10 MiB.
func TestInPlaceAddSharesTree(t *testing.T) {
	data := randomContent(16<<20, 43)
	sw, err := InPlace(bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: 1024}, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := startEngine(t, nil, nil)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	s, err := a.e.Add(SwarmConfig{Store: sw, Mode: ModePeer, SuperSeed: true})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&m1)
	if s.tree != sw.(*inPlace).tree {
		t.Error("the engine made its own tree of in-place content")
	}
	// The tree is 640 KiB here; bitsets and the swarm are a few KiB.
	if got := m1.TotalAlloc - m0.TotalAlloc; got > 256<<10 {
		t.Errorf("Add allocated %d bytes for in-place content of %d chunks", got, len(data)/1024)
	}
	if have, total := s.Progress(); have != total || total != uint64(len(data)/1024) {
		t.Errorf("the engine holds %d of %d chunks of complete content", have, total)
	}
}
