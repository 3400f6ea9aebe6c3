package swarm

import (
	"math/rand/v2"
	"testing"
)

// TestBitset checks the paged bitset against a plain []bool under random
// sets, clears and ranges that cross page boundaries, and that full and
// empty pages give their memory back.
func TestBitset(t *testing.T) {
	for _, n := range []uint64{1, 63, 64, 65, pageBits - 1, pageBits, pageBits + 1, 3*pageBits + 77} {
		rng := rand.New(rand.NewPCG(n, 7))
		s := newBitset(n)
		ref := make([]bool, n)
		check := func(op string) {
			t.Helper()
			var cnt uint64
			for i := uint64(0); i < n; i++ {
				if s.has(i) != ref[i] {
					t.Fatalf("n=%d after %s: has(%d)=%v, want %v", n, op, i, s.has(i), ref[i])
				}
				if ref[i] {
					cnt++
				}
			}
			if s.count() != cnt {
				t.Fatalf("n=%d after %s: count %d, want %d", n, op, s.count(), cnt)
			}
			for k := 0; k < 20; k++ {
				a, b := rng.Uint64N(n), rng.Uint64N(n)
				if a > b {
					a, b = b, a
				}
				anyW, allW := false, true
				for i := a; i <= b; i++ {
					anyW = anyW || ref[i]
					allW = allW && ref[i]
				}
				if s.any(a, b) != anyW || s.all(a, b) != allW {
					t.Fatalf("n=%d after %s: any/all(%d,%d) = %v/%v, want %v/%v", n, op, a, b, s.any(a, b), s.all(a, b), anyW, allW)
				}
				wantClear, wantSet := n, n
				for i := a; i < n; i++ {
					if !ref[i] && wantClear == n {
						wantClear = i
					}
					if ref[i] && wantSet == n {
						wantSet = i
					}
				}
				if got := s.nextClear(a, n); got != wantClear {
					t.Fatalf("n=%d after %s: nextClear(%d) = %d, want %d", n, op, a, got, wantClear)
				}
				if got := s.nextSet(a, n); got != wantSet {
					t.Fatalf("n=%d after %s: nextSet(%d) = %d, want %d", n, op, a, got, wantSet)
				}
			}
			for w := uint64(0); w*64 < n; w++ {
				var v uint64
				for j := uint64(0); j < 64 && w*64+j < n; j++ {
					if ref[w*64+j] {
						v |= 1 << j
					}
				}
				if s.word(w) != v {
					t.Fatalf("n=%d after %s: word(%d) = %x, want %x", n, op, w, s.word(w), v)
				}
			}
		}
		for round := 0; round < 30; round++ {
			a, b := rng.Uint64N(n), rng.Uint64N(n)
			if a > b {
				a, b = b, a
			}
			switch rng.IntN(4) {
			case 0:
				s.setRange(a, b)
				for i := a; i <= b; i++ {
					ref[i] = true
				}
			case 1:
				for i := a; i <= b && i < a+500; i++ {
					s.clear(i)
					ref[i] = false
				}
			case 2:
				for k := 0; k < 100; k++ {
					i := rng.Uint64N(n)
					s.set(i)
					ref[i] = true
				}
			case 3:
				s.setRange(0, n+10) // clipped
				for i := range ref {
					ref[i] = true
				}
			}
			check("round")
		}
		s.setRange(0, n-1)
		for i := range ref {
			ref[i] = true
		}
		check("fill")
		if s.memBytes() != len(s.pages)*8+len(s.counts)*4 {
			t.Fatalf("n=%d: a full set holds %d bytes of pages", n, s.memBytes())
		}
		if n%pageBits != 0 {
			s.clear(n - 1) // a copy of the shared page with no bit past the size
			ref[n-1] = false
			check("clear the last")
			s.set(n - 1)
			ref[n-1] = true
			check("set the last")
		}
		for i := uint64(0); i < n; i++ {
			s.clear(i)
			ref[i] = false
		}
		check("empty")
		if s.memBytes() != len(s.pages)*8+len(s.counts)*4 {
			t.Fatalf("n=%d: an empty set holds %d bytes of pages", n, s.memBytes())
		}
		s.set(n - 1)
		s.reset()
		ref[n-1] = false
		check("reset")
	}
	var nilSet *bitset
	if nilSet.has(0) || nilSet.any(0, 5) || nilSet.all(0, 0) || nilSet.count() != 0 || nilSet.nextSet(0, 9) != 9 || nilSet.word(0) != 0 {
		t.Fatal("a nil bitset is not empty")
	}
	nilSet.set(3)
	nilSet.clear(3)
}
