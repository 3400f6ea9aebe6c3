package ppsp

import (
	"encoding/binary"
	"fmt"
	"math"
)

// OptionCode is a HANDSHAKE protocol option code (RFC 7574 §7, IANA "PPSP
// Peer Protocol Option").
type OptionCode uint8

const (
	OptVersion           OptionCode = 0   // u8; 1 = RFC 7574
	OptMinVersion        OptionCode = 1   // u8
	OptSwarmID           OptionCode = 2   // u16 length + bytes
	OptCIPM              OptionCode = 3   // u8 content integrity protection method
	OptMHF               OptionCode = 4   // u8 Merkle hash tree function
	OptLSA               OptionCode = 5   // u8 live signature algorithm (DNSSEC number)
	OptCAM               OptionCode = 6   // u8 chunk addressing method
	OptLiveDiscardWindow OptionCode = 7   // u32 (CAM 0/2) or u64 (CAM 1/3/4)
	OptSupportedMessages OptionCode = 8   // u8 length + compressed bitmap
	OptChunkSize         OptionCode = 9   // u32 (RFC 7574 only, not draft-10)
	OptEnd               OptionCode = 255 // no value; ends the list
)

// Content integrity protection methods (option 3).
const (
	CIPMNone        = 0
	CIPMMerkle      = 1 // static content default
	CIPMSignAll     = 2
	CIPMUnifiedTree = 3 // live default
)

// Merkle hash tree functions (option 4).
const (
	MHFSHA1   = 0 // default; the only one libswift implements
	MHFSHA224 = 1
	MHFSHA256 = 2
	MHFSHA384 = 3
	MHFSHA512 = 4
)

// Live signature algorithms (option 5), DNSSEC algorithm numbers.
const (
	LSARSASHA1         = 5
	LSARSASHA1NSEC3    = 7
	LSARSASHA256       = 8
	LSARSASHA512       = 10
	LSAECDSAP256SHA256 = 13 // default
	LSAECDSAP384SHA384 = 14
	LSAEd25519         = 15
	LSAEd448           = 16
)

const (
	// ChunkSizeVariable is the option-9 value for variable-size chunks.
	ChunkSizeVariable = math.MaxUint32
	// DiscardWindowNever is the option-7 value "never discards". With a
	// 32-bit CAM it is written, and read back, as 0xFFFFFFFF.
	DiscardWindowNever = math.MaxUint64
)

const (
	discardNever32      = math.MaxUint32
	hashSizeDefault     = 20 // SHA-1
	sigSizeDefault      = 64 // ECDSAP256SHA256
	maxSwarmIDLen       = math.MaxUint16
	maxSupportedMsgsLen = math.MaxUint8
	maxCertLen          = math.MaxUint16
	legacyHandshakeByte = byte(MsgIntegrity) // first message byte of libswift's pre-IETF handshake
)

// HashSize returns the hash length in bytes for a Merkle hash function code.
func HashSize(mhf uint8) (int, bool) {
	switch mhf {
	case MHFSHA1:
		return 20, true
	case MHFSHA224:
		return 28, true
	case MHFSHA256:
		return 32, true
	case MHFSHA384:
		return 48, true
	case MHFSHA512:
		return 64, true
	}
	return 0, false
}

// SigSize returns the signature length for a live signature algorithm. For
// the RSA algorithms the length is the modulus length, read from swarmID
// (1-byte algorithm + RFC 3110 DNSKEY public key); ok is false when it
// cannot be determined.
func SigSize(lsa uint8, swarmID []byte) (int, bool) {
	switch lsa {
	case LSAECDSAP256SHA256, LSAEd25519:
		return 64, true
	case LSAECDSAP384SHA384:
		return 96, true
	case LSAEd448:
		return 114, true
	case LSARSASHA1, LSARSASHA1NSEC3, LSARSASHA256, LSARSASHA512:
		if len(swarmID) < 2 {
			return 0, false
		}
		k := swarmID[1:]
		elen, off := int(k[0]), 1
		if elen == 0 {
			if len(k) < 3 {
				return 0, false
			}
			elen, off = int(binary.BigEndian.Uint16(k[1:])), 3
		}
		mod := len(k) - off - elen
		if mod <= 0 {
			return 0, false
		}
		return mod, true
	}
	return 0, false
}

