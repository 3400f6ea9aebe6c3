package swarm

import (
	"fmt"
	"io"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/store"
)

// verifiedMarker is implemented by stores that can mark content already in
// place as verified without rewriting it.
type verifiedMarker interface {
	MarkVerified(first, last uint64) error
}

// Import hashes content of length bytes from r, the bytes already at
// info.Path, and records it in st as complete and verified: how a seeder
// starts. info gives the path, name, chunk size and hash function; its
// SwarmID and Length are filled in. workers is the hashing parallelism
// (0: all cores).
func Import(st store.Store, r io.ReaderAt, length int64, info store.Info, workers int) (store.Swarm, *merkle.Tree, error) {
	tree, err := merkle.Build(r, length, merkle.Options{HashFunc: merkle.HashFunc(info.HashFunc), ChunkSize: int(info.ChunkSize)}, workers)
	if err != nil {
		return nil, nil, err
	}
	info.SwarmID = tree.Root()
	info.Length = length
	if info.ChunkSize == 0 {
		info.ChunkSize = merkle.DefaultChunkSize
	}
	sw, err := st.Open(info)
	if err != nil {
		return nil, nil, err
	}
	n := tree.NumChunks()
	if sw.NumVerified() == n {
		return sw, tree, nil
	}
	fail := func(err error) (store.Swarm, *merkle.Tree, error) {
		sw.Close()
		return nil, nil, err
	}
	// Every non-empty node, in batches.
	hs := tree.HashFunc().Size()
	var bins []uint64
	var hashes []byte
	for b := merkle.Bin(0); b <= 2*tree.RootBin(); b++ {
		if f, _ := b.Base(); f >= n {
			continue
		}
		bins = append(bins, uint64(b))
		hashes = append(hashes, tree.Hash(b)[:hs]...)
		if len(bins) == 8192 {
			if err := sw.PutHashes(bins, hashes); err != nil {
				return fail(err)
			}
			bins, hashes = bins[:0], hashes[:0]
		}
	}
	if err := sw.PutHashes(bins, hashes); err != nil {
		return fail(err)
	}
	if m, ok := sw.(verifiedMarker); ok {
		if err := m.MarkVerified(0, n-1); err != nil {
			return fail(err)
		}
	} else {
		buf := make([]byte, tree.ChunkSize())
		for c := uint64(0); c < n; c++ {
			k := tree.ChunkLen(c)
			if _, err := r.ReadAt(buf[:k], int64(c)*int64(tree.ChunkSize())); err != nil && err != io.EOF {
				return fail(fmt.Errorf("swarm: import: %w", err))
			}
			if err := sw.WriteChunk(c, buf[:k]); err != nil {
				return fail(err)
			}
		}
	}
	if err := sw.Flush(); err != nil {
		return fail(err)
	}
	return sw, tree, nil
}
