package blobstore

import (
	"errors"
	"fmt"

	"github.com/swarmgate/swarmgate/internal/store"
)

// handle is one Open of a swarm.
type handle struct {
	sw     *swarm
	closed bool // guarded by sw.mu
}

var (
	_ store.Swarm      = (*handle)(nil)
	_ store.HashReader = (*handle)(nil)
)

// lock locks the swarm unless the handle is closed.
func (h *handle) lock() (*swarm, error) {
	sw := h.sw
	sw.mu.Lock()
	if h.closed || sw.removed {
		sw.mu.Unlock()
		return nil, store.ErrClosed
	}
	return sw, nil
}

func (h *handle) Info() store.Info {
	h.sw.mu.Lock()
	defer h.sw.mu.Unlock()
	return h.sw.info.Clone()
}

func (h *handle) SetLength(n int64) error {
	sw, err := h.lock()
	if err != nil {
		return err
	}
	defer sw.mu.Unlock()
	if err := store.CheckLengthChange(sw.info.Length, n, sw.info.ChunkSize, sw.have.AnyFrom); err != nil {
		return err
	}
	if n != sw.info.Length {
		sw.info.Length = n
		sw.infoDirty = true
	}
	return nil
}

func (h *handle) NumVerified() uint64 {
	sw, err := h.lock()
	if err != nil {
		return 0
	}
	defer sw.mu.Unlock()
	return sw.have.Count()
}

func (h *handle) Have(c uint64) bool {
	sw, err := h.lock()
	if err != nil {
		return false
	}
	defer sw.mu.Unlock()
	return sw.have.Has(c)
}

func (h *handle) Verified() []store.Range {
	sw, err := h.lock()
	if err != nil {
		return nil
	}
	defer sw.mu.Unlock()
	rs := sw.have.Ranges()
	out := make([]store.Range, len(rs))
	for i, r := range rs {
		out[i] = store.Range{Start: r[0], End: r[1]}
	}
	return out
}

// chunkAt checks c against the length; mu is held.
func (sw *swarm) chunkAt(c uint64) (int, error) {
	if sw.info.Length < 0 {
		return 0, store.ErrLengthUnknown
	}
	n := sw.info.ChunkLen(c)
	if n == 0 {
		return 0, fmt.Errorf("%w: chunk %d of %d", store.ErrOutOfRange, c, sw.info.NumChunks())
	}
	return n, nil
}

func (h *handle) ReadChunk(c uint64, p []byte) (int, error) {
	sw, err := h.lock()
	if err != nil {
		return 0, err
	}
	defer sw.mu.Unlock()
	n, err := sw.chunkAt(c)
	if errors.Is(err, store.ErrLengthUnknown) || err == nil && !sw.have.Has(c) {
		return 0, fmt.Errorf("%w: chunk %d", store.ErrNotVerified, c)
	}
	if err != nil {
		return 0, err
	}
	if len(p) < n {
		return 0, fmt.Errorf("%w: buffer of %d bytes for chunk %d of %d", store.ErrSize, len(p), c, n)
	}
	b, err := sw.get(c/sw.blockN, false, false)
	if err != nil {
		return 0, err
	}
	if b == nil {
		return 0, errf("swarm %s: chunk %d is marked verified but its block is missing", sw.dir, c)
	}
	off := int(c%sw.blockN) * int(sw.info.ChunkSize)
	data := b.data[off : off+n]
	if !sw.proven.Has(c) && !sw.st.opt.TrustStored {
		ok, err := sw.prove(c, data)
		if err != nil {
			return 0, err
		}
		if !ok {
			sw.have.Remove(c)
			sw.haveDirty = true
			return 0, fmt.Errorf("%w: chunk %d of swarm %s (%w)", ErrCorrupt, c, sw.dir, store.ErrNotVerified)
		}
		sw.proven.Add(c)
	}
	return copy(p, data), nil
}

