package merkle

import (
	"bytes"
	"errors"
	"fmt"
)

// Options select the hash function and chunk size of a tree.
type Options struct {
	// HashFunc is the Merkle hash function. Default SHA1.
	HashFunc HashFunc
	// ChunkSize is the chunk size in bytes, a power of two from 1 KiB to
	// 1 MiB. Default 1024.
	ChunkSize int
	// Nodes, if set, holds the tree's verified hashes (a store's hash-tree
	// file): the tree reads them on demand through Cache and writes each
	// hash it verifies through to Nodes at once, so its memory does not
	// grow with the content. Default: one flat in-memory array (40 MB per
	// GiB of 1 KiB chunks with SHA-1), what Build uses.
	Nodes NodeStore
	// Cache bounds the memory of trees with Nodes; share one per process.
	// Default: a cache of DefaultCacheBytes for this tree alone.
	Cache *NodeCache
}

// DefaultChunkSize is the RECOMMENDED chunk size of RFC 7574 §3.
const DefaultChunkSize = 1024

// Limits of the chunk size.
const (
	MinChunkSize = 1 << 10
	MaxChunkSize = 1 << 20
)

func (o Options) withDefaults() (Options, error) {
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if !o.HashFunc.Valid() {
		return o, fmt.Errorf("merkle: unknown hash function %d", o.HashFunc)
	}
	if err := CheckChunkSize(o.ChunkSize); err != nil {
		return o, err
	}
	return o, nil
}

// CheckChunkSize reports whether cs is a power of two from 1 KiB to 1 MiB.
func CheckChunkSize(cs int) error {
	if cs < MinChunkSize || cs > MaxChunkSize || cs&(cs-1) != 0 {
		return fmt.Errorf("merkle: chunk size %d is not a power of two from %d to %d", cs, MinChunkSize, MaxChunkSize)
	}
	return nil
}

// Errors of verification.
var (
	// ErrMismatch means a chunk or hash did not hash up to a verified node:
	// whoever sent it lied or corrupted it.
	ErrMismatch = errors.New("merkle: hash mismatch")
	// ErrMissingHash means a chunk cannot be verified yet: an uncle hash
	// needed for it is not known.
	ErrMissingHash = errors.New("merkle: uncle hash missing")
	// ErrNoSize means the peak hashes have not been verified yet.
	ErrNoSize = errors.New("merkle: content size unknown (no peak hashes yet)")
	// ErrOutOfRange means a chunk or bin lies outside the content.
	ErrOutOfRange = errors.New("merkle: out of range")
	// ErrBadPeaks means peak hashes do not describe a valid content size.
	ErrBadPeaks = errors.New("merkle: invalid peak set")
)

// zeroHash is the hash of an empty node past the end of the content.
var zeroHash [maxHashSize]byte

// Node is a bin with its hash.
type Node struct {
	Bin  Bin
	Hash []byte
}

// Chunk is a chunk index with its bytes.
type Chunk struct {
	Index uint64
	Data  []byte
}

// Tree is the hash tree of one piece of static content. A seeder builds it
// from the content; a downloader starts from the root hash alone, learns the
// size from the peak hashes and fills it in as chunks verify.
type Tree struct {
	hf      HashFunc
	hs      int
	cs      int
	root    []byte
	nchunks uint64 // 0 until the peaks are verified
	length  int64  // -1 until the last chunk is verified
	rootBin Bin
	nodes   []byte   // hs bytes per bin, indexed by bin number (flat form)
	known   []uint64 // bitset over bins: the hash is verified (flat form)
	pg      *paged   // the paged form over Options.Nodes, or nil

	// scratch for Verify, reused to avoid allocation.
	work      map[Bin]int
	workBins  []Bin
	leafBuf   []byte
	workOffs  []int
	segChunks uint64
	arena     []byte
}

// New returns the tree of content whose root hash is root, with the size yet
// unknown: SetPeaks or Restore learns it.
func New(root []byte, o Options) (*Tree, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(root) != o.HashFunc.Size() {
		return nil, fmt.Errorf("merkle: root hash is %d bytes, %s needs %d", len(root), o.HashFunc, o.HashFunc.Size())
	}
	t := &Tree{
		hf:     o.HashFunc,
		hs:     o.HashFunc.Size(),
		cs:     o.ChunkSize,
		root:   bytes.Clone(root),
		length: -1,
		work:   make(map[Bin]int),
	}
	if o.Nodes != nil {
		t.pg = newPaged(o.Nodes, o.Cache, t.hs)
	}
	return t, nil
}

