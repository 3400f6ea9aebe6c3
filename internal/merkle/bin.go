package merkle

import (
	"fmt"
	"math/bits"
)

// Bin is a node number in the RFC 7574 §4.2 "bin" numbering of a binary tree
// laid out in order: leaf (chunk) i is bin 2i, and the node at layer L with
// offset o is o·2^(L+1) + 2^L − 1. A node covers chunks
// [o·2^L, (o+1)·2^L − 1], and its layer is the number of trailing one bits.
type Bin uint64

// NoBin is the "empty" bin.
const NoBin = ^Bin(0)

// ChunkBin returns the leaf bin of chunk i.
func ChunkBin(i uint64) Bin { return Bin(i << 1) }

// NewBin returns the bin at layer and offset.
func NewBin(layer uint, offset uint64) Bin {
	return Bin(offset<<(layer+1) | (1<<layer - 1))
}

// Layer is the height of b above the leaves (0 for a chunk).
func (b Bin) Layer() uint { return uint(bits.TrailingZeros64(^uint64(b))) }

// Offset is the index of b among the nodes of its layer.
func (b Bin) Offset() uint64 { return uint64(b) >> (b.Layer() + 1) }

// Base returns the first and last chunk b covers (end-inclusive).
func (b Bin) Base() (first, last uint64) {
	l := b.Layer()
	o := uint64(b) >> (l + 1)
	return o << l, (o+1)<<l - 1
}

// Width is the number of chunks b covers.
func (b Bin) Width() uint64 { return 1 << b.Layer() }

// Parent returns the node above b.
func (b Bin) Parent() Bin {
	l := b.Layer()
	return NewBin(l+1, b.Offset()>>1)
}

// Sibling returns the other child of b's parent.
func (b Bin) Sibling() Bin { return b ^ Bin(1)<<(b.Layer()+1) }

// IsLeft reports whether b is the left child of its parent.
func (b Bin) IsLeft() bool { return b&(Bin(1)<<(b.Layer()+1)) == 0 }

// Left returns b's left child; b must not be a leaf.
func (b Bin) Left() Bin { return b - Bin(1)<<(b.Layer()-1) }

// Right returns b's right child; b must not be a leaf.
func (b Bin) Right() Bin { return b + Bin(1)<<(b.Layer()-1) }

// Contains reports whether c lies in the subtree of b.
func (b Bin) Contains(c Bin) bool {
	f, l := b.Base()
	cf, cl := c.Base()
	return cf >= f && cl <= l
}

func (b Bin) String() string {
	f, l := b.Base()
	return fmt.Sprintf("bin %d [%d,%d]", uint64(b), f, l)
}

// RangeBin returns the bin covering exactly chunks [first, last], and false
// if that range is not an aligned power-of-two subtree.
func RangeBin(first, last uint64) (Bin, bool) {
	if last < first {
		return NoBin, false
	}
	n := last - first + 1
	if n&(n-1) != 0 || first%n != 0 {
		return NoBin, false
	}
	l := uint(bits.TrailingZeros64(n))
	return NewBin(l, first>>l), true
}

// Peaks returns the peak bins of content of nchunks chunks (RFC 7574 §5.3):
// the maximal complete subtrees, left to right, largest first; one per one
// bit of nchunks.
func Peaks(nchunks uint64) []Bin {
	var out []Bin
	var start uint64
	for l := 63; l >= 0; l-- {
		if nchunks&(1<<uint(l)) == 0 {
			continue
		}
		out = append(out, NewBin(uint(l), start>>uint(l)))
		start += 1 << uint(l)
	}
	return out
}

// RootBin returns the root of the smallest complete tree covering nchunks.
func RootBin(nchunks uint64) Bin {
	if nchunks <= 1 {
		return 0
	}
	l := uint(bits.Len64(nchunks - 1))
	return NewBin(l, 0)
}