// Options are the protocol options of a HANDSHAKE (RFC 7574 §7).
//
// Which options are present is tracked separately from the values (zero is a
// meaningful value for most of them): set options with the Set* methods, test
// with Has. A field set directly without its Set* call is not encoded.
// Decoded SwarmID and SupportedMessages alias the parsed datagram.
type Options struct {
	Version           uint8
	MinVersion        uint8
	SwarmID           []byte
	CIPM              uint8
	MHF               uint8
	LSA               uint8
	CAM               CAM
	LiveDiscardWindow uint64 // chunks (bytes for CAM 1); DiscardWindowNever = keeps everything
	SupportedMessages []byte // compressed bitmap as on the wire; see SupportedMessagesBitmap
	ChunkSize         uint32 // bytes; ChunkSizeVariable = variable-size chunks

	present uint16 // bit i set: option code i present
}

// Has reports whether option c is present.
func (o *Options) Has(c OptionCode) bool { return c < 16 && o.present&(1<<c) != 0 }

// Clear removes option c.
func (o *Options) Clear(c OptionCode) {
	if c < 16 {
		o.present &^= 1 << c
	}
}

func (o *Options) set(c OptionCode) { o.present |= 1 << c }

// SetVersion sets option 0, the protocol version (1 = RFC 7574).
func (o *Options) SetVersion(v uint8) { o.Version = v; o.set(OptVersion) }

// SetMinVersion sets option 1, the minimum supported version.
func (o *Options) SetMinVersion(v uint8) { o.MinVersion = v; o.set(OptMinVersion) }

// SetSwarmID sets option 2, the swarm ID (root hash, or DNSSEC algorithm +
// public key for live streams). It is not copied.
func (o *Options) SetSwarmID(id []byte) { o.SwarmID = id; o.set(OptSwarmID) }

// SetCIPM sets option 3, the content integrity protection method (CIPM*).
func (o *Options) SetCIPM(v uint8) { o.CIPM = v; o.set(OptCIPM) }

// SetMHF sets option 4, the Merkle hash tree function (MHF*).
func (o *Options) SetMHF(v uint8) { o.MHF = v; o.set(OptMHF) }

// SetLSA sets option 5, the live signature algorithm (LSA*).
func (o *Options) SetLSA(v uint8) { o.LSA = v; o.set(OptLSA) }

// SetCAM sets option 6, the chunk addressing method.
func (o *Options) SetCAM(c CAM) { o.CAM = c; o.set(OptCAM) }

// SetLiveDiscardWindow sets option 7 (requires option 6 when encoding).
func (o *Options) SetLiveDiscardWindow(w uint64) {
	o.LiveDiscardWindow = w
	o.set(OptLiveDiscardWindow)
}

// SetSupportedMessages sets option 8 to a compressed bitmap, see
// SupportedMessagesBitmap. Never send it to libswift, which misparses it.
func (o *Options) SetSupportedMessages(bitmap []byte) {
	o.SupportedMessages = bitmap
	o.set(OptSupportedMessages)
}

// SetChunkSize sets option 9 (RFC 7574 only). Never send it to libswift,
// which drops handshakes carrying it.
func (o *Options) SetChunkSize(n uint32) { o.ChunkSize = n; o.set(OptChunkSize) }

// Supports reports whether the peer announced support for message type t.
// Without option 8 every type is supported (RFC 7574 §7.10).
func (o *Options) Supports(t MsgType) bool {
	if !o.Has(OptSupportedMessages) {
		return true
	}
	i := int(t) / 8
	return i < len(o.SupportedMessages) && o.SupportedMessages[i]&(0x80>>(t%8)) != 0
}