// Err returns the first failure of the tree's NodeStore (a hash that could
// not be read or written), after which verification may miss hashes.
func (t *Tree) Err() error {
	if t.pg == nil {
		return nil
	}
	return t.pg.failure()
}

// Release drops the tree's cached pages; they are read again on demand.
// An idle swarm calls it to cost almost nothing.
func (t *Tree) Release() {
	if t.pg != nil {
		t.pg.release()
	}
}

// HashFunc returns the tree's hash function.
func (t *Tree) HashFunc() HashFunc { return t.hf }

// ChunkSize returns the chunk size in bytes.
func (t *Tree) ChunkSize() int { return t.cs }

// Root returns the root hash; the caller must not modify it.
func (t *Tree) Root() []byte { return t.root }

// NumChunks returns the number of chunks, or 0 while unknown.
func (t *Tree) NumChunks() uint64 { return t.nchunks }

// Length returns the content length in bytes, known once the last chunk is.
func (t *Tree) Length() (int64, bool) { return t.length, t.length >= 0 }

// RootBin returns the root's bin; valid once the size is known.
func (t *Tree) RootBin() Bin { return t.rootBin }

// Peaks returns the peak bins; nil while the size is unknown.
func (t *Tree) Peaks() []Bin {
	if t.nchunks == 0 {
		return nil
	}
	return Peaks(t.nchunks)
}

// ChunkLen returns the length of chunk i when the content length is known,
// else the chunk size.
func (t *Tree) ChunkLen(i uint64) int {
	if t.length >= 0 && i == t.nchunks-1 {
		return int(t.length - int64(i)*int64(t.cs))
	}
	return t.cs
}

// alloc sizes the tree for n chunks.
func (t *Tree) alloc(n uint64) {
	t.nchunks = n
	t.rootBin = RootBin(n)
	if t.pg != nil {
		return
	}
	nb := uint64(t.rootBin)*2 + 1
	t.nodes = make([]byte, nb*uint64(t.hs))
	t.known = make([]uint64, (nb+63)/64)
}

// Restore sets the size of a tree whose peaks were verified earlier (from a
// store); length may be -1 when the last chunk is not known yet.
func (t *Tree) Restore(nchunks uint64, length int64) error {
	if nchunks == 0 || nchunks > 1<<52 {
		return fmt.Errorf("merkle: restore: bad chunk count %d", nchunks)
	}
	if length >= 0 && (length <= int64(nchunks-1)*int64(t.cs) || length > int64(nchunks)*int64(t.cs)) {
		return fmt.Errorf("merkle: restore: length %d does not fit %d chunks of %d", length, nchunks, t.cs)
	}
	t.alloc(nchunks)
	t.length = length
	if t.pg == nil {
		t.setKnown(t.rootBin, t.root)
	} // a paged tree knows its root without reading the page it lies in
	return nil
}

// Put records a hash verified earlier (from a store) without checking it.
// Use only for hashes that were verified before they were stored.
func (t *Tree) Put(b Bin, h []byte) error {
	if t.nchunks == 0 {
		return ErrNoSize
	}
	if uint64(b) > uint64(t.rootBin)*2 || len(h) != t.hs {
		return fmt.Errorf("merkle: put %v: %w", b, ErrOutOfRange)
	}
	t.setKnown(b, h)
	return nil
}

func (t *Tree) inTree(b Bin) bool { return t.nchunks != 0 && uint64(b) <= uint64(t.rootBin)*2 }

// empty reports whether b lies wholly past the end of the content.
func (t *Tree) empty(b Bin) bool {
	f, _ := b.Base()
	return f >= t.nchunks
}

// Known reports whether the hash of b is verified (empty nodes past the end
// of the content count as known).
func (t *Tree) Known(b Bin) bool {
	if !t.inTree(b) {
		return false
	}
	if t.empty(b) {
		return true
	}
	if t.pg != nil {
		return b == t.rootBin || t.pg.known(b)
	}
	return t.known[b>>6]&(1<<(b&63)) != 0
}

