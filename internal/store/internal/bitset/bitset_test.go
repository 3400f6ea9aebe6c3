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
	if len(s.pages) != 0 || !slices.Equal(s.full, []run{{0, 2}}) || s.get(1) != full {
		t.Fatalf("full pages not one run after TakeDirty: %d pages, runs %v", len(s.pages), s.full)
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
	if !slices.Equal(s.full, []run{{0, 0}, {2, 2}}) || len(s.pages) != 1 {
		t.Fatalf("after Remove: runs %v, %d pages", s.full, len(s.pages))
	}
	if got, want := s.Ranges(), [][2]uint64{{0, PageBits + 4}, {PageBits + 6, 3*PageBits - 1}}; !slices.Equal(got, want) {
		t.Fatalf("Ranges %v, want %v", got, want)
	}
	s.Add(PageBits + 5)
	s.TakeDirty()
	if !slices.Equal(s.full, []run{{0, 2}}) || len(s.pages) != 0 {
		t.Fatalf("refilled: runs %v, %d pages", s.full, len(s.pages))
	}
	var l Set
	if err := l.LoadPage(7, s.PageData(0)); err != nil {
		t.Fatal(err)
	}
	if len(l.pages) != 0 || l.get(7) != full || l.Count() != PageBits {
		t.Fatal("LoadPage of a full page")
	}
	c := l.Clone()
	c.Remove(7 * PageBits)
	if !l.Has(7*PageBits) || c.Has(7*PageBits) {
		t.Fatal("Clone shares a written page")
	}
}

// TestFullRunsAgainstMap fills and empties pages densely, collapsing them
// into full runs (TakeDirty) and splitting the runs again (Remove, LoadPage),
// and checks every answer against a map.
func TestFullRunsAgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const pages = 6
	var s Set
	ref := map[uint64]bool{}
	for round := range 300 {
		pg := r.Uint64N(pages)
		switch r.IntN(4) {
		case 0, 1: // fill a page
			for i := pg * PageBits; i < (pg+1)*PageBits; i++ {
				s.Add(i)
				ref[i] = true
			}
		case 2: // knock a few bits out
			for range 3 {
				i := pg*PageBits + r.Uint64N(PageBits)
				if s.Remove(i) != ref[i] {
					t.Fatalf("round %d: Remove(%d) disagrees", round, i)
				}
				delete(ref, i)
			}
		case 3: // reload a page from another set's form
			var o Set
			v := r.IntN(3)
			for i := pg * PageBits; i < (pg+1)*PageBits && v > 0; i++ {
				if v == 2 || i%3 == 0 {
					o.Add(i)
				}
			}
			if err := s.LoadPage(pg, o.PageData(pg)); err != nil {
				t.Fatal(err)
			}
			for i := pg * PageBits; i < (pg+1)*PageBits; i++ {
				if o.Has(i) {
					ref[i] = true
				} else {
					delete(ref, i)
				}
			}
		}
		if r.IntN(2) == 0 {
			s.TakeDirty()
		}
		if s.Count() != uint64(len(ref)) {
			t.Fatalf("round %d: Count %d, want %d", round, s.Count(), len(ref))
		}
		var want [][2]uint64
		for i := uint64(0); i < pages*PageBits; i++ {
			if s.Has(i) != ref[i] {
				t.Fatalf("round %d: Has(%d) = %v", round, i, s.Has(i))
			}
			if ref[i] {
				if k := len(want); k > 0 && want[k-1][1]+1 == i {
					want[k-1][1] = i
				} else {
					want = append(want, [2]uint64{i, i})
				}
			}
		}
		if got := s.Ranges(); !slices.Equal(got, want) {
			t.Fatalf("round %d: Ranges %v, want %v", round, got, want)
		}
		for k := 1; k < len(s.full); k++ {
			if s.full[k-1].to+1 >= s.full[k].from {
				t.Fatalf("round %d: runs %v not disjoint and apart", round, s.full)
			}
		}
		for _, fr := range s.full {
			for n := fr.from; n <= fr.to; n++ {
				if s.pages[n] != nil {
					t.Fatalf("round %d: page %d both full and held", round, n)
				}
			}
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	var s Set
	for _, i := range []uint64{0, 5, 8191, 70000, 1 << 40} {
		s.Add(i)
	}
	for i := uint64(3 * PageBits); i < 7*PageBits; i++ {
		s.Add(i)
	}
	var d Set
	if err := d.Decode(s.Encode(), 1<<41); err != nil {
		t.Fatal(err)
	}
	if d.Count() != s.Count() || !slices.Equal(d.Ranges(), s.Ranges()) {
		t.Fatalf("decoded %v (%d), want %v (%d)", d.Ranges(), d.Count(), s.Ranges(), s.Count())
	}
	if err := d.Decode(s.Encode(), 1<<39); err == nil {
		t.Error("an index past maxIndex decoded")
	}
	var empty Set
	if err := d.Decode(empty.Encode(), 0); err != nil || d.Count() != 0 {
		t.Errorf("empty: %v, %d", err, d.Count())
	}
}

func FuzzDecode(f *testing.F) {
	var s Set
	s.Add(3)
	for i := uint64(PageBits); i < 3*PageBits; i++ {
		s.Add(i)
	}
	f.Add(s.Encode())
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 1, 0, 5, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Set
		if err := d.Decode(b, 1<<30); err != nil {
			if d.Count() != 0 {
				t.Fatal("failed decode left bits set")
			}
			return
		}
		var r Set
		if err := r.Decode(d.Encode(), 1<<30); err != nil || r.Count() != d.Count() || !slices.Equal(r.Ranges(), d.Ranges()) {
			t.Fatalf("re-encode differs: %v", err)
		}
	})
}