// SupportedMessagesBitmap builds the option-8 bitmap for the given types:
// bit X counted from the MSB of byte 0 is type X, trailing zero bytes dropped.
func SupportedMessagesBitmap(types ...MsgType) []byte {
	var bm [32]byte
	n := 0
	for _, t := range types {
		bm[t/8] |= 0x80 >> (t % 8)
		n = max(n, int(t/8)+1)
	}
	for n > 0 && bm[n-1] == 0 {
		n--
	}
	return append([]byte(nil), bm[:n]...)
}

// LibswiftOptions returns the handshake options that libswift (and
// libperegrine) accept: version 1, minimum version 1, the swarm ID if
// non-nil, CIPM 1 (Merkle), the given MHF, CAM 2. Options 7, 8 and 9 are not
// included: libswift drops handshakes carrying 9 and misparses 8 (see
// ppsp-wire.md §4). Add them with the Set* methods only for peers that
// understand them.
func LibswiftOptions(swarmID []byte, mhf uint8) Options {
	var o Options
	o.SetVersion(1)
	o.SetMinVersion(1)
	if swarmID != nil {
		o.SetSwarmID(swarmID)
	}
	o.SetCIPM(CIPMMerkle)
	o.SetMHF(mhf)
	o.SetCAM(CAMChunkRanges32)
	return o
}

// appendOptions appends the options of o sorted by code and the end option.
// It does not modify b on error.
func appendOptions(b []byte, o *Options) ([]byte, error) {
	if o.present>>10 != 0 {
		return b, fmt.Errorf("%w: unknown option bits %#x", ErrUnknownOption, o.present)
	}
	if o.Has(OptSwarmID) && len(o.SwarmID) > maxSwarmIDLen {
		return b, fmt.Errorf("%w: swarm ID length %d", ErrInvalidOption, len(o.SwarmID))
	}
	if o.Has(OptMHF) {
		if _, ok := HashSize(o.MHF); !ok {
			return b, fmt.Errorf("%w: merkle hash function %d", ErrInvalidOption, o.MHF)
		}
	}
	if o.Has(OptCAM) && !o.CAM.Valid() {
		return b, fmt.Errorf("%w: %v", ErrInvalidOption, o.CAM)
	}
	if o.Has(OptLiveDiscardWindow) {
		if !o.Has(OptCAM) {
			return b, fmt.Errorf("%w: live discard window without chunk addressing method", ErrInvalidOption)
		}
		if !o.CAM.Is64() && o.LiveDiscardWindow > math.MaxUint32 && o.LiveDiscardWindow != DiscardWindowNever {
			return b, fmt.Errorf("%w: live discard window %d does not fit %v", ErrInvalidOption, o.LiveDiscardWindow, o.CAM)
		}
	}
	if o.Has(OptSupportedMessages) && len(o.SupportedMessages) > maxSupportedMsgsLen {
		return b, fmt.Errorf("%w: supported messages length %d", ErrInvalidOption, len(o.SupportedMessages))
	}
	if o.Has(OptVersion) {
		b = append(b, byte(OptVersion), o.Version)
	}
	if o.Has(OptMinVersion) {
		b = append(b, byte(OptMinVersion), o.MinVersion)
	}
	if o.Has(OptSwarmID) {
		b = append(b, byte(OptSwarmID))
		b = binary.BigEndian.AppendUint16(b, uint16(len(o.SwarmID)))
		b = append(b, o.SwarmID...)
	}
	if o.Has(OptCIPM) {
		b = append(b, byte(OptCIPM), o.CIPM)
	}
	if o.Has(OptMHF) {
		b = append(b, byte(OptMHF), o.MHF)
	}
	if o.Has(OptLSA) {
		b = append(b, byte(OptLSA), o.LSA)
	}
	if o.Has(OptCAM) {
		b = append(b, byte(OptCAM), o.CAM.Code())
	}
	if o.Has(OptLiveDiscardWindow) {
		b = append(b, byte(OptLiveDiscardWindow))
		if o.CAM.Is64() {
			b = binary.BigEndian.AppendUint64(b, o.LiveDiscardWindow)
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(o.LiveDiscardWindow))
		}
	}
	if o.Has(OptSupportedMessages) {
		b = append(b, byte(OptSupportedMessages), byte(len(o.SupportedMessages)))
		b = append(b, o.SupportedMessages...)
	}
	if o.Has(OptChunkSize) {
		b = append(b, byte(OptChunkSize))
		b = binary.BigEndian.AppendUint32(b, o.ChunkSize)
	}
	return append(b, byte(OptEnd)), nil
}

