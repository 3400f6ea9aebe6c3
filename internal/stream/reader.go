package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/swarmgate/swarmgate/internal/store"
)

// ErrStalled means a chunk or the content's size did not verify in time.
var ErrStalled = errors.New("stream: no peer delivered the content in time")

// Engine is the part of a *swarm.Swarm a reader needs.
type Engine interface {
	Length() (int64, bool)
	SetPlayhead(chunk uint64)
	Done() <-chan struct{}
	// Forget drops a chunk the store could not read back verified, so it
	// is fetched again; false when it will not be.
	Forget(chunk uint64) bool
}

// WaitLength waits until the content's length is proved (the peak hashes
// verified), at most timeout, and returns it.
func WaitLength(ctx context.Context, sw *Swarm, e Engine, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ch := sw.Changed()
		if n, ok := e.Length(); ok {
			return n, nil
		}
		select {
		case <-ch:
		case <-e.Done():
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return 0, ErrStalled
			}
			return 0, ctx.Err()
		}
	}
}

// Reader reads verified content as an io.ReadSeeker: each Read waits for
// its chunk to verify, moving the swarm's playhead to it first, and hands
// over what is verified without waiting for more. Only bytes of verified
// chunks (store.Swarm.ReadChunk refuses others) reach the caller.
type Reader struct {
	ctx     context.Context
	sw      *Swarm
	e       Engine
	timeout time.Duration
	size    int64
	cs      int64
	off     int64
	buf     []byte
	bufIdx  int64 // chunk in buf, -1 none
	bufLen  int
	// OnRead, when set, is told how many bytes each Read returned.
	OnRead func(n int)
}

// NewReader reads content of size bytes (from WaitLength); a chunk that
// does not verify within timeout fails the Read with ErrStalled.
func NewReader(ctx context.Context, sw *Swarm, e Engine, size int64, timeout time.Duration) *Reader {
	cs := int64(sw.Info().ChunkSize)
	return &Reader{ctx: ctx, sw: sw, e: e, timeout: timeout, size: size, cs: cs, buf: make([]byte, cs), bufIdx: -1}
}

// Seek implements io.Seeker; seeking moves the playhead.
func (r *Reader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.off
	case io.SeekEnd:
		off += r.size
	default:
		return 0, errors.New("stream: seek: bad whence")
	}
	if off < 0 {
		return 0, errors.New("stream: seek: negative offset")
	}
	r.off = off
	if off < r.size {
		r.e.SetPlayhead(uint64(off / r.cs))
	}
	return off, nil
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.off < r.size {
		c := r.off / r.cs
		if c != r.bufIdx {
			if err := r.load(c, n == 0); err != nil {
				if n > 0 && errors.Is(err, errNotYet) {
					break // hand over what is verified; the next Read waits
				}
				return n, err
			}
		}
		k := copy(p[n:], r.buf[r.off-c*r.cs:r.bufLen])
		n += k
		r.off += int64(k)
	}
	if n == 0 && r.off >= r.size {
		return 0, io.EOF
	}
	if r.OnRead != nil {
		r.OnRead(n)
	}
	return n, nil
}

var errNotYet = errors.New("stream: chunk not verified yet")

// load reads chunk c into buf, waiting for it when wait is set. A chunk
// the store holds but cannot read back verified (damaged storage) is
// forgotten by the engine and waited for again, once: no byte of it is
// handed over.
func (r *Reader) load(c int64, wait bool) error {
	var deadline <-chan time.Time
	refetched := false
	for {
		ch := r.sw.Changed()
		if !r.sw.Have(uint64(c)) {
			if !wait {
				return errNotYet
			}
			r.e.SetPlayhead(uint64(c))
			if deadline == nil {
				t := time.NewTimer(r.timeout)
				defer t.Stop()
				deadline = t.C
			}
			select {
			case <-ch:
			case <-deadline:
				return fmt.Errorf("%w (chunk %d)", ErrStalled, c)
			case <-r.ctx.Done():
				return r.ctx.Err()
			}
			continue
		}
		k, err := r.sw.ReadChunk(uint64(c), r.buf)
		if errors.Is(err, store.ErrNotVerified) && !refetched && r.e.Forget(uint64(c)) {
			refetched = true
			if !wait {
				return errNotYet
			}
			continue
		}
		if err != nil {
			return err
		}
		r.bufIdx, r.bufLen = c, k
		return nil
	}
}
