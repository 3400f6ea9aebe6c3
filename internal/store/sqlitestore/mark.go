package sqlitestore

import (
	"fmt"
	"io"

	"github.com/swarmgate/swarmgate/internal/store"
)

// MarkVerified records chunks first..last (inclusive) as verified without
// rewriting them: the caller asserts that the content file at Info.Path
// already holds their verified bytes, as a seeder does after hashing its
// file in place. The file must be long enough to hold them (else an error
// wrapping io.ErrUnexpectedEOF); like any chunk, they are committed only
// after the next checkpoint has fdatasync'ed the file.
//
// It is not part of store.Swarm (a store without content files cannot
// offer it); callers find it with a type assertion.
func (h *handle) MarkVerified(first, last uint64) error {
	sw, err := h.lockWrite()
	if err != nil {
		return err
	}
	defer sw.mu.Unlock()
	info := sw.info
	n := info.NumChunks()
	switch {
	case n < 0:
		return fmt.Errorf("sqlitestore: mark chunks %d-%d of swarm %s verified: %w", first, last, sw.name, store.ErrLengthUnknown)
	case first > last || last >= uint64(n):
		return fmt.Errorf("sqlitestore: mark chunks %d-%d of swarm %s (%d chunks) verified: %w", first, last, sw.name, n, store.ErrOutOfRange)
	}
	fi, err := sw.content.Stat()
	if err != nil {
		return fmt.Errorf("sqlitestore: mark chunks of swarm %s verified: %w", sw.name, fileErr(err))
	}
	if end := int64(last)*int64(info.ChunkSize) + int64(info.ChunkLen(last)); fi.Size() < end {
		return fmt.Errorf("sqlitestore: mark chunks %d-%d of swarm %s verified: %s has %d bytes, want %d: %w",
			first, last, sw.name, info.Path, fi.Size(), end, io.ErrUnexpectedEOF)
	}
	for c := first; ; c++ {
		sw.chunks.Add(c)
		if c == last {
			break
		}
	}
	return nil
}
