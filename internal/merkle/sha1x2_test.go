package merkle

import (
	"crypto/sha1"
	"math/rand/v2"
	"testing"
)

// TestSHA1x2 checks two-message SHA-1 against crypto/sha1 for random
// leaves of every block count up to 20 and random parents.
func TestSHA1x2(t *testing.T) {
	if !haveSHA1x2 {
		t.Skip("no SHA extensions on this CPU or build")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(p []byte) {
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
	}
	for n := 64; n <= 20*64; n += 64 {
		s := newSHA1x2(n)
		for k := 0; k < 20; k++ {
			a, b := make([]byte, n), make([]byte, n)
			fill(a)
			fill(b)
			if k == 0 {
				copy(b, a) // both lanes the same message
			}
			var da, db [20]byte
			s.leaves(da[:], db[:], a, b)
			if da != sha1.Sum(a) || db != sha1.Sum(b) {
				t.Fatalf("len %d: leaves %x %x, want %x %x", n, da, db, sha1.Sum(a), sha1.Sum(b))
			}
		}
	}
	s := newSHA1x2(1024)
	for k := 0; k < 1000; k++ {
		var in [80]byte
		fill(in[:])
		if k == 1 {
			in = [80]byte{}
		}
		var da, db [20]byte
		s.parents(da[:], in[0:20], in[20:40], db[:], in[40:60], in[60:80])
		if da != sha1.Sum(in[:40]) || db != sha1.Sum(in[40:]) {
			t.Fatalf("parents %x %x, want %x %x", da, db, sha1.Sum(in[:40]), sha1.Sum(in[40:]))
		}
	}
}

func BenchmarkSHA1x2(b *testing.B) {
	if !haveSHA1x2 {
		b.Skip("no SHA extensions")
	}
	leaf := make([]byte, 2048)
	var out [40]byte
	b.Run("leaves", func(b *testing.B) {
		s := newSHA1x2(1024)
		b.SetBytes(2048)
		for b.Loop() {
			s.leaves(out[:20], out[20:], leaf[:1024], leaf[1024:])
		}
	})
	b.Run("parents", func(b *testing.B) {
		s := newSHA1x2(1024)
		for b.Loop() {
			s.parents(out[:20], leaf[:20], leaf[20:40], out[20:], leaf[40:60], leaf[60:80])
		}
	})
	b.Run("sha1.Sum-leaf", func(b *testing.B) {
		b.SetBytes(1024)
		for b.Loop() {
			*(*[20]byte)(out[:]) = sha1.Sum(leaf[:1024])
		}
	})
	b.Run("sha1.Sum-parent", func(b *testing.B) {
		for b.Loop() {
			*(*[20]byte)(out[:]) = sha1.Sum(leaf[:40])
		}
	})
}
