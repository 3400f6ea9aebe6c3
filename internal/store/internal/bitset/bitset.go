// Package bitset implements a sparse, paged bitset with per-page dirty
// tracking, the in-memory form of the store's verified-chunk and
// verified-tree-node maps.
//
// Memory is one PageBytes page per partly set PageBits-wide stretch of
// indices; empty stretches cost nothing and runs of full ones one pair of
// numbers, so a map over 10 GiB of 1 KiB chunks costs a few dozen bytes
// when full or empty, and 1.25 MiB at most. A Set is not safe for
// concurrent use; its owner locks.
package bitset

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

const (
	// PageBytes is the size of one page, and of its serialized form.
	PageBytes = 1024
	// PageBits is the number of indices one page covers.
	PageBits  = PageBytes * 8
	pageWords = PageBytes / 8
)

type page [pageWords]uint64

// full is the one shared page of a stretch with every bit set (pages in
// Set.full): a seeder's maps cost one run, not a page or a map entry per
// page. It is never written: Remove copies it first.
var full = func() *page {
	p := new(page)
	for i := range p {
		p[i] = ^uint64(0)
	}
	return p
}()

func (p *page) isFull() bool {
	for _, w := range p {
		if w != ^uint64(0) {
			return false
		}
	}
	return true
}

// Set is a sparse bitset over uint64 indices. The zero value is empty and
// ready to use.
type Set struct {
	pages map[uint64]*page // pages neither empty nor in full
	full  []run            // sorted, disjoint, not adjacent: pages with every bit set
	dirty map[uint64]struct{}
	count uint64

	// one-entry cache of the last page touched
	lastN uint64
	lastP *page
}

// run is the page numbers [from, to].
type run struct{ from, to uint64 }

// fullAt returns the index of the run holding page n, or where one would go.
func (s *Set) fullAt(n uint64) (int, bool) {
	i, _ := slices.BinarySearchFunc(s.full, n, func(r run, n uint64) int {
		switch {
		case r.to < n:
			return -1
		case r.from > n:
			return 1
		}
		return 0
	})
	return i, i < len(s.full) && s.full[i].from <= n && n <= s.full[i].to
}

// addFull records page n as full (it is not in pages).
func (s *Set) addFull(n uint64) {
	i, ok := s.fullAt(n)
	if ok {
		return
	}
	left := i > 0 && s.full[i-1].to+1 == n
	right := i < len(s.full) && n+1 == s.full[i].from
	switch {
	case left && right:
		s.full[i-1].to = s.full[i].to
		s.full = slices.Delete(s.full, i, i+1)
	case left:
		s.full[i-1].to = n
	case right:
		s.full[i].from = n
	default:
		s.full = slices.Insert(s.full, i, run{n, n})
	}
}

// removeFull forgets that page n is full.
func (s *Set) removeFull(n uint64) {
	i, ok := s.fullAt(n)
	if !ok {
		return
	}
	r := s.full[i]
	switch {
	case r.from == n && r.to == n:
		s.full = slices.Delete(s.full, i, i+1)
	case r.from == n:
		s.full[i].from = n + 1
	case r.to == n:
		s.full[i].to = n - 1
	default:
		s.full[i].to = n - 1
		s.full = slices.Insert(s.full, i+1, run{n + 1, r.to})
	}
}

// get returns page n for reading (full for a full page), or nil if empty.
func (s *Set) get(n uint64) *page {
	if p := s.pages[n]; p != nil {
		return p
	}
	if _, ok := s.fullAt(n); ok {
		return full
	}
	return nil
}

func (s *Set) page(n uint64, create bool) *page {
	if s.lastP != nil && s.lastN == n {
		return s.lastP
	}
	p := s.get(n)
	if p == nil {
		if !create {
			return nil
		}
		if s.pages == nil {
			s.pages = make(map[uint64]*page)
		}
		p = new(page)
		s.pages[n] = p
	}
	s.lastN, s.lastP = n, p
	return p
}

func (s *Set) markDirty(n uint64) {
	if s.dirty == nil {
		s.dirty = make(map[uint64]struct{})
	}
	s.dirty[n] = struct{}{}
}

