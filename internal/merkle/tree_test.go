package merkle

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func mustBuild(t testing.TB, data []byte, o Options) *Tree {
	t.Helper()
	tr, err := Build(bytes.NewReader(data), int64(len(data)), o, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestRootHashVectors reproduces every root and peak computed by libswift in
// testdata/roothash_vectors.txt.
func TestRootHashVectors(t *testing.T) {
	f, err := os.Open("testdata/roothash_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "size ") || strings.HasPrefix(line, "root ") || strings.HasPrefix(line, "peak ") {
			continue
		}
		fs := strings.Fields(line)
		size, _ := strconv.Atoi(fs[0])
		cs, _ := strconv.Atoi(fs[1])
		nch, _ := strconv.ParseUint(fs[2], 10, 64)
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("%d/%d/w%d", size, cs, workers), func(t *testing.T) {
				data := pattern(size)
				tr, err := Build(bytes.NewReader(data), int64(size), Options{ChunkSize: cs}, workers)
				if err != nil {
					t.Fatal(err)
				}
				if tr.NumChunks() != nch {
					t.Errorf("chunks %d, want %d", tr.NumChunks(), nch)
				}
				if got := hex.EncodeToString(tr.Root()); got != fs[3] {
					t.Errorf("root %s, want %s", got, fs[3])
				}
				peaks := tr.PeakNodes()
				if len(peaks) != len(fs)-4 {
					t.Fatalf("%d peaks, want %d", len(peaks), len(fs)-4)
				}
				for i, p := range fs[4:] {
					ps := strings.Split(p, ":")
					first, last, _ := strings.Cut(ps[0], "-")
					f, l := peaks[i].Bin.Base()
					if want := fmt.Sprintf("%d-%d:%d:%s", f, l, uint64(peaks[i].Bin), hex.EncodeToString(peaks[i].Hash)); want != p {
						t.Errorf("peak %d = %s, want %s (%s..%s)", i, want, p, first, last)
					}
				}
			})
		}
		n++
	}
	if n < 20 {
		t.Fatalf("only %d vectors read", n)
	}
}

func TestLibswiftUnitVectors(t *testing.T) {
	for _, tc := range []struct {
		data []byte
		root string
	}{
		{[]byte("123\n"), "a8fdc205a9f19cc1c7507a60c4f01b13d11d7fd0"},
		{bytes.Repeat([]byte("$"), 1028), "5b53677d3a695f29f1b4e18ab6d705312ef7f8c3"},
	} {
		if got := hex.EncodeToString(mustBuild(t, tc.data, Options{}).Root()); got != tc.root {
			t.Errorf("root %s, want %s", got, tc.root)
		}
	}
}

func TestBins(t *testing.T) {
	for _, tc := range []struct {
		b           Bin
		first, last uint64
		layer       uint
	}{
		{0, 0, 0, 0}, {2, 1, 1, 0}, {1, 0, 1, 1}, {3, 0, 3, 2}, {7, 0, 7, 3},
		{39, 16, 23, 3}, {49, 24, 25, 1}, {15, 0, 15, 4}, {12, 6, 6, 0}, {9, 4, 5, 1},
	} {
		f, l := tc.b.Base()
		if f != tc.first || l != tc.last || tc.b.Layer() != tc.layer {
			t.Errorf("%d: got [%d,%d] layer %d", tc.b, f, l, tc.b.Layer())
		}
		if rb, ok := RangeBin(f, l); !ok || rb != tc.b {
			t.Errorf("RangeBin(%d,%d) = %d %v", f, l, rb, ok)
		}
		if tc.b.Layer() > 0 && (tc.b.Left().Parent() != tc.b || tc.b.Right().Parent() != tc.b || tc.b.Left().Sibling() != tc.b.Right()) {
			t.Errorf("%d: children inconsistent", tc.b)
		}
	}
	if _, ok := RangeBin(1, 4); ok {
		t.Error("RangeBin(1,4) is not a bin")
	}
	if got := Peaks(26); fmt.Sprint(got) != fmt.Sprint([]Bin{15, 39, 49}) {
		t.Errorf("Peaks(26) = %v", got)
	}
	if got := Peaks(7); fmt.Sprint(got) != fmt.Sprint([]Bin{3, 9, 12}) {
		t.Errorf("Peaks(7) = %v", got)
	}
}