func (h *handle) WriteChunk(c uint64, p []byte) error {
	sw, err := h.lock()
	if err != nil {
		return err
	}
	n, err := sw.chunkAt(c)
	if err != nil {
		sw.mu.Unlock()
		return err
	}
	if len(p) != n {
		sw.mu.Unlock()
		return fmt.Errorf("%w: %d bytes for chunk %d of %d", store.ErrSize, len(p), c, n)
	}
	if sw.have.Has(c) {
		sw.mu.Unlock()
		return nil
	}
	if sw.werr != nil && sw.dirty >= 2*sw.st.opt.MaxDirty {
		err := sw.werr // storage refuses and memory is at its bound
		sw.mu.Unlock()
		return err
	}
	b, err := sw.get(c/sw.blockN, false, true)
	if err != nil {
		sw.mu.Unlock()
		return err
	}
	copy(b.data[int(c%sw.blockN)*int(sw.info.ChunkSize):], p)
	sw.touch(b)
	sw.have.Add(c)
	sw.proven.Add(c)
	sw.haveDirty = true
	over, full := sw.dirty >= sw.st.opt.MaxDirty, sw.dirty >= 2*sw.st.opt.MaxDirty
	sw.mu.Unlock()
	switch {
	case full:
		// Storage is slower than the network: write now, which holds the
		// caller (the engine) back to the speed of the storage rather
		// than letting memory grow.
		if err := sw.flush(); err != nil {
			return err
		}
	case over:
		select {
		case sw.st.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (h *handle) PutHash(bin uint64, hash []byte) error {
	return h.PutHashes([]uint64{bin}, hash)
}

func (h *handle) PutHashes(bins []uint64, hashes []byte) error {
	sw, err := h.lock()
	if err != nil {
		return err
	}
	defer sw.mu.Unlock()
	if len(hashes) != len(bins)*sw.hs {
		return fmt.Errorf("%w: %d bytes for %d hashes of %d", store.ErrSize, len(hashes), len(bins), sw.hs)
	}
	for _, b := range bins {
		if !sw.info.ValidBin(b) {
			return fmt.Errorf("%w: bin %d", store.ErrOutOfRange, b)
		}
	}
	for i, bin := range bins {
		if sw.nodes.Has(bin) {
			continue
		}
		g, err := sw.get(bin/GroupBins, true, true)
		if err != nil {
			return err
		}
		copy(g.data[int(bin%GroupBins)*sw.hs:], hashes[i*sw.hs:(i+1)*sw.hs])
		sw.touch(g)
		sw.nodes.Add(bin)
		sw.nodeDirty = true
	}
	return nil
}

func (h *handle) Hash(bin uint64) ([]byte, error) {
	sw, err := h.lock()
	if err != nil {
		return nil, err
	}
	defer sw.mu.Unlock()
	return sw.hashLocked(bin)
}

// ReadHashes implements store.HashReader.
func (h *handle) ReadHashes(first uint64, dst []byte, known []uint64) error {
	sw, err := h.lock()
	if err != nil {
		return err
	}
	defer sw.mu.Unlock()
	n := uint64(len(dst) / sw.hs)
	if uint64(len(known))*64 < n {
		return fmt.Errorf("blobstore: read hashes: known has %d words for %d bins", len(known), n)
	}
	clear(known)
	var g *blob
	gk := ^uint64(0)
	for k := uint64(0); k < n; k++ {
		bin := first + k
		if !sw.nodes.Has(bin) {
			continue
		}
		if bin/GroupBins != gk {
			gk = bin / GroupBins
			if g, err = sw.get(gk, true, false); err != nil {
				return err
			}
		}
		if g == nil {
			return errf("swarm %s: hash group of bin %d is missing", sw.dir, bin)
		}
		off := int(bin%GroupBins) * sw.hs
		copy(dst[k*uint64(sw.hs):], g.data[off:off+sw.hs])
		known[k/64] |= 1 << (k % 64)
	}
	return nil
}

// Hashes calls fn with every stored hash in ascending bin order, a group
// at a time, outside the lock.
func (h *handle) Hashes(fn func(bin uint64, hash []byte)) error {
	sw, err := h.lock()
	if err != nil {
		return err
	}
	var bins []uint64
	sw.nodes.Each(func(b uint64) bool { bins = append(bins, b); return true })
	sw.mu.Unlock()
	for len(bins) > 0 {
		k := 0
		for k < len(bins) && bins[k]/GroupBins == bins[0]/GroupBins {
			k++
		}
		sw, err := h.lock()
		if err != nil {
			return err
		}
		out := make([][]byte, k)
		for i := range k {
			if out[i], err = sw.hashLocked(bins[i]); err != nil {
				sw.mu.Unlock()
				return err
			}
		}
		sw.mu.Unlock()
		for i := range k {
			fn(bins[i], out[i])
		}
		bins = bins[k:]
	}
	return nil
}

func (h *handle) Flush() error {
	sw, err := h.lock()
	if err != nil {
		return err
	}
	sw.mu.Unlock()
	return sw.flush()
}

func (h *handle) Close() error {
	sw := h.sw
	sw.mu.Lock()
	if h.closed {
		sw.mu.Unlock()
		return nil
	}
	h.closed = true
	sw.refs--
	last := sw.refs == 0
	removed := sw.removed
	sw.mu.Unlock()
	if removed {
		return nil
	}
	if last {
		return sw.st.release(sw)
	}
	return sw.flush()
}
