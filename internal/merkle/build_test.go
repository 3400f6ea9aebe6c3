package merkle

import (
	"bytes"
	"fmt"
	"testing"
)

// TestBuildBytesMatchesBuild checks that hashing content in place gives the
// same tree as reading it through an io.ReaderAt, for lengths that end
// inside a chunk, on a segment boundary and past several segments, with
// one and several workers.
func TestBuildBytesMatchesBuild(t *testing.T) {
	for _, n := range []int{1, 1023, 1024, 1025, 40 << 10, segmentChunks << 10, (3*segmentChunks+5)<<10 + 7} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*131 + i>>9)
		}
		for _, o := range []Options{{}, {ChunkSize: 4096, HashFunc: SHA256}} {
			for _, w := range []int{1, 3} {
				t.Run(fmt.Sprintf("n=%d/cs=%d/w=%d", n, o.ChunkSize, w), func(t *testing.T) {
					a, err := Build(bytes.NewReader(data), int64(n), o, w)
					if err != nil {
						t.Fatal(err)
					}
					b, err := BuildBytes(data, o, w)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(a.Root(), b.Root()) {
						t.Fatalf("roots differ: %x vs %x", a.Root(), b.Root())
					}
					for c := uint64(0); c < a.NumChunks(); c++ {
						if !bytes.Equal(a.Hash(ChunkBin(c)), b.Hash(ChunkBin(c))) {
							t.Fatalf("leaf %d differs", c)
						}
					}
				})
			}
		}
	}
	if _, err := BuildBytes(nil, Options{}, 1); err == nil {
		t.Fatal("empty content hashed")
	}
}

func BenchmarkBuildBytes(b *testing.B) {
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(i * 7919 >> 3)
	}
	// A warm-up pass: under js/wasm, V8 first runs code compiled by its
	// baseline compiler and recompiles hot functions optimised later, so the
	// first passes over 64 MiB measured the compiler (0.6-0.9x raw, against
	// 0.85x warm).
	BuildBytes(data[:8<<20], Options{}, 1)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := BuildBytes(data, Options{}, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBuildMatchesDefinition checks every node a build computes against
// the tree's definition (doc.go) evaluated naively with crypto/sha1 and
// crypto/sha256, on both SHA-1 paths (two messages at a time, where the CPU
// has the SHA extensions, and crypto/sha1 alone): lengths with an odd and an
// even chunk count, a short last chunk, several segments with a partial last
// one, other chunk sizes.
func TestBuildMatchesDefinition(t *testing.T) {
	lengths := []int{1, 64, 1024, 2048, 3 * 1024, 5*1024 + 1, 7162, 64 << 10, (2*segmentChunks+3)<<10 + 100}
	paths := []bool{false}
	if haveSHA1x2 {
		paths = append(paths, true)
	}
	defer func(v bool) { useSHA1x2 = v }(useSHA1x2)
	for _, x2 := range paths {
		useSHA1x2 = x2
		for _, n := range lengths {
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(i*7 + i>>10)
			}
			for _, o := range []Options{{}, {ChunkSize: 2048}, {ChunkSize: 64 << 10}, {HashFunc: SHA256}} {
				for _, w := range []int{1, 2} {
					t.Run(fmt.Sprintf("x2=%v/n=%d/cs=%d/%v/w=%d", x2, n, o.ChunkSize, o.HashFunc, w), func(t *testing.T) {
						tr, err := BuildBytes(data, o, w)
						if err != nil {
							t.Fatal(err)
						}
						cs := int(tr.cs)
						memo := map[Bin][]byte{}
						var ref func(b Bin) []byte
						ref = func(b Bin) []byte {
							if h, ok := memo[b]; ok {
								return h
							}
							f, _ := b.Base()
							if f >= tr.NumChunks() {
								return make([]byte, tr.hs)
							}
							if b.Layer() == 0 {
								return tr.hf.Sum(data[int(f)*cs : min(int(f+1)*cs, n)])
							}
							h := tr.hf.Sum(append(append([]byte(nil), ref(b.Left())...), ref(b.Right())...))
							memo[b] = h
							return h
						}
						for b := Bin(0); b <= 2*tr.rootBin; b++ {
							if want := ref(b); !bytes.Equal(tr.node(b), want) {
								t.Fatalf("bin %d: %x, want %x", b, tr.node(b), want)
							}
						}
						if !bytes.Equal(tr.Root(), ref(tr.rootBin)) {
							t.Fatal("root differs")
						}
					})
				}
			}
		}
	}
}
