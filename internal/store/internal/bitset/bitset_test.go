package bitset

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRanges(t *testing.T) {
	tests := []struct {
		name string
		set  []uint64
		want [][2]uint64
	}{
		{"empty", nil, nil},
		{"one", []uint64{5}, [][2]uint64{{5, 5}}},
		{"coalesce", []uint64{0, 1, 2, 5, 7, 8}, [][2]uint64{{0, 2}, {5, 5}, {7, 8}}},
		{"word boundary", []uint64{62, 63, 64, 65}, [][2]uint64{{62, 65}}},
		{"full word", seq(64, 128), [][2]uint64{{64, 127}}},
		{"page boundary", seq(PageBits-3, PageBits+3), [][2]uint64{{PageBits - 3, PageBits + 2}}},
		{"gap page", []uint64{1, 3 * PageBits}, [][2]uint64{{1, 1}, {3 * PageBits, 3 * PageBits}}},
		{"top", []uint64{1<<64 - 1}, [][2]uint64{{1<<64 - 1, 1<<64 - 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Set
			for _, i := range tt.set {
				s.Add(i)
			}
			if got := s.Ranges(); !slices.Equal(got, tt.want) {
				t.Errorf("Ranges = %v, want %v", got, tt.want)
			}
			if s.Count() != uint64(len(tt.set)) {
				t.Errorf("Count = %d, want %d", s.Count(), len(tt.set))
			}
		})
	}
}

func seq(a, b uint64) []uint64 {
	var s []uint64
	for i := a; i < b; i++ {
		s = append(s, i)
	}
	return s
}

func TestRandomAgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s Set
	ref := map[uint64]bool{}
	for range 20000 {
		i := r.Uint64N(5 * PageBits)
		if r.IntN(3) == 0 {
			if s.Remove(i) != ref[i] {
				t.Fatalf("Remove(%d) disagrees", i)
			}
			delete(ref, i)
		} else {
			if s.Add(i) == ref[i] {
				t.Fatalf("Add(%d) disagrees", i)
			}
			ref[i] = true
		}
	}
	if s.Count() != uint64(len(ref)) {
		t.Fatalf("Count %d want %d", s.Count(), len(ref))
	}
	var n uint64
	for _, r := range s.Ranges() {
		for i := r[0]; i <= r[1]; i++ {
			if !ref[i] {
				t.Fatalf("range has %d", i)
			}
			n++
		}
	}
	if n != uint64(len(ref)) {
		t.Fatalf("ranges cover %d want %d", n, len(ref))
	}
	// round trip through pages
	nums, data := s.TakeDirty()
	var c Set
	for k, n := range nums {
		if err := c.LoadPage(n, data[k]); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(c.Ranges(), s.Ranges()) || c.Count() != s.Count() {
		t.Fatal("page round trip differs")
	}
	if s.HasDirty() {
		t.Fatal("dirty after TakeDirty")
	}
	if got := c.RemoveFrom(2 * PageBits); got == 0 || c.AnyFrom(2*PageBits) {
		t.Fatal("RemoveFrom")
	}
}

// FuzzPages applies a sequence of adds and removes encoded in data, then
// checks that the serialized pages load back into an equal set.
func FuzzPages(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3})
	f.Add([]byte{0xff, 0x20, 0x00, 0x01, 0x80, 0x20, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Set
		for len(data) >= 4 {
			i := uint64(data[1])<<16 | uint64(data[2])<<8 | uint64(data[3])
			if data[0]&1 == 0 {
				s.Add(i)
			} else {
				s.Remove(i)
			}
			data = data[4:]
		}
		nums, pages := s.TakeDirty()
		var c Set
		for k, n := range nums {
			if err := c.LoadPage(n, pages[k]); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(c.Ranges(), s.Ranges()) || c.Count() != s.Count() {
			t.Fatalf("round trip: %v (%d) vs %v (%d)", c.Ranges(), c.Count(), s.Ranges(), s.Count())
		}
		if err := c.LoadPage(0, make([]byte, PageBytes-1)); err == nil {
			t.Fatal("short page accepted")
		}
	})
}

// TestFullPagesShared: full pages share one read-only page; clearing a bit
// of one copies it and leaves the others full.
func TestFullPagesShared(t *testing.T) {
	var s Set
	for i := uint64(0); i < 3*PageBits; i++ {
		s.Add(i)
	}
	s.TakeDirty()
	if s.pages[0] != full || s.pages[1] != full || s.pages[2] != full {
		t.Fatal("full pages not shared after TakeDirty")
	}
	if !s.Remove(PageBits + 5) {
		t.Fatal("Remove of a set bit")
	}
	if s.Has(PageBits+5) || !s.Has(5) || !s.Has(2*PageBits+5) || !full.isFull() {
		t.Fatal("Remove on a shared full page leaked into the others")
	}
	if s.Count() != 3*PageBits-1 {
		t.Fatalf("count %d", s.Count())
	}
	var l Set
	if err := l.LoadPage(7, s.PageData(0)); err != nil {
		t.Fatal(err)
	}
	if l.pages[7] != full || l.Count() != PageBits {
		t.Fatal("LoadPage of a full page")
	}
	c := l.Clone()
	c.Remove(7 * PageBits)
	if !l.Has(7*PageBits) || c.Has(7*PageBits) {
		t.Fatal("Clone shares a written page")
	}
}
