package swarm

import "math/bits"

// bitset is a fixed-size set of small integers (chunks or bins), paged so
// that its memory follows what is irregular in it, not its size: a page of
// pageBits indices costs nothing while empty, one shared read-only page
// while full (a seeder's chunk map, a seeder peer's map, the part of a
// download already done; a short last page too), and 4 KiB only while
// partly set. A map over 1 GiB of 1 KiB chunks that is full or empty costs
// 320 bytes instead of 128 KiB. Its methods accept a nil *bitset as the empty set of size 0.
type bitset struct {
	n      uint64   // size in bits
	pages  []*bpage // nil: empty; fullPage: every bit set
	counts []uint32 // set bits per page
}

const (
	pageWords = 512 // 4 KiB
	pageBits  = pageWords * 64
)

type bpage [pageWords]uint64

// fullPage is shared by every full page of every bitset; never written.
var fullPage = func() *bpage {
	p := new(bpage)
	for i := range p {
		p[i] = ^uint64(0)
	}
	return p
}()

func newBitset(n uint64) *bitset {
	np := (n + pageBits - 1) / pageBits
	return &bitset{n: n, pages: make([]*bpage, np), counts: make([]uint32, np)}
}

// size returns the number of indices the set covers.
func (s *bitset) size() uint64 {
	if s == nil {
		return 0
	}
	return s.n
}

// word returns the 64 bits starting at index 64·w (0 past the end).
func (s *bitset) word(w uint64) uint64 {
	if s == nil || w >= uint64(len(s.pages))*pageWords {
		return 0
	}
	p := s.pages[w/pageWords]
	if p == nil {
		return 0
	}
	if p == fullPage && (w+1)*64 > s.n {
		if w*64 >= s.n {
			return 0
		}
		return ^uint64(0) >> ((w+1)*64 - s.n) // the short last page
	}
	return p[w%pageWords]
}

func (s *bitset) has(i uint64) bool {
	if s == nil || i >= s.n {
		return false
	}
	p := s.pages[i/pageBits]
	if p == nil {
		return false
	}
	j := i % pageBits
	return p[j/64]&(1<<(j%64)) != 0
}

// pageLen is the number of indices of page k below the size: pageBits but
// for a short last page. A page is full when all of those are set; the
// shared full page then also reads as set past the size, which every
// method bounds by the size (n).
func (s *bitset) pageLen(k uint64) uint32 {
	return uint32(min(pageBits, s.n-k*pageBits))
}

// writable returns page k for writing, copying the shared full page (with
// the bits past the size cleared).
func (s *bitset) writable(k uint64) *bpage {
	p := s.pages[k]
	switch p {
	case nil:
		p = new(bpage)
		s.pages[k] = p
	case fullPage:
		cp := *fullPage
		p = &cp
		for j := uint64(s.pageLen(k)); j < pageBits; j++ {
			p[j/64] &^= 1 << (j % 64)
		}
		s.pages[k] = p
	}
	return p
}

// settle gives page k's memory back when it is empty or full.
func (s *bitset) settle(k uint64) {
	switch s.counts[k] {
	case 0:
		s.pages[k] = nil
	case s.pageLen(k):
		s.pages[k] = fullPage
	}
}

func (s *bitset) set(i uint64) {
	if s == nil || i >= s.n {
		return
	}
	k, j := i/pageBits, i%pageBits
	if p := s.pages[k]; p != nil && p[j/64]&(1<<(j%64)) != 0 {
		return
	}
	p := s.writable(k)
	p[j/64] |= 1 << (j % 64)
	s.counts[k]++
	s.settle(k)
}

func (s *bitset) clear(i uint64) {
	if s == nil || i >= s.n {
		return
	}
	k, j := i/pageBits, i%pageBits
	if p := s.pages[k]; p == nil || p[j/64]&(1<<(j%64)) == 0 {
		return
	}
	p := s.writable(k)
	p[j/64] &^= 1 << (j % 64)
	s.counts[k]--
	s.settle(k)
}

// setRange sets [first, last], clipped to the set's size.
func (s *bitset) setRange(first, last uint64) {
	if s == nil || s.n == 0 || first >= s.n || first > last {
		return
	}
	last = min(last, s.n-1)
	for first <= last {
		k := first / pageBits
		pf, pl := k*pageBits, k*pageBits+uint64(s.pageLen(k))-1
		if first == pf && last >= pl {
			s.pages[k], s.counts[k] = fullPage, s.pageLen(k)
		} else {
			end := min(last, pl)
			if !s.allIn(first, end) {
				p := s.writable(k)
				for i := first; i <= end; i++ {
					j := i % pageBits
					if p[j/64]&(1<<(j%64)) == 0 {
						p[j/64] |= 1 << (j % 64)
						s.counts[k]++
					}
				}
				s.settle(k)
			}
		}
		if pl >= last {
			return
		}
		first = pl + 1
	}
}

