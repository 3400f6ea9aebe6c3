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
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := BuildBytes(data, Options{}, 1); err != nil {
			b.Fatal(err)
		}
	}
}