// transfer simulates a sender and a receiver: chunks in the given order,
// group chunks per datagram, uncles skipped when the receiver provably has
// them.
func transfer(t *testing.T, src *Tree, data []byte, order []uint64, group int) *Tree {
	t.Helper()
	return transferOpts(t, src, data, order, group, Options{ChunkSize: src.ChunkSize(), HashFunc: src.HashFunc()})
}

func transferOpts(t *testing.T, src *Tree, data []byte, order []uint64, group int, o Options) *Tree {
	t.Helper()
	dst, err := New(src.Root(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.SetPeaks(src.PeakNodes()); err != nil {
		t.Fatal(err)
	}
	have := make([]bool, src.NumChunks())
	peerKnows := func(p Bin) bool {
		f, l := p.Base()
		for i := f; i <= l && i < uint64(len(have)); i++ {
			if have[i] {
				return true
			}
		}
		return false
	}
	cs := src.ChunkSize()
	for i := 0; i < len(order); i += group {
		end := min(i+group, len(order))
		var cands []Node
		var chunks []Chunk
		for _, c := range order[i:end] {
			for _, u := range src.Uncles(nil, ChunkBin(c), peerKnows) {
				cands = append(cands, Node{u, src.Hash(u)})
			}
			s := int(c) * cs
			chunks = append(chunks, Chunk{c, data[s:min(s+cs, len(data))]})
		}
		dst.Verify(cands, chunks, nil, func(j int, err error) {
			if err != nil {
				t.Fatalf("chunk %d: %v", chunks[j].Index, err)
			}
			have[chunks[j].Index] = true
		})
	}
	return dst
}

func TestTransferOrders(t *testing.T) {
	for _, size := range []int{1, 1024, 1025, 7162, 26121, 65536, 100_000} {
		data := pattern(size)
		src := mustBuild(t, data, Options{})
		n := src.NumChunks()
		inorder := make([]uint64, n)
		for i := range inorder {
			inorder[i] = uint64(i)
		}
		shuffled := append([]uint64(nil), inorder...)
		rand.New(rand.NewPCG(1, uint64(size))).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for name, order := range map[string][]uint64{"inorder": inorder, "shuffled": shuffled} {
			for _, g := range []int{1, 8} {
				t.Run(fmt.Sprintf("%d/%s/%d", size, name, g), func(t *testing.T) {
					dst := transfer(t, src, data, order, g)
					if l, ok := dst.Length(); !ok || l != int64(size) {
						t.Errorf("length %d %v, want %d", l, ok, size)
					}
					for b := Bin(0); b <= 2*src.RootBin(); b++ {
						if !dst.Known(b) {
							continue
						}
						if !bytes.Equal(dst.Hash(b), src.Hash(b)) {
							t.Fatalf("node %v differs", b)
						}
					}
				})
			}
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	data := pattern(26121)
	src := mustBuild(t, data, Options{})
	newDst := func() *Tree {
		d, _ := New(src.Root(), Options{})
		if err := d.SetPeaks(src.PeakNodes()); err != nil {
			t.Fatal(err)
		}
		return d
	}
	uncles := func(c uint64) []Node {
		var out []Node
		for _, u := range src.Uncles(nil, ChunkBin(c), nil) {
			out = append(out, Node{u, bytes.Clone(src.Hash(u))})
		}
		return out
	}
	one := func(d *Tree, cands []Node, c Chunk) error {
		var e error
		d.Verify(cands, []Chunk{c}, nil, func(_ int, err error) { e = err })
		return e
	}
	t.Run("corrupt data", func(t *testing.T) {
		bad := bytes.Clone(data[1024:2048])
		bad[7] ^= 1
		if err := one(newDst(), uncles(1), Chunk{1, bad}); !errors.Is(err, ErrMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("corrupt uncle", func(t *testing.T) {
		u := uncles(1)
		u[len(u)-1].Hash[0] ^= 1
		if err := one(newDst(), u, Chunk{1, data[1024:2048]}); !errors.Is(err, ErrMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing uncle", func(t *testing.T) {
		u := uncles(1)
		if err := one(newDst(), u[:len(u)-1], Chunk{1, data[1024:2048]}); !errors.Is(err, ErrMissingHash) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("out of range", func(t *testing.T) {
		if err := one(newDst(), nil, Chunk{26, data[:1024]}); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("short chunk", func(t *testing.T) {
		if err := one(newDst(), uncles(1), Chunk{1, data[1024:2000]}); !errors.Is(err, ErrMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("last chunk padded", func(t *testing.T) {
		last := append(bytes.Clone(data[25*1024:]), 0)
		if err := one(newDst(), uncles(25), Chunk{25, last}); !errors.Is(err, ErrMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no size", func(t *testing.T) {
		d, _ := New(src.Root(), Options{})
		if err := one(d, uncles(1), Chunk{1, data[1024:2048]}); !errors.Is(err, ErrNoSize) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("lying peaks", func(t *testing.T) {
		d, _ := New(src.Root(), Options{})
		p := src.PeakNodes()
		p[1].Hash = bytes.Clone(p[1].Hash)
		p[1].Hash[3] ^= 0x80
		if err := d.SetPeaks(p); !errors.Is(err, ErrMismatch) {
			t.Fatalf("err = %v", err)
		}
		if err := d.SetPeaks(p[:2]); err == nil {
			t.Fatal("short peak list accepted")
		}
		if err := d.SetPeaks([]Node{{15, p[0].Hash}, {49, p[2].Hash}}); !errors.Is(err, ErrBadPeaks) {
			t.Fatalf("gap accepted: %v", err)
		}
		if d.NumChunks() != 0 {
			t.Fatal("size set by bad peaks")
		}
	})
}

func TestSHA256AndChunkSizes(t *testing.T) {
	data := pattern(300_000)
	for _, cs := range []int{1024, 2048, 65536, 1 << 20} {
		for _, hf := range []HashFunc{SHA1, SHA256, SHA512} {
			src := mustBuild(t, data, Options{ChunkSize: cs, HashFunc: hf})
			if len(src.Root()) != hf.Size() {
				t.Fatal("root size")
			}
			n := src.NumChunks()
			order := make([]uint64, n)
			for i := range order {
				order[i] = uint64(n) - 1 - uint64(i)
			}
			transfer(t, src, data, order, 1)
		}
	}
	if _, err := Build(bytes.NewReader(data), 10, Options{ChunkSize: 1000}, 1); err == nil {
		t.Error("chunk size 1000 accepted")
	}
	if _, err := Build(bytes.NewReader(data), 0, Options{}, 1); err == nil {
		t.Error("empty content accepted")
	}
	if _, err := Build(bytes.NewReader(data[:10]), 100, Options{}, 1); err == nil {
		t.Error("short reader accepted")
	}
}

func TestRestore(t *testing.T) {
	data := pattern(50_000)
	src := mustBuild(t, data, Options{})
	d, _ := New(src.Root(), Options{})
	if err := d.Restore(src.NumChunks(), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	for b := Bin(0); b <= 2*src.RootBin(); b++ {
		if b.Layer() >= 3 && src.Known(b) {
			d.Put(b, src.Hash(b))
		}
	}
	transfer2 := func(c uint64) error {
		var e error
		var cands []Node
		for _, u := range src.Uncles(nil, ChunkBin(c), func(p Bin) bool { return p.Layer() > 3 }) {
			cands = append(cands, Node{u, src.Hash(u)})
		}
		d.Verify(cands, []Chunk{{c, data[c*1024 : min(c*1024+1024, uint64(len(data)))]}}, nil, func(_ int, err error) { e = err })
		return e
	}
	for c := uint64(0); c < src.NumChunks(); c++ {
		if err := transfer2(c); err != nil {
			t.Fatalf("chunk %d: %v", c, err)
		}
	}
}

// TestRestoredPeaks: a tree restored with only the root (a store that
// lacked the peaks) accepts the right peaks, rejects wrong ones, derives
// them from the nodes below, and lists them in Spine for storing.
func TestRestoredPeaks(t *testing.T) {
	data := pattern((2048+512+16)*1024 - 77) // three peaks
	src := mustBuild(t, data, Options{})
	restored := func() *Tree {
		d, err := New(src.Root(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Restore(src.NumChunks(), -1); err != nil {
			t.Fatal(err)
		}
		if d.PeaksKnown() {
			t.Fatal("restored tree claims its peaks")
		}
		return d
	}
	t.Run("SetPeaks", func(t *testing.T) {
		d := restored()
		bad := src.PeakNodes()
		bad[1].Hash = bytes.Clone(bad[1].Hash)
		bad[1].Hash[0] ^= 1
		if err := d.SetPeaks(bad); !errors.Is(err, ErrMismatch) {
			t.Fatalf("wrong peak: %v, want ErrMismatch", err)
		}
		if d.PeaksKnown() {
			t.Fatal("wrong peaks accepted")
		}
		if err := d.SetPeaks(src.PeakNodes()); err != nil {
			t.Fatal(err)
		}
		if !d.PeaksKnown() {
			t.Fatal("peaks not known after SetPeaks")
		}
		spine := d.Spine(nil)
		// The three peaks first, then the chain from the last one up to
		// the root (bins 5151 .. 4095 here).
		if len(spine) != 11 || spine[0] != 2047 || spine[1] != 4607 || spine[2] != 5135 || spine[10] != src.RootBin() {
			t.Fatalf("spine %v", spine)
		}
		for _, b := range spine {
			if !bytes.Equal(d.Hash(b), src.Hash(b)) {
				t.Fatalf("spine node %v: %x, want %x", b, d.Hash(b), src.Hash(b))
			}
		}
	})
	t.Run("DerivePeaks", func(t *testing.T) {
		d := restored()
		// Every node below layer 9 but none at or above it: the peaks
		// (layers 11, 9, 4) must be computed from below.
		for b := Bin(0); b <= 2*src.RootBin(); b++ {
			if b.Layer() < 9 && src.Known(b) && !src.empty(b) {
				d.Put(b, src.Hash(b))
			}
		}
		newly, err := d.DerivePeaks(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !d.PeaksKnown() || len(newly) == 0 {
			t.Fatalf("peaks not derived: %v", newly)
		}
		for _, b := range newly {
			if !bytes.Equal(d.Hash(b), src.Hash(b)) {
				t.Fatalf("derived %v wrong", b)
			}
		}
	})
	t.Run("DerivePeaks-partial", func(t *testing.T) {
		d := restored()
		for b := Bin(0); b <= 2*src.RootBin(); b++ {
			if f, _ := b.Base(); f < 2048 && src.Known(b) {
				d.Put(b, src.Hash(b))
			}
		}
		newly, err := d.DerivePeaks(nil)
		if err != nil || len(newly) != 0 || d.PeaksKnown() {
			t.Fatalf("DerivePeaks with peaks underivable: %v %v, known %v", newly, err, d.PeaksKnown())
		}
	})
	t.Run("DerivePeaks-corrupt", func(t *testing.T) {
		d := restored()
		for b := Bin(0); b <= 2*src.RootBin(); b++ {
			if b.Layer() == 0 && src.Known(b) && !src.empty(b) {
				h := bytes.Clone(src.Hash(b))
				if b == 0 {
					h[0] ^= 1
				}
				d.Put(b, h)
			}
		}
		if _, err := d.DerivePeaks(nil); !errors.Is(err, ErrMismatch) {
			t.Fatalf("corrupt nodes: %v, want ErrMismatch", err)
		}
	})
}

func BenchmarkBuild(b *testing.B) {
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(i * 7919 >> 3)
	}
	for _, w := range []int{1, 0} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Build(bytes.NewReader(data), int64(len(data)), Options{}, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("raw-sha1", func(b *testing.B) {
		for range 8 {
			sha1.Sum(data[:1<<20]) // warm-up, as in BenchmarkBuildBytes
		}
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			sha1.Sum(data)
		}
	})
}

func BenchmarkVerifyInOrder(b *testing.B) {
	data := make([]byte, 8<<20)
	src := mustBuild(b, data, Options{})
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d, _ := New(src.Root(), Options{})
		d.SetPeaks(src.PeakNodes())
		var cands []Node
		var ub []Bin
		for c := uint64(0); c < src.NumChunks(); c++ {
			ub = src.Uncles(ub[:0], ChunkBin(c), func(p Bin) bool { f, _ := p.Base(); return f < c })
			cands = cands[:0]
			for _, u := range ub {
				cands = append(cands, Node{u, src.Hash(u)})
			}
			d.Verify(cands, []Chunk{{c, data[c*1024 : c*1024+1024]}}, nil, func(_ int, err error) {
				if err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// mapNodes is a NodeStore over a map, standing in for a store's file.
type mapNodes struct {
	hs    int
	m     map[uint64][]byte
	reads int
}

func (m *mapNodes) ReadHashes(first uint64, dst []byte, known []uint64) error {
	m.reads++
	clear(known)
	for k := 0; k*m.hs < len(dst); k++ {
		if h, ok := m.m[first+uint64(k)]; ok {
			copy(dst[k*m.hs:], h)
			known[k/64] |= 1 << (k % 64)
		}
	}
	return nil
}

func (m *mapNodes) PutHashes(bins []uint64, hashes []byte) error {
	for k, b := range bins {
		if _, ok := m.m[b]; !ok {
			m.m[b] = bytes.Clone(hashes[k*m.hs : (k+1)*m.hs])
		}
	}
	return nil
}

// TestPagedTree: a tree over a NodeStore with a cache far smaller than the
// tree verifies a transfer in random order, writes every verified hash
// through, and a tree restored over the same store knows them again.
func TestPagedTree(t *testing.T) {
	data := pattern((4096+1024+7)*1024 - 5)
	src := mustBuild(t, data, Options{})
	order := make([]uint64, src.NumChunks())
	for i := range order {
		order[i] = uint64(i)
	}
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	ns := &mapNodes{hs: 20, m: make(map[uint64][]byte)}
	cache := NewNodeCache(8 * pageBins * 20) // 8 pages of a tree of 41 pages
	dst := transferOpts(t, src, data, order, 3, Options{Nodes: ns, Cache: cache})
	if err := dst.Err(); err != nil {
		t.Fatal(err)
	}
	st := cache.Stats()
	if st.Bytes > st.Limit || st.Misses == 0 {
		t.Fatalf("cache %+v: over its limit, or never missed", st)
	}
	for b := Bin(0); b <= 2*src.RootBin(); b++ {
		if f, _ := b.Base(); f >= src.NumChunks() || b.Layer() == 0 {
			continue
		}
		if h, ok := ns.m[uint64(b)]; ok && !bytes.Equal(h, src.Hash(b)) {
			t.Fatalf("stored %v differs", b)
		}
	}
	for c := uint64(0); c < src.NumChunks(); c++ {
		if !bytes.Equal(ns.m[uint64(ChunkBin(c))], src.Hash(ChunkBin(c))) {
			t.Fatalf("leaf %d not stored", c)
		}
	}
	re, err := New(src.Root(), Options{Nodes: ns, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	if err := re.Restore(src.NumChunks(), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if !re.PeaksKnown() {
		t.Fatal("restored paged tree lacks its peaks")
	}
	for _, c := range []uint64{0, 4095, 4096, src.NumChunks() - 1} {
		if !bytes.Equal(re.Hash(ChunkBin(c)), src.Hash(ChunkBin(c))) {
			t.Fatalf("restored leaf %d", c)
		}
	}
	re.Release()
	dst.Release()
	if st := cache.Stats(); st.Bytes != 0 || st.Pages != 0 {
		t.Fatalf("cache after Release: %+v", st)
	}
}
