package ppsp

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// CAM is a chunk addressing method (RFC 7574 §4, protocol option 6).
//
// The Go value of a CAM is NOT its wire code: the constants are numbered so
// that the zero value is CAMChunkRanges32, the RFC default, which makes the
// zero Context usable. Convert with Code and CAMFromCode.
type CAM uint8

const (
	CAMChunkRanges32 CAM = iota // wire code 2: u32 start chunk, u32 end chunk (default; libswift, peregrine)
	CAMBins32                   // wire code 0: one u32 bin
	CAMByteRanges64             // wire code 1: u64 start byte, u64 end byte
	CAMBins64                   // wire code 3: one u64 bin
	CAMChunkRanges64            // wire code 4: u64 start chunk, u64 end chunk
)

var camCodes = [...]uint8{CAMChunkRanges32: 2, CAMBins32: 0, CAMByteRanges64: 1, CAMBins64: 3, CAMChunkRanges64: 4}
var camFromCode = [...]CAM{0: CAMBins32, 1: CAMByteRanges64, 2: CAMChunkRanges32, 3: CAMBins64, 4: CAMChunkRanges64}

// Code returns the wire code of c (option 6 value). It returns 0xff for an
// invalid CAM.
func (c CAM) Code() uint8 {
	if int(c) >= len(camCodes) {
		return 0xff
	}
	return camCodes[c]
}

// CAMFromCode maps a wire code (option 6 value) to a CAM.
func CAMFromCode(code uint8) (CAM, bool) {
	if int(code) >= len(camFromCode) {
		return 0, false
	}
	return camFromCode[code], true
}

// Valid reports whether c is one of the five assigned methods.
func (c CAM) Valid() bool { return int(c) < len(camCodes) }

// SpecSize returns the wire size of a chunk spec in this method, 0 if c is invalid.
func (c CAM) SpecSize() int {
	switch c {
	case CAMBins32:
		return 4
	case CAMChunkRanges32, CAMBins64:
		return 8
	case CAMByteRanges64, CAMChunkRanges64:
		return 16
	}
	return 0
}

// Is64 reports whether the method uses 64-bit fields, which also makes the
// live discard window option a u64 (RFC 7574 §7.7).
func (c CAM) Is64() bool { return c == CAMByteRanges64 || c == CAMBins64 || c == CAMChunkRanges64 }

func (c CAM) String() string {
	switch c {
	case CAMChunkRanges32:
		return "32-bit chunk ranges"
	case CAMBins32:
		return "32-bit bins"
	case CAMByteRanges64:
		return "64-bit byte ranges"
	case CAMBins64:
		return "64-bit bins"
	case CAMChunkRanges64:
		return "64-bit chunk ranges"
	}
	return fmt.Sprintf("CAM(%d)", uint8(c))
}

// Spec is a chunk specification: an end-inclusive range [Start, End].
//
// For the chunk-range and bin methods the unit is chunks. For
// CAMByteRanges64 (CAM 1) the unit is bytes, kept as on the wire; the
// caller knows which from its Context.
//
// Bins (CAM 0 and 3) are decoded to the chunk range the bin covers, using the
// RFC 7574 §4.2 numbering: leaf i is bin 2i, and the node at layer L, offset o
// is bin o·2^(L+1) + 2^L − 1, covering chunks [o·2^L, (o+1)·2^L − 1]. So bin
// number = Start + End. The "all" bin (0x7FFFFFFF, or 0x7FFF…FF for 64-bit
// bins) is not special: it decodes to the root's range [0, 2^31−1] (or
// [0, 2^63−1]). The "empty" bin (0xFFFFFFFF / 0xFFFF…FF) decodes to
// EmptySpec, the only kind of Spec with Start > End; range methods cannot
// carry it.
type Spec struct {
	Start, End uint64
}

// EmptySpec is the canonical empty spec (bin 0xFFFFFFFF / 0xFFFF…FF).
// Any Spec with Start > End is treated as empty by the appenders.
var EmptySpec = Spec{Start: 1, End: 0}

