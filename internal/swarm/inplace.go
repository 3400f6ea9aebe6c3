package swarm

import (
	"errors"
	"fmt"
	"io"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/store"
)

// InPlace hashes the content of r (length bytes) and returns it as a
// complete, read-only store.Swarm that serves chunks from r itself: what
// a source publishing a file it does not own a copy of needs (a phone's
// video, read in slices through the browser's File; nothing is copied,
// only the tree, 2 hashes per chunk, is held). info gives the chunk size
// and hash function; SwarmID and Length are filled in. Writes of chunks
// and hashes are accepted as no-ops when they match what is held.
func InPlace(r io.ReaderAt, length int64, info store.Info, workers int) (store.Swarm, error) {
	if info.ChunkSize == 0 {
		info.ChunkSize = merkle.DefaultChunkSize
	}
	tree, err := merkle.Build(r, length, merkle.Options{HashFunc: merkle.HashFunc(info.HashFunc), ChunkSize: int(info.ChunkSize)}, workers)
	if err != nil {
		return nil, err
	}
	info.SwarmID, info.Length = tree.Root(), length
	return &inPlace{info: info, r: r, tree: tree, n: tree.NumChunks()}, nil
}

type inPlace struct {
	info store.Info
	r    io.ReaderAt
	tree *merkle.Tree
	n    uint64
}

var errReadOnly = errors.New("swarm: in-place content is read-only")

func (p *inPlace) Info() store.Info { return p.info }

func (p *inPlace) SetLength(n int64) error {
	if n != p.info.Length {
		return store.ErrLengthChange
	}
	return nil
}

func (p *inPlace) NumVerified() uint64    { return p.n }
func (p *inPlace) Have(chunk uint64) bool { return chunk < p.n }
func (p *inPlace) Verified() []store.Range {
	if p.n == 0 {
		return nil
	}
	return []store.Range{{Start: 0, End: p.n - 1}}
}

func (p *inPlace) ReadChunk(chunk uint64, b []byte) (int, error) {
	if chunk >= p.n {
		return 0, store.ErrNotVerified
	}
	k := p.tree.ChunkLen(chunk)
	if len(b) < k {
		return 0, store.ErrSize
	}
	n, err := p.r.ReadAt(b[:k], int64(chunk)*int64(p.info.ChunkSize))
	if n == k {
		return k, nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return 0, fmt.Errorf("swarm: read chunk %d in place: %w", chunk, err)
}

func (p *inPlace) WriteChunk(chunk uint64, b []byte) error {
	if chunk < p.n {
		return nil // verified already: a no-op, as for any store
	}
	return errReadOnly
}

func (p *inPlace) PutHash(bin uint64, hash []byte) error {
	if h := p.tree.Hash(merkle.Bin(bin)); h != nil && string(h) == string(hash) {
		return nil
	}
	return errReadOnly
}

func (p *inPlace) PutHashes(bins []uint64, hashes []byte) error {
	hs := p.tree.HashFunc().Size()
	if len(hashes) != len(bins)*hs {
		return store.ErrSize
	}
	for i, b := range bins {
		if err := p.PutHash(b, hashes[i*hs:(i+1)*hs]); err != nil {
			return err
		}
	}
	return nil
}

func (p *inPlace) Hash(bin uint64) ([]byte, error) {
	if h := p.tree.Hash(merkle.Bin(bin)); h != nil {
		return h, nil
	}
	return nil, store.ErrNotFound
}

// Hashes lists every node over the content, as Import stores them.
func (p *inPlace) Hashes(fn func(bin uint64, hash []byte)) error {
	for b := merkle.Bin(0); b <= 2*p.tree.RootBin(); b++ {
		if f, _ := b.Base(); f >= p.n {
			continue
		}
		if h := p.tree.Hash(b); h != nil {
			fn(uint64(b), h)
		}
	}
	return nil
}

func (p *inPlace) Flush() error { return nil }
func (p *inPlace) Close() error { return nil }
