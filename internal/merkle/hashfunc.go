package merkle

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
)

// HashFunc is a Merkle hash function, numbered as the RFC 7574 §7.5
// "Merkle Hash Tree Function" protocol option.
type HashFunc uint8

// The Merkle hash functions of RFC 7574 §7.5.
const (
	SHA1   HashFunc = 0 // the default; the only one libswift speaks
	SHA224 HashFunc = 1
	SHA256 HashFunc = 2
	SHA384 HashFunc = 3
	SHA512 HashFunc = 4
)

// maxHashSize bounds every hash this package handles.
const maxHashSize = 64

// Size is the digest length in bytes, or 0 for an unknown function.
func (h HashFunc) Size() int {
	switch h {
	case SHA1:
		return sha1.Size
	case SHA224:
		return sha256.Size224
	case SHA256:
		return sha256.Size
	case SHA384:
		return sha512.Size384
	case SHA512:
		return sha512.Size
	}
	return 0
}

// Valid reports whether h is a known function.
func (h HashFunc) Valid() bool { return h.Size() != 0 }

func (h HashFunc) String() string {
	switch h {
	case SHA1:
		return "sha1"
	case SHA224:
		return "sha224"
	case SHA256:
		return "sha256"
	case SHA384:
		return "sha384"
	case SHA512:
		return "sha512"
	}
	return fmt.Sprintf("hashfunc(%d)", uint8(h))
}

// ParseHashFunc parses a name as printed by String.
func ParseHashFunc(s string) (HashFunc, error) {
	for h := SHA1; h <= SHA512; h++ {
		if h.String() == s {
			return h, nil
		}
	}
	return 0, fmt.Errorf("merkle: unknown hash function %q (want sha1, sha224, sha256, sha384 or sha512)", s)
}

// sum writes H(p) into dst, which must hold Size bytes, without allocating.
func (h HashFunc) sum(dst, p []byte) {
	switch h {
	case SHA1:
		s := sha1.Sum(p)
		copy(dst, s[:])
	case SHA224:
		s := sha256.Sum224(p)
		copy(dst, s[:])
	case SHA256:
		s := sha256.Sum256(p)
		copy(dst, s[:])
	case SHA384:
		s := sha512.Sum384(p)
		copy(dst, s[:])
	case SHA512:
		s := sha512.Sum512(p)
		copy(dst, s[:])
	}
}

// sum2 writes H(l ‖ r) into dst.
func (h HashFunc) sum2(dst, l, r []byte) {
	if h == SHA1 && len(l) == sha1.Size && len(r) == sha1.Size {
		// The tree's common case, on a 40-byte buffer: no 128-byte
		// buffer to clear for every parent.
		var buf [2 * sha1.Size]byte
		copy(buf[:sha1.Size], l)
		copy(buf[sha1.Size:], r)
		s := sha1.Sum(buf[:])
		copy(dst, s[:])
		return
	}
	var buf [2 * maxHashSize]byte
	n := copy(buf[:], l)
	n += copy(buf[n:], r)
	h.sum(dst, buf[:n])
}

// Sum returns H(p).
func (h HashFunc) Sum(p []byte) []byte {
	out := make([]byte, h.Size())
	h.sum(out, p)
	return out
}
