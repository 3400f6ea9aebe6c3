package swarm

import "math/bits"

// bitset is a fixed-size set of small integers (chunks or bins).
type bitset []uint64

func newBitset(n uint64) bitset { return make(bitset, (n+63)/64) }

func (s bitset) has(i uint64) bool {
	w := i >> 6
	return w < uint64(len(s)) && s[w]&(1<<(i&63)) != 0
}

func (s bitset) set(i uint64) {
	if w := i >> 6; w < uint64(len(s)) {
		s[w] |= 1 << (i & 63)
	}
}

func (s bitset) clear(i uint64) {
	if w := i >> 6; w < uint64(len(s)) {
		s[w] &^= 1 << (i & 63)
	}
}

// setRange sets [first, last], clipped to the set's size.
func (s bitset) setRange(first, last uint64) {
	max := uint64(len(s))*64 - 1
	if len(s) == 0 || first > max {
		return
	}
	if last > max {
		last = max
	}
	for i := first; i <= last; {
		if i&63 == 0 && last-i >= 63 {
			s[i>>6] = ^uint64(0)
			i += 64
			continue
		}
		s[i>>6] |= 1 << (i & 63)
		i++
	}
}

// words calls f with each word covering [first, last] and the mask of the
// bits in range, until f returns false; first ≤ last < 64·len(s).
func (s bitset) words(first, last uint64, f func(w, mask uint64) bool) {
	fw, lw := first>>6, last>>6
	for w := fw; w <= lw; w++ {
		m := ^uint64(0)
		if w == fw {
			m &= ^uint64(0) << (first & 63)
		}
		if w == lw {
			m &= ^uint64(0) >> (63 - last&63)
		}
		if !f(s[w], m) {
			return
		}
	}
}

// any reports whether a bit in [first, last] is set.
func (s bitset) any(first, last uint64) bool {
	max := uint64(len(s))*64 - 1
	if len(s) == 0 || first > max || first > last {
		return false
	}
	found := false
	s.words(first, min(last, max), func(w, m uint64) bool {
		found = w&m != 0
		return !found
	})
	return found
}

// all reports whether every bit in [first, last] is set.
func (s bitset) all(first, last uint64) bool {
	if len(s) == 0 || last > uint64(len(s))*64-1 || first > last {
		return false
	}
	full := true
	s.words(first, last, func(w, m uint64) bool {
		full = w&m == m
		return full
	})
	return full
}

// nextClear returns the first clear bit ≥ from, or n if none below n.
func (s bitset) nextClear(from, n uint64) uint64 {
	for i := from; i < n; {
		w := s[i>>6] | (1<<(i&63) - 1)
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

func (s bitset) count() uint64 {
	var c int
	for _, w := range s {
		c += bits.OnesCount64(w)
	}
	return uint64(c)
}

func trailingZeros(w uint64) int { return bits.TrailingZeros64(w) }