// Hash returns the verified hash of b, or nil if it is not known. The slice
// aliases the tree; the caller must not modify it.
func (t *Tree) Hash(b Bin) []byte {
	if !t.Known(b) {
		return nil
	}
	return t.node(b)
}

func (t *Tree) node(b Bin) []byte {
	if t.pg != nil {
		if t.empty(b) {
			return zeroHash[:t.hs:t.hs]
		}
		if b == t.rootBin {
			return t.root[:t.hs:t.hs]
		}
		return t.pg.node(b)
	}
	o := uint64(b) * uint64(t.hs)
	return t.nodes[o : o+uint64(t.hs) : o+uint64(t.hs)]
}

func (t *Tree) setKnown(b Bin, h []byte) {
	if t.pg != nil {
		if !t.empty(b) {
			t.pg.set(b, h)
		}
		return
	}
	copy(t.node(b), h)
	t.known[b>>6] |= 1 << (b & 63)
}

// SetPeaks verifies peak hashes against the root (RFC 7574 §5.3): they must
// be exactly the peaks of some chunk count n and hash up to the root. It
// proves n and fills in the nodes above the peaks. Peaks must be ordered left
// to right. Calling it again after success only checks they agree.
func (t *Tree) SetPeaks(peaks []Node) error {
	if len(peaks) == 0 || len(peaks) > 64 {
		return ErrBadPeaks
	}
	var n uint64
	for _, p := range peaks {
		if len(p.Hash) != t.hs {
			return fmt.Errorf("%w: hash size %d", ErrBadPeaks, len(p.Hash))
		}
		f, l := p.Bin.Base()
		if f != n || l < f || l-f+1 > 1<<52 {
			return fmt.Errorf("%w: %v does not follow chunk %d", ErrBadPeaks, p.Bin, n)
		}
		n = l + 1
	}
	want := Peaks(n)
	if len(want) != len(peaks) {
		return fmt.Errorf("%w: %d peaks, %d chunks need %d", ErrBadPeaks, len(peaks), n, len(want))
	}
	for i := range want {
		if want[i] != peaks[i].Bin {
			return fmt.Errorf("%w: peak %d is %v, want %v", ErrBadPeaks, i, peaks[i].Bin, want[i])
		}
	}
	if t.nchunks != 0 {
		if n != t.nchunks {
			return fmt.Errorf("%w: peaks say %d chunks, tree has %d", ErrMismatch, n, t.nchunks)
		}
		all := true
		for _, p := range peaks {
			if h := t.Hash(p.Bin); h == nil {
				all = false
			} else if !bytes.Equal(h, p.Hash) {
				return fmt.Errorf("%w: peak %v", ErrMismatch, p.Bin)
			}
		}
		if all {
			return nil
		}
		// A restored tree (Restore) knows the size but not every peak:
		// verify them against the root like a new tree does.
	}
	// Fold from the rightmost peak up to the root.
	rootBin := RootBin(n)
	type step struct {
		b Bin
		h [maxHashSize]byte
	}
	var chain []step
	var cur step
	cur.b = peaks[len(peaks)-1].Bin
	copy(cur.h[:], peaks[len(peaks)-1].Hash)
	next := len(peaks) - 2
	var zero [maxHashSize]byte
	for cur.b != rootBin {
		var p step
		p.b = cur.b.Parent()
		if cur.b.IsLeft() {
			t.hf.sum2(p.h[:t.hs], cur.h[:t.hs], zero[:t.hs])
		} else {
			if next < 0 || peaks[next].Bin != cur.b.Sibling() {
				return fmt.Errorf("%w: no peak left of %v", ErrBadPeaks, cur.b)
			}
			t.hf.sum2(p.h[:t.hs], peaks[next].Hash, cur.h[:t.hs])
			next--
		}
		chain = append(chain, p)
		cur = p
	}
	if next != -1 {
		return fmt.Errorf("%w: peaks left over", ErrBadPeaks)
	}
	if !bytes.Equal(cur.h[:t.hs], t.root) {
		return fmt.Errorf("%w: peaks do not hash to the root", ErrMismatch)
	}
	if t.nchunks == 0 {
		t.alloc(n)
	}
	for _, p := range peaks {
		t.setKnown(p.Bin, p.Hash)
	}
	for i := range chain {
		t.setKnown(chain[i].b, chain[i].h[:t.hs])
	}
	return nil
}