// decodeOptions decodes the option list at the front of p (just after the
// source channel ID) into o and returns the number of bytes consumed,
// including the end option. On error, n is the offset in p of the offending
// option.
func decodeOptions(p []byte, o *Options) (n int, err error) {
	last := -1
	for {
		if n >= len(p) {
			return n, ErrTruncated
		}
		code := OptionCode(p[n])
		if code == OptEnd {
			return n + 1, nil
		}
		if code > OptChunkSize {
			return n, ErrUnknownOption
		}
		if int(code) <= last {
			return n, ErrOptionOrder
		}
		last = int(code)
		v := p[n+1:]
		switch code {
		case OptVersion, OptMinVersion, OptCIPM, OptMHF, OptLSA, OptCAM:
			if len(v) < 1 {
				return n, ErrTruncated
			}
			switch code {
			case OptVersion:
				o.Version = v[0]
			case OptMinVersion:
				o.MinVersion = v[0]
			case OptCIPM:
				o.CIPM = v[0]
			case OptMHF:
				if _, ok := HashSize(v[0]); !ok {
					return n, ErrInvalidOption
				}
				o.MHF = v[0]
			case OptLSA:
				o.LSA = v[0]
			case OptCAM:
				c, ok := CAMFromCode(v[0])
				if !ok {
					return n, ErrInvalidOption
				}
				o.CAM = c
			}
			o.set(code)
			n += 2
		case OptSwarmID:
			if len(v) < 2 {
				return n, ErrTruncated
			}
			l := int(binary.BigEndian.Uint16(v))
			if len(v) < 2+l {
				return n, ErrTruncated
			}
			o.SwarmID = v[2 : 2+l : 2+l]
			o.set(code)
			n += 3 + l
		case OptLiveDiscardWindow:
			// RFC 7574 §7.7: the width follows the CAM, which must come
			// earlier in the list.
			if !o.Has(OptCAM) {
				return n, ErrInvalidOption
			}
			if o.CAM.Is64() {
				if len(v) < 8 {
					return n, ErrTruncated
				}
				o.LiveDiscardWindow = binary.BigEndian.Uint64(v)
				n += 9
			} else {
				if len(v) < 4 {
					return n, ErrTruncated
				}
				w := uint64(binary.BigEndian.Uint32(v))
				if w == discardNever32 {
					w = DiscardWindowNever
				}
				o.LiveDiscardWindow = w
				n += 5
			}
			o.set(code)
		case OptSupportedMessages:
			if len(v) < 1 {
				return n, ErrTruncated
			}
			l := int(v[0])
			if len(v) < 1+l {
				return n, ErrTruncated
			}
			o.SupportedMessages = v[1 : 1+l : 1+l]
			o.set(code)
			n += 2 + l
		case OptChunkSize:
			if len(v) < 4 {
				return n, ErrTruncated
			}
			o.ChunkSize = binary.BigEndian.Uint32(v)
			o.set(code)
			n += 5
		}
	}
}
