package stream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/store"
)

// engine is the swarm side a Reader talks to: it records playheads.
type engine struct {
	mu    sync.Mutex
	heads []uint64
	n     int64
	done  chan struct{}
}

func (e *engine) Length() (int64, bool) { return e.n, e.n > 0 }
func (e *engine) SetPlayhead(c uint64) {
	e.mu.Lock()
	e.heads = append(e.heads, c)
	e.mu.Unlock()
}
func (e *engine) Done() <-chan struct{} { return e.done }
func (e *engine) Forget(uint64) bool    { return false }

func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/1024)
	}
	return b
}

// TestReaderWaitsForVerifiedChunks: a Read blocks until its chunk is
// stored, returns what is stored without waiting for more, seeks move the
// playhead, and a chunk that never comes fails with ErrStalled.
func TestReaderWaitsForVerifiedChunks(t *testing.T) {
	data := content(10*1024 + 100)
	raw, err := store.NewMemory().Open(store.Info{SwarmID: bytes.Repeat([]byte{1}, 20), ChunkSize: 1024, Length: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	sw := Wrap(raw)
	e := &engine{n: int64(len(data)), done: make(chan struct{})}
	ctx := context.Background()
	n, err := WaitLength(ctx, sw, e, time.Second)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("WaitLength %d %v", n, err)
	}
	r := NewReader(ctx, sw, e, n, 2*time.Second)
	write := func(c int) {
		end := min((c+1)*1024, len(data))
		if err := sw.WriteChunk(uint64(c), data[c*1024:end]); err != nil {
			t.Error(err)
		}
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		write(0)
		write(1)
	}()
	buf := make([]byte, 8192)
	k, err := r.Read(buf)
	if err != nil || k != 2048 || !bytes.Equal(buf[:k], data[:2048]) {
		t.Fatalf("first Read: %d bytes, %v; want the two stored chunks", k, err)
	}
	if _, err := r.Seek(9*1024+50, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	write(9)
	write(10)
	rest, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(rest, data[9*1024+50:]) {
		t.Fatalf("after seek: %d bytes, %v", len(rest), err)
	}
	e.mu.Lock()
	heads := append([]uint64(nil), e.heads...)
	e.mu.Unlock()
	if len(heads) == 0 || heads[0] != 0 || !contains(heads, 9) {
		t.Errorf("playheads %v, want 0 then 9", heads)
	}
	r2 := NewReader(ctx, sw, e, n, 100*time.Millisecond)
	r2.Seek(5*1024, io.SeekStart)
	if _, err := r2.Read(buf); !errors.Is(err, ErrStalled) {
		t.Fatalf("missing chunk: %v, want ErrStalled", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	r3 := NewReader(cctx, sw, e, n, time.Minute)
	r3.Seek(5*1024, io.SeekStart)
	if _, err := r3.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

func contains(s []uint64, v uint64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
