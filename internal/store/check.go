package store

import "fmt"

// CheckRead validates a ReadChunk call's arguments against info: ErrOutOfRange,
// ErrSize for a buffer shorter than the chunk, ErrNotVerified while the
// length is unknown. Whether the chunk is verified is the caller's check.
func CheckRead(info Info, c uint64, p []byte) error {
	n := info.NumChunks()
	if n < 0 {
		return fmt.Errorf("store: read chunk %d of swarm %s: %w", c, ShortID(info.SwarmID), ErrNotVerified)
	}
	if c >= uint64(n) {
		return fmt.Errorf("store: read chunk %d of swarm %s (%d chunks): %w", c, ShortID(info.SwarmID), n, ErrOutOfRange)
	}
	if want := info.ChunkLen(c); len(p) < want {
		return fmt.Errorf("store: read chunk %d of swarm %s: buffer of %d bytes, want %d: %w", c, ShortID(info.SwarmID), len(p), want, ErrSize)
	}
	return nil
}

// CheckWrite validates a WriteChunk call's arguments against info.
func CheckWrite(info Info, c uint64, p []byte) error {
	n := info.NumChunks()
	if n < 0 {
		return fmt.Errorf("store: write chunk %d of swarm %s: %w", c, ShortID(info.SwarmID), ErrLengthUnknown)
	}
	if c >= uint64(n) {
		return fmt.Errorf("store: write chunk %d of swarm %s (%d chunks): %w", c, ShortID(info.SwarmID), n, ErrOutOfRange)
	}
	if want := info.ChunkLen(c); len(p) != want {
		return fmt.Errorf("store: write chunk %d of swarm %s: %d bytes, want %d: %w", c, ShortID(info.SwarmID), len(p), want, ErrSize)
	}
	return nil
}

// CheckHashes validates a PutHashes call's arguments against info.
func CheckHashes(info Info, bins []uint64, hashes []byte) error {
	hs := HashSize(info.HashFunc)
	if len(hashes) != len(bins)*hs {
		return fmt.Errorf("store: put hashes of swarm %s: %d bytes for %d bins of %d-byte hashes: %w", ShortID(info.SwarmID), len(hashes), len(bins), hs, ErrSize)
	}
	for _, b := range bins {
		if !info.ValidBin(b) {
			return fmt.Errorf("store: put hash of swarm %s: bin %d beyond the tree of %d chunks: %w", ShortID(info.SwarmID), b, info.NumChunks(), ErrOutOfRange)
		}
	}
	return nil
}
