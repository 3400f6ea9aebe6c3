package merkle

import (
	"bytes"
	"fmt"
)

// Verify checks chunks against the verified part of the tree (RFC 7574
// §5.5), using the unverified hashes in cands (INTEGRITY messages from the
// same sender) as uncles. Chunks sent together may vouch for each other: the
// hash of a subtree is computed from the chunks given when they cover it.
//
// It calls result once per chunk, in order, with nil when the chunk verified
// (its hash and every uncle used are then known), ErrMissingHash when an
// uncle is missing (the chunk is neither good nor bad yet), ErrMismatch when
// it hashed to something else than a verified node (the sender lied), or
// ErrOutOfRange / ErrNoSize. It appends to newly the bins that became known,
// for persisting, and returns it.
func (t *Tree) Verify(cands []Node, chunks []Chunk, newly []Bin, result func(i int, err error)) []Bin {
	if t.nchunks == 0 {
		for i := range chunks {
			result(i, ErrNoSize)
		}
		return newly
	}
	t.resetWork()
	for _, c := range cands {
		if len(c.Hash) != t.hs || !t.inTree(c.Bin) || t.Known(c.Bin) {
			continue
		}
		t.stage(c.Bin, c.Hash)
	}
	if need := len(chunks) * t.hs; cap(t.leafBuf) < need {
		t.leafBuf = make([]byte, need)
	}
	leaves := t.leafBuf[:len(chunks)*t.hs]
	var okBuf [64]bool
	leafOK := okBuf[:0]
	if len(chunks) <= len(okBuf) {
		leafOK = okBuf[:len(chunks)]
	} else {
		leafOK = make([]bool, len(chunks))
	}
	for i, c := range chunks {
		if err := t.checkChunk(c); err != nil {
			leafOK[i] = false
			continue
		}
		leafOK[i] = true
		h := leaves[i*t.hs : (i+1)*t.hs]
		t.hf.sum(h, c.Data)
		if b := ChunkBin(c.Index); !t.Known(b) {
			t.stage(b, h)
		}
	}
	for i, c := range chunks {
		if !leafOK[i] {
			result(i, t.checkChunk(c))
			continue
		}
		var err error
		newly, err = t.verifyLeaf(ChunkBin(c.Index), leaves[i*t.hs:(i+1)*t.hs], newly)
		if err == nil && c.Index == t.nchunks-1 {
			t.length = int64(c.Index)*int64(t.cs) + int64(len(c.Data))
		}
		result(i, err)
	}
	return newly
}

func (t *Tree) checkChunk(c Chunk) error {
	if c.Index >= t.nchunks {
		return fmt.Errorf("%w: chunk %d of %d", ErrOutOfRange, c.Index, t.nchunks)
	}
	n := len(c.Data)
	if c.Index == t.nchunks-1 {
		if n == 0 || n > t.cs || (t.length >= 0 && n != t.ChunkLen(c.Index)) {
			return fmt.Errorf("%w: last chunk %d has %d bytes", ErrMismatch, c.Index, n)
		}
	} else if n != t.cs {
		return fmt.Errorf("%w: chunk %d has %d bytes, want %d", ErrMismatch, c.Index, n, t.cs)
	}
	return nil
}

// Staged hashes live in a small slice searched linearly (a datagram stages a
// few dozen), moving to a map only when there are many.
const stageLinear = 48

func (t *Tree) resetWork() {
	t.workBins = t.workBins[:0]
	t.workOffs = t.workOffs[:0]
	if len(t.work) > 0 {
		clear(t.work)
	}
	t.arena = t.arena[:0]
}

// stage records an unverified hash for the current Verify call.
func (t *Tree) stage(b Bin, h []byte) {
	if t.stagedOff(b) >= 0 {
		return
	}
	off := len(t.arena)
	t.arena = append(t.arena, h...)
	if len(t.workBins) < stageLinear {
		t.workBins = append(t.workBins, b)
		t.workOffs = append(t.workOffs, off)
		return
	}
	t.work[b] = off
}

func (t *Tree) stagedOff(b Bin) int {
	for i, x := range t.workBins {
		if x == b {
			return t.workOffs[i]
		}
	}
	if len(t.work) > 0 {
		if o, ok := t.work[b]; ok {
			return o
		}
	}
	return -1
}

func (t *Tree) staged(b Bin) []byte {
	o := t.stagedOff(b)
	if o < 0 {
		return nil
	}
	return t.arena[o : o+t.hs : o+t.hs]
}

// resolve returns the hash of b: verified, staged, or computed from staged
// children. Empty nodes past the end are zero.
func (t *Tree) resolve(b Bin, depth int) []byte {
	if t.Known(b) {
		return t.node(b)
	}
	if h := t.staged(b); h != nil {
		return h
	}
	if b.Layer() == 0 || depth > 64 {
		return nil
	}
	l := t.resolve(b.Left(), depth+1)
	if l == nil {
		return nil
	}
	r := t.resolve(b.Right(), depth+1)
	if r == nil {
		return nil
	}
	var h [maxHashSize]byte
	t.hf.sum2(h[:t.hs], l, r)
	t.stage(b, h[:t.hs])
	return t.staged(b)
}

// level is one step of a verification path: a node and its uncle.
type level struct {
	node, uncle Bin
	nh, uh      [maxHashSize]byte
}

// verifyLeaf walks from leaf b, whose hash is leaf, up to the first verified node, hashing with
// uncles, and on a match marks the path and its uncles known.
func (t *Tree) verifyLeaf(b Bin, leaf []byte, newly []Bin) ([]Bin, error) {
	var cur [maxHashSize]byte
	copy(cur[:], leaf)
	if t.Known(b) {
		if !bytes.Equal(t.node(b), cur[:t.hs]) {
			return newly, fmt.Errorf("%w: chunk %d", ErrMismatch, uint64(b)/2)
		}
		return newly, nil
	}
	var path [64]level
	n := 0
	for !t.Known(b) {
		if b == t.rootBin || n == len(path) {
			return newly, fmt.Errorf("%w: no verified ancestor", ErrMismatch)
		}
		sib := b.Sibling()
		sh := t.resolve(sib, 0)
		if sh == nil {
			return newly, fmt.Errorf("%w: chunk %d needs %v", ErrMissingHash, uint64(b)/2, sib)
		}
		lv := &path[n]
		n++
		lv.node, lv.uncle = b, sib
		lv.nh = cur
		copy(lv.uh[:], sh)
		if b.IsLeft() {
			t.hf.sum2(cur[:t.hs], lv.nh[:t.hs], lv.uh[:t.hs])
		} else {
			t.hf.sum2(cur[:t.hs], lv.uh[:t.hs], lv.nh[:t.hs])
		}
		b = b.Parent()
	}
	if !bytes.Equal(t.node(b), cur[:t.hs]) {
		return newly, fmt.Errorf("%w: chunk %d does not hash to %v", ErrMismatch, uint64(path[0].node)/2, b)
	}
	for i := 0; i < n; i++ {
		lv := &path[i]
		t.setKnown(lv.node, lv.nh[:t.hs])
		newly = append(newly, lv.node)
		if !t.empty(lv.uncle) && !t.Known(lv.uncle) {
			t.setKnown(lv.uncle, lv.uh[:t.hs])
			newly = append(newly, lv.uncle)
		}
	}
	return newly, nil
}