// PeaksKnown reports whether the size and every peak hash are verified:
// what a tree needs to send peaks (RFC 7574 §5.3) and to verify a chunk
// under any peak with uncles from below the peak alone.
func (t *Tree) PeaksKnown() bool {
	if t.nchunks == 0 {
		return false
	}
	for _, b := range Peaks(t.nchunks) {
		if !t.Known(b) {
			return false
		}
	}
	return true
}

// Spine appends to dst the peaks and every node above them up to the root,
// left to right and bottom up: the nodes SetPeaks verifies. A store must
// keep them for a restored tree to verify chunks under every peak; the
// uncles a sender includes stop below the peaks (§5.4).
func (t *Tree) Spine(dst []Bin) []Bin {
	if t.nchunks == 0 {
		return dst
	}
	peaks := Peaks(t.nchunks)
	dst = append(dst, peaks...)
	for b := peaks[len(peaks)-1]; b != t.rootBin; {
		b = b.Parent()
		dst = append(dst, b)
	}
	return dst
}

// DerivePeaks computes peak hashes a restored tree lacks from verified
// nodes below them (a store written before peaks were stored keeps the
// children of every peak a download completed) and, once every peak is
// known, checks them against the root like SetPeaks. It appends the bins
// that became known to newly and returns it; ErrMismatch means the nodes
// below do not hash to the root.
func (t *Tree) DerivePeaks(newly []Bin) ([]Bin, error) {
	if t.nchunks == 0 {
		return newly, ErrNoSize
	}
	peaks := Peaks(t.nchunks)
	nodes := make([]Node, 0, len(peaks))
	for _, p := range peaks {
		h := t.deriveKnown(p, 0)
		if h == nil {
			return newly, nil // not derivable yet; a sender's peaks will do
		}
		nodes = append(nodes, Node{p, h})
	}
	if t.PeaksKnown() {
		return newly, nil
	}
	if err := t.SetPeaks(nodes); err != nil {
		return newly, err
	}
	return t.Spine(newly), nil
}

// deriveKnown returns the hash of b if it is known or computable from
// known descendants, without recording it.
func (t *Tree) deriveKnown(b Bin, depth int) []byte {
	if t.Known(b) {
		return bytes.Clone(t.node(b))
	}
	if b.Layer() == 0 || depth > 64 {
		return nil
	}
	l := t.deriveKnown(b.Left(), depth+1)
	if l == nil {
		return nil
	}
	r := t.deriveKnown(b.Right(), depth+1)
	if r == nil {
		return nil
	}
	h := make([]byte, t.hs)
	t.hf.sum2(h, l, r)
	return h
}

// PeakNodes returns the peaks with their hashes, for sending.
func (t *Tree) PeakNodes() []Node {
	var out []Node
	for _, b := range t.Peaks() {
		out = append(out, Node{b, t.Hash(b)})
	}
	return out
}

// Uncles appends to dst the uncle bins a receiver needs to verify the
// subtree b (a chunk, or an aligned group of chunks sent together), highest
// layer first, as RFC 7574 §5.4 sends them. It stops below the peak
// containing b (peaks are sent separately) and skips uncles the receiver
// provably has: peerKnows(u) reports whether the receiver holds a verified
// chunk under u's parent, and so knows u. peerKnows may be nil.
func (t *Tree) Uncles(dst []Bin, b Bin, peerKnows func(parent Bin) bool) []Bin {
	if !t.inTree(b) {
		return dst
	}
	start := len(dst)
	for cur := b; ; cur = cur.Parent() {
		if t.isPeak(cur) || cur == t.rootBin {
			break
		}
		p := cur.Parent()
		if peerKnows != nil && peerKnows(p) {
			break
		}
		dst = append(dst, cur.Sibling())
	}
	// Highest layer first.
	for i, j := start, len(dst)-1; i < j; i, j = i+1, j-1 {
		dst[i], dst[j] = dst[j], dst[i]
	}
	return dst
}

// isPeak reports whether b is one of the peaks: a complete subtree whose
// parent is incomplete (RFC 7574 §5.3).
func (t *Tree) isPeak(b Bin) bool {
	if _, l := b.Base(); l >= t.nchunks {
		return false
	}
	if b == t.rootBin {
		return true
	}
	_, pl := b.Parent().Base()
	return pl >= t.nchunks
}
