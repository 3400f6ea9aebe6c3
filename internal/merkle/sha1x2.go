package merkle

import (
	"crypto/sha1"
	"encoding/binary"
)

// useSHA1x2 selects two-message SHA-1 for building trees (tests turn it off
// to check both paths).
var useSHA1x2 = haveSHA1x2

// sha1IV2 is the SHA-1 initial state (FIPS 180-4 §5.3.1), once per lane.
var sha1IV2 = [10]uint32{
	0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0,
	0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0,
}

// sha1x2 hashes two messages at a time whose lengths are multiples of the
// 64-byte block: leaves of full chunks, and parents (40 bytes, padded to one
// block here). Its buffers hold the padding, written once.
type sha1x2 struct {
	pad [64]byte    // the final block of a message of leafLen bytes
	par [2][64]byte // two parents' inputs: left ‖ right ‖ padding
}

func newSHA1x2(leafLen int) *sha1x2 {
	s := new(sha1x2)
	s.pad[0] = 0x80
	binary.BigEndian.PutUint64(s.pad[56:], uint64(leafLen)*8)
	for i := range s.par {
		s.par[i][2*sha1.Size] = 0x80
		binary.BigEndian.PutUint64(s.par[i][56:], 2*sha1.Size*8)
	}
	return s
}

func putSHA1(dst []byte, h []uint32) {
	_ = dst[19]
	binary.BigEndian.PutUint32(dst[0:], h[0])
	binary.BigEndian.PutUint32(dst[4:], h[1])
	binary.BigEndian.PutUint32(dst[8:], h[2])
	binary.BigEndian.PutUint32(dst[12:], h[3])
	binary.BigEndian.PutUint32(dst[16:], h[4])
}

// leaves writes SHA-1(a) to da and SHA-1(b) to db; a and b have the
// length the padding was made for, a multiple of 64.
func (s *sha1x2) leaves(da, db, a, b []byte) {
	h := sha1IV2
	blockSHA1x2(&h, &a[0], &b[0], len(a)/64)
	blockSHA1x2(&h, &s.pad[0], &s.pad[0], 1)
	putSHA1(da, h[0:5])
	putSHA1(db, h[5:10])
}

// parents writes SHA-1(la ‖ ra) to da and SHA-1(lb ‖ rb) to db.
func (s *sha1x2) parents(da, la, ra, db, lb, rb []byte) {
	copy(s.par[0][:sha1.Size], la)
	copy(s.par[0][sha1.Size:2*sha1.Size], ra)
	copy(s.par[1][:sha1.Size], lb)
	copy(s.par[1][sha1.Size:2*sha1.Size], rb)
	h := sha1IV2
	blockSHA1x2(&h, &s.par[0][0], &s.par[1][0], 1)
	putSHA1(da, h[0:5])
	putSHA1(db, h[5:10])
}