// Has reports whether bit i is set.
func (s *Set) Has(i uint64) bool {
	p := s.page(i/PageBits, false)
	if p == nil {
		return false
	}
	j := i % PageBits
	return p[j/64]&(1<<(j%64)) != 0
}

// Add sets bit i and reports whether it was clear before.
func (s *Set) Add(i uint64) bool {
	n := i / PageBits
	p := s.page(n, true)
	j := i % PageBits
	w, m := &p[j/64], uint64(1)<<(j%64)
	if *w&m != 0 {
		return false
	}
	*w |= m
	s.count++
	s.markDirty(n)
	return true
}

// Remove clears bit i and reports whether it was set before.
func (s *Set) Remove(i uint64) bool {
	n := i / PageBits
	p := s.page(n, false)
	if p == nil {
		return false
	}
	if p == full {
		cp := *full
		p = &cp
		s.removeFull(n)
		if s.pages == nil {
			s.pages = make(map[uint64]*page)
		}
		s.pages[n] = p
		s.lastN, s.lastP = n, p
	}
	j := i % PageBits
	w, m := &p[j/64], uint64(1)<<(j%64)
	if *w&m == 0 {
		return false
	}
	*w &^= m
	s.count--
	s.markDirty(n)
	return true
}

// Count returns the number of set bits.
func (s *Set) Count() uint64 { return s.count }

// AnyFrom reports whether any bit >= i is set.
func (s *Set) AnyFrom(i uint64) bool {
	found := false
	s.eachFrom(i, func(uint64) bool {
		found = true
		return false
	})
	return found
}

// RemoveFrom clears every bit >= i and returns how many were set.
func (s *Set) RemoveFrom(i uint64) uint64 {
	var drop []uint64
	s.eachFrom(i, func(j uint64) bool {
		drop = append(drop, j)
		return true
	})
	for _, j := range drop {
		s.Remove(j)
	}
	return uint64(len(drop))
}

// eachFrom calls fn for every set bit >= i in ascending order until fn
// returns false, skipping the pages below i.
func (s *Set) eachFrom(i uint64, fn func(j uint64) bool) {
	s.eachPage(func(n uint64, p *page) bool {
		if n < i/PageBits {
			return true
		}
		for wi, w := range p {
			for w != 0 {
				j := n*PageBits + uint64(wi)*64 + uint64(bits.TrailingZeros64(w))
				w &= w - 1
				if j >= i && !fn(j) {
					return false
				}
			}
		}
		return true
	})
}