// words calls f with each word covering [first, last] and the mask of the
// bits in range, until f returns false; first ≤ last < size.
func (s *bitset) words(first, last uint64, f func(w, mask uint64) bool) {
	fw, lw := first>>6, last>>6
	for w := fw; w <= lw; w++ {
		if w%pageWords == 0 && lw-w >= pageWords-1 {
			// A whole page at once when it is shared (every word the
			// same: a partial mask of the first word gives the same
			// answer to any and all).
			if p := s.pages[w/pageWords]; p == nil || p == fullPage {
				v := uint64(0)
				if p != nil {
					v = ^uint64(0)
				}
				if !f(v, ^uint64(0)) {
					return
				}
				w += pageWords - 1
				continue
			}
		}
		m := ^uint64(0)
		if w == fw {
			m &= ^uint64(0) << (first & 63)
		}
		if w == lw {
			m &= ^uint64(0) >> (63 - last&63)
		}
		if !f(s.word(w), m) {
			return
		}
	}
}

// any reports whether a bit in [first, last] is set.
func (s *bitset) any(first, last uint64) bool {
	if s == nil || s.n == 0 || first >= s.n || first > last {
		return false
	}
	found := false
	s.words(first, min(last, s.n-1), func(w, m uint64) bool {
		found = w&m != 0
		return !found
	})
	return found
}

// all reports whether every bit in [first, last] is set.
func (s *bitset) all(first, last uint64) bool {
	if s == nil || last >= s.n || first > last {
		return false
	}
	return s.allIn(first, last)
}

func (s *bitset) allIn(first, last uint64) bool {
	full := true
	s.words(first, last, func(w, m uint64) bool {
		full = w&m == m
		return full
	})
	return full
}

// nextClear returns the first clear bit ≥ from, or n if none below n.
func (s *bitset) nextClear(from, n uint64) uint64 {
	if s == nil {
		return min(from, n)
	}
	for i := from; i < n; {
		if i%pageBits == 0 && s.pages[i/pageBits] == fullPage {
			i += pageBits
			continue
		}
		w := s.word(i>>6) | (1<<(i&63) - 1)
		if w != ^uint64(0) {
			j := i&^63 + uint64(bits.TrailingZeros64(^w))
			if j >= n {
				return n
			}
			return j
		}
		i = (i | 63) + 1
	}
	return n
}

// nextSet returns the first set bit ≥ from, or n if none below n.
func (s *bitset) nextSet(from, n uint64) uint64 {
	if s == nil {
		return n
	}
	for i := from; i < n; {
		if i%pageBits == 0 && i/pageBits < uint64(len(s.pages)) && s.pages[i/pageBits] == nil {
			i += pageBits
			continue
		}
		w := s.word(i>>6) &^ (1<<(i&63) - 1)
		if w != 0 {
			return min(i&^63+uint64(bits.TrailingZeros64(w)), n)
		}
		i = (i | 63) + 1
	}
	return n
}

func (s *bitset) count() uint64 {
	if s == nil {
		return 0
	}
	var c uint64
	for _, k := range s.counts {
		c += uint64(k)
	}
	return c
}

// memBytes is the memory the set's pages hold (not the shared full page).
func (s *bitset) memBytes() int {
	if s == nil {
		return 0
	}
	n := len(s.pages)*8 + len(s.counts)*4
	for _, p := range s.pages {
		if p != nil && p != fullPage {
			n += pageWords * 8
		}
	}
	return n
}

func trailingZeros(w uint64) int { return bits.TrailingZeros64(w) }

// reset clears every bit.
func (s *bitset) reset() {
	if s == nil {
		return
	}
	clear(s.pages)
	clear(s.counts)
}

// hasPage reports whether page k holds any set bit.
func (s *bitset) hasPage(k uint64) bool {
	return s != nil && k < uint64(len(s.pages)) && s.pages[k] != nil
}

// dropPage clears the bits of page k.
func (s *bitset) dropPage(k uint64) {
	if s.hasPage(k) {
		s.pages[k], s.counts[k] = nil, 0
	}
}

// countIn returns the number of set bits in [first, last].
func (s *bitset) countIn(first, last uint64) uint64 {
	if s == nil || s.n == 0 || first >= s.n || first > last {
		return 0
	}
	var c uint64
	s.words(first, min(last, s.n-1), func(w, m uint64) bool {
		c += uint64(bits.OnesCount64(w & m))
		return true
	})
	return c
}