// Chunk returns the spec of the single chunk i.
func Chunk(i uint64) Spec { return Spec{i, i} }

// IsEmpty reports whether s is the empty spec (Start > End).
func (s Spec) IsEmpty() bool { return s.Start > s.End }

// Bin returns the RFC 7574 bin number of s and whether s is exactly one bin
// (an aligned, power-of-two-long range). The empty spec is not a bin here.
func (s Spec) Bin() (uint64, bool) {
	if s.Start > s.End {
		return 0, false
	}
	n := s.End - s.Start + 1 // 0 on overflow ([0, 2^64-1]): not a bin
	if n == 0 || n&(n-1) != 0 || s.Start&(n-1) != 0 {
		return 0, false
	}
	if s.End >= 1<<63 {
		return 0, false
	}
	return s.Start + s.End, true
}

// BinSpec returns the chunk range covered by bin b (RFC 7574 §4.2).
// BinSpec(math.MaxUint64) is EmptySpec.
func BinSpec(b uint64) Spec {
	if b == math.MaxUint64 {
		return EmptySpec
	}
	layer := trailingOnes64(b)
	start := (b >> (layer + 1)) << layer
	return Spec{start, start + (1 << layer) - 1}
}

func trailingOnes64(b uint64) uint { return uint(bits.TrailingZeros64(^b)) }

// appendSpec appends s in method c. It does not modify b on error.
func appendSpec(b []byte, c CAM, s Spec) ([]byte, error) {
	switch c {
	case CAMChunkRanges32:
		if s.Start > s.End || s.End > math.MaxUint32 {
			return b, fmt.Errorf("%w: %v in %v", ErrInvalidSpec, s, c)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(s.Start))
		return binary.BigEndian.AppendUint32(b, uint32(s.End)), nil
	case CAMChunkRanges64, CAMByteRanges64:
		if s.Start > s.End {
			return b, fmt.Errorf("%w: %v in %v", ErrInvalidSpec, s, c)
		}
		b = binary.BigEndian.AppendUint64(b, s.Start)
		return binary.BigEndian.AppendUint64(b, s.End), nil
	case CAMBins32:
		if s.IsEmpty() {
			return binary.BigEndian.AppendUint32(b, math.MaxUint32), nil
		}
		bin, ok := s.Bin()
		if !ok || s.End >= 1<<31 {
			return b, fmt.Errorf("%w: %v in %v", ErrInvalidSpec, s, c)
		}
		return binary.BigEndian.AppendUint32(b, uint32(bin)), nil
	case CAMBins64:
		if s.IsEmpty() {
			return binary.BigEndian.AppendUint64(b, math.MaxUint64), nil
		}
		bin, ok := s.Bin()
		if !ok {
			return b, fmt.Errorf("%w: %v in %v", ErrInvalidSpec, s, c)
		}
		return binary.BigEndian.AppendUint64(b, bin), nil
	}
	return b, fmt.Errorf("%w: %v", ErrInvalidContext, c)
}

// decodeSpec decodes a spec from the front of p, which must hold at least
// c.SpecSize() bytes.
func decodeSpec(p []byte, c CAM) (Spec, error) {
	var s Spec
	switch c {
	case CAMChunkRanges32:
		s = Spec{uint64(binary.BigEndian.Uint32(p)), uint64(binary.BigEndian.Uint32(p[4:]))}
	case CAMChunkRanges64, CAMByteRanges64:
		s = Spec{binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])}
	case CAMBins32:
		b := binary.BigEndian.Uint32(p)
		if b == math.MaxUint32 {
			return EmptySpec, nil
		}
		return BinSpec(uint64(b)), nil
	case CAMBins64:
		return BinSpec(binary.BigEndian.Uint64(p)), nil
	default:
		return s, ErrInvalidContext
	}
	if s.Start > s.End {
		return s, ErrSpecOrder
	}
	return s, nil
}

func (s Spec) String() string { return string(appendSpecText(nil, s)) }