// eachPage calls fn with every non-empty page in ascending order until fn
// returns false.
func (s *Set) eachPage(fn func(n uint64, p *page) bool) {
	ns := make([]uint64, 0, len(s.pages))
	for n := range s.pages {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	k := 0
	for _, r := range s.full {
		for ; k < len(ns) && ns[k] < r.from; k++ {
			if !fn(ns[k], s.pages[ns[k]]) {
				return
			}
		}
		for n := r.from; ; n++ {
			if !fn(n, full) {
				return
			}
			if n == r.to {
				break
			}
		}
	}
	for ; k < len(ns); k++ {
		if !fn(ns[k], s.pages[ns[k]]) {
			return
		}
	}
}

// Each calls fn for every set bit in ascending order until fn returns false.
func (s *Set) Each(fn func(i uint64) bool) {
	s.eachPage(func(n uint64, p *page) bool {
		for wi, w := range p {
			for w != 0 {
				tz := bits.TrailingZeros64(w)
				if !fn(n*PageBits + uint64(wi)*64 + uint64(tz)) {
					return false
				}
				w &= w - 1
			}
		}
		return true
	})
}

// Ranges returns the set bits as sorted, coalesced, end-inclusive ranges.
func (s *Set) Ranges() [][2]uint64 {
	var out [][2]uint64
	open := false
	var start, cur uint64 // cur: one past the last bit of the open run
	s.eachPage(func(n uint64, p *page) bool {
		if p == full {
			idx := n * PageBits
			if open && idx == cur {
				cur = idx + PageBits
			} else {
				if open {
					out = append(out, [2]uint64{start, cur - 1})
				}
				open, start, cur = true, idx, idx+PageBits
			}
			return true
		}
		for wi, w := range p {
			base := n*PageBits + uint64(wi)*64
			for w != 0 {
				tz := uint64(bits.TrailingZeros64(w))
				ones := uint64(bits.TrailingZeros64(^(w >> tz)))
				if ones > 64-tz {
					ones = 64 - tz
				}
				idx := base + tz
				if open && idx == cur {
					cur = idx + ones
				} else {
					if open {
						out = append(out, [2]uint64{start, cur - 1})
					}
					open, start, cur = true, idx, idx+ones
				}
				if tz+ones >= 64 {
					w = 0
				} else {
					w &^= (uint64(1)<<ones - 1) << tz
				}
			}
		}
		return true
	})
	if open {
		out = append(out, [2]uint64{start, cur - 1})
	}
	return out
}

// Clone returns a deep copy without dirty marks.
func (s *Set) Clone() *Set {
	c := &Set{count: s.count, pages: make(map[uint64]*page, len(s.pages)), full: slices.Clone(s.full)}
	for n, p := range s.pages {
		cp := *p
		c.pages[n] = &cp
	}
	return c
}

// TakeDirty returns the numbers of the pages changed since the last
// TakeDirty, sorted, with their serialized contents, and clears the marks.
func (s *Set) TakeDirty() (nums []uint64, data [][]byte) {
	if len(s.dirty) == 0 {
		return nil, nil
	}
	nums = make([]uint64, 0, len(s.dirty))
	for n := range s.dirty {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	data = make([][]byte, len(nums))
	for k, n := range nums {
		data[k] = s.PageData(n)
		if p := s.pages[n]; p != nil && p.isFull() {
			delete(s.pages, n) // give the page's memory back
			s.addFull(n)
			if s.lastN == n {
				s.lastP = full
			}
		}
	}
	clear(s.dirty)
	return nums, data
}

// HasDirty reports whether any page changed since the last TakeDirty.
func (s *Set) HasDirty() bool { return len(s.dirty) > 0 }

// MarkDirty marks pages dirty again, e.g. after a failed attempt to persist
// what TakeDirty returned.
func (s *Set) MarkDirty(nums []uint64) {
	for _, n := range nums {
		s.markDirty(n)
	}
}

// PageData serializes page n: PageBytes bytes, bit i of the page is bit i%8
// of byte i/8 (64-bit little-endian words).
func (s *Set) PageData(n uint64) []byte {
	b := make([]byte, PageBytes)
	if p := s.get(n); p != nil {
		for k, w := range p {
			binary.LittleEndian.PutUint64(b[k*8:], w)
		}
	}
	return b
}

// LoadPage replaces page n with serialized data (the form PageData returns).
// It does not mark the page dirty.
func (s *Set) LoadPage(n uint64, data []byte) error {
	if len(data) != PageBytes {
		return fmt.Errorf("bitset: page %d: %d bytes, want %d", n, len(data), PageBytes)
	}
	if n > (1<<64-1)/PageBits {
		return fmt.Errorf("bitset: page number %d out of range", n)
	}
	var c uint64
	for k := 0; k < pageWords; k++ {
		c += uint64(bits.OnesCount64(binary.LittleEndian.Uint64(data[k*8:])))
	}
	if old := s.get(n); old != nil {
		for _, w := range old {
			s.count -= uint64(bits.OnesCount64(w))
		}
	}
	delete(s.pages, n)
	s.removeFull(n)
	switch c {
	case 0:
	case PageBits:
		s.addFull(n)
	default:
		p := new(page)
		for k := range p {
			p[k] = binary.LittleEndian.Uint64(data[k*8:])
		}
		if s.pages == nil {
			s.pages = make(map[uint64]*page)
		}
		s.pages[n] = p
	}
	s.count += c
	s.lastP = nil
	return nil
}

// Reset empties the set, dirty marks included.
func (s *Set) Reset() { *s = Set{} }
