package sqlitestore

import (
	"fmt"
	"os"
	"slices"

	"github.com/swarmgate/swarmgate/internal/store"
)

// Content write buffering: WriteChunk copies chunks smaller than
// directWrite into the swarm's active buffer of writeBufSize. When it is
// full it becomes the flushing buffer, written to the content file by a
// background goroutine (one pwrite per run of consecutive chunks) while
// WriteChunk fills the other; checkpoints write both synchronously. The
// caller of WriteChunk so pays a memcpy, not the kernel's page-cache work,
// and waits only when both buffers are full.
const (
	writeBufSize = 128 << 10
	directWrite  = 32 << 10
)

// wentry locates a buffered chunk in chunkBuf.buf.
type wentry struct{ off, n int }

// chunkBuf holds chunks not yet in the content file.
type chunkBuf struct {
	buf    []byte
	chunks map[uint64]wentry
}

func (b *chunkBuf) len() int { return len(b.chunks) }

func (b *chunkBuf) get(c uint64) ([]byte, bool) {
	e, ok := b.chunks[c]
	if !ok {
		return nil, false
	}
	return b.buf[e.off : e.off+e.n], true
}

func (b *chunkBuf) fits(n int) bool { return len(b.buf)+n <= writeBufSize }

func (b *chunkBuf) add(c uint64, p []byte) {
	if b.buf == nil {
		b.buf = make([]byte, 0, writeBufSize)
	}
	if b.chunks == nil {
		b.chunks = make(map[uint64]wentry)
	}
	b.chunks[c] = wentry{len(b.buf), len(p)}
	b.buf = append(b.buf, p...)
}

func (b *chunkBuf) reset() {
	clear(b.chunks)
	b.buf = b.buf[:0]
}

// writeTo writes the buffered chunks to f, coalescing runs of consecutive
// chunks into one WriteAt each. It only reads b. scratch is reused for
// assembling runs and returned for the next call.
func (b *chunkBuf) writeTo(f *os.File, chunkSize int64, scratch []byte) ([]byte, error) {
	cs := make([]uint64, 0, len(b.chunks))
	for c := range b.chunks {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	run := scratch[:0]
	var start uint64
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		_, err := f.WriteAt(run, int64(start)*chunkSize)
		run = run[:0]
		return err
	}
	for k, c := range cs {
		if k == 0 || c != cs[k-1]+1 {
			if err := flush(); err != nil {
				return run, err
			}
			start = c
		}
		e := b.chunks[c]
		run = append(run, b.buf[e.off:e.off+e.n]...)
	}
	return run, flush()
}

// readBuffered copies chunk c into p if it is still buffered.
func (sw *swarm) readBufferedLocked(c uint64, p []byte) (int, bool) {
	if v, ok := sw.wb.get(c); ok {
		return copy(p, v), true
	}
	if v, ok := sw.fb.get(c); ok {
		return copy(p, v), true
	}
	return 0, false
}

// waitWriterLocked waits until no background write is in flight.
func (sw *swarm) waitWriterLocked() {
	for sw.writing {
		sw.wdone.Wait()
	}
}

// bufferLocked adds chunk c to the active buffer, handing a full one to the
// background writer first. It returns the error of a failed background
// write if writing the buffers again fails too.
func (sw *swarm) bufferLocked(c uint64, p []byte) error {
	if sw.werr != nil {
		if err := sw.flushWritesLocked(); err != nil {
			return err
		}
	}
	if !sw.wb.fits(len(p)) {
		sw.waitWriterLocked()
		if sw.closed {
			return store.ErrClosed
		}
		if sw.werr != nil || sw.fb.len() > 0 {
			if err := sw.flushWritesLocked(); err != nil {
				return err
			}
		} else {
			sw.wb, sw.fb = sw.fb, sw.wb
			sw.writing = true
			go sw.writeBack(sw.content, int64(sw.info.ChunkSize))
		}
	}
	sw.wb.add(c, p)
	return nil
}

// writeBack writes the flushing buffer in the background.
func (sw *swarm) writeBack(f *os.File, chunkSize int64) {
	scratch, err := sw.fb.writeTo(f, chunkSize, sw.scratch)
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.scratch = scratch[:0]
	sw.writing = false
	if err != nil {
		sw.werr = fmt.Errorf("sqlitestore: swarm %s: write buffered chunks: %w", sw.name, fileErr(err))
	} else {
		sw.fb.reset()
	}
	sw.wdone.Broadcast()
}

// flushWritesLocked writes both buffers to the content file synchronously,
// after any background write. On error the chunks stay buffered, to be
// written again later.
func (sw *swarm) flushWritesLocked() error {
	sw.waitWriterLocked()
	if sw.closed {
		return store.ErrClosed
	}
	chunkSize := int64(sw.info.ChunkSize)
	for _, b := range []*chunkBuf{&sw.fb, &sw.wb} {
		if b.len() == 0 {
			continue
		}
		scratch, err := b.writeTo(sw.content, chunkSize, sw.scratch)
		sw.scratch = scratch[:0]
		if err != nil {
			sw.werr = fmt.Errorf("sqlitestore: swarm %s: write buffered chunks: %w", sw.name, fileErr(err))
			return sw.werr
		}
		b.reset()
	}
	sw.werr = nil
	return nil
}
