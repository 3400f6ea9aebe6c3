package ppsp

import (
	"fmt"
	"net/netip"
)

// MsgType is a PPSP message type (RFC 7574 §8, IANA "PPSP Peer Protocol
// Message Type").
type MsgType uint8

const (
	MsgHandshake       MsgType = 0x00
	MsgData            MsgType = 0x01
	MsgAck             MsgType = 0x02
	MsgHave            MsgType = 0x03
	MsgIntegrity       MsgType = 0x04
	MsgPexResV4        MsgType = 0x05
	MsgPexReq          MsgType = 0x06
	MsgSignedIntegrity MsgType = 0x07
	MsgRequest         MsgType = 0x08
	MsgCancel          MsgType = 0x09
	MsgChoke           MsgType = 0x0a
	MsgUnchoke         MsgType = 0x0b
	MsgPexResV6        MsgType = 0x0c
	MsgPexResCert      MsgType = 0x0d
	numMsgTypes                = 14 // 14–254 unassigned, 255 reserved
)

var msgNames = [numMsgTypes]string{
	"HANDSHAKE", "DATA", "ACK", "HAVE", "INTEGRITY", "PEX_RESv4", "PEX_REQ",
	"SIGNED_INTEGRITY", "REQUEST", "CANCEL", "CHOKE", "UNCHOKE", "PEX_RESv6", "PEX_REScert",
}

func (t MsgType) String() string {
	if t < numMsgTypes {
		return msgNames[t]
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// HasSpec reports whether messages of type t carry a chunk spec.
func (t MsgType) HasSpec() bool {
	switch t {
	case MsgData, MsgAck, MsgHave, MsgIntegrity, MsgSignedIntegrity, MsgRequest, MsgCancel:
		return true
	}
	return false
}

// Message is one decoded PPSP message. It is a tagged union: Type says which
// fields are meaningful; the others are zero.
//
// Byte slices returned by Parse (Payload, Hash, Signature, Options.SwarmID,
// Options.SupportedMessages) alias the datagram buffer passed to Parse: copy
// them before reusing that buffer.
type Message struct {
	Type MsgType

	// Spec: DATA, ACK, HAVE, INTEGRITY, SIGNED_INTEGRITY, REQUEST, CANCEL.
	// Chunks, or bytes with CAMByteRanges64.
	Spec Spec

	// Timestamp: DATA (sender's clock, µs since the Unix epoch) and
	// SIGNED_INTEGRITY (64-bit NTP timestamp).
	Timestamp uint64

	// Delay: ACK one-way delay sample in µs (LEDBAT).
	Delay uint64

	// Payload: DATA chunk bytes; PEX_REScert DER-encoded certificate.
	Payload []byte

	// Hash: INTEGRITY hash (Context.HashSize bytes).
	Hash []byte

	// Signature: SIGNED_INTEGRITY signature (Context.SigSize bytes).
	Signature []byte

	// Addr: PEX_RESv4 (an IPv4 address) and PEX_RESv6 (an IPv6 address).
	Addr netip.AddrPort

	// SrcChannel: HANDSHAKE source channel ID. 0 means explicit close.
	SrcChannel uint32

	// Options: HANDSHAKE protocol options.
	Options Options
}

// IsClose reports whether m is an explicit close: a HANDSHAKE whose source
// channel ID is 0 (RFC 7574 §8.4).
func (m *Message) IsClose() bool { return m.Type == MsgHandshake && m.SrcChannel == 0 }

// Context is what the parser needs to know about a channel to find message
// boundaries: there are no length fields on the wire. It is negotiated per
// channel by the handshake. The zero value is the RFC default used by
// libswift and libperegrine: CAM 2 (32-bit chunk ranges), SHA-1 (20-byte
// hashes), 64-byte signatures (ECDSAP256SHA256), DATA payload to the end of
// the datagram.
type Context struct {
	// CAM is the chunk addressing method. Zero is CAMChunkRanges32.
	CAM CAM

	// HashSize is the INTEGRITY hash length in bytes. 0 means 20 (SHA-1).
	HashSize int

	// SigSize is the SIGNED_INTEGRITY signature length in bytes. 0 means 64
	// (ECDSAP256SHA256).
	SigSize int

	// ChunkSize, when > 0, makes each DATA payload min(ChunkSize, bytes
	// left) long, so that several DATA messages fit one datagram (allowed
	// with a fixed chunk size; only the last may be a short final chunk).
	// 0 means a DATA payload runs to the end of the datagram, so DATA is
	// last. This is a local choice: Parse does not take it from option 9.
	ChunkSize int

	// MaxMessages caps the number of messages Parse accepts in one datagram
	// (ErrTooManyMessages), bounding the memory a hostile datagram of
	// one-byte messages can make the caller's slice grow to. 0 means
	// DefaultMaxMessages.
	MaxMessages int
}

// DefaultMaxMessages is the per-datagram message limit of the zero Context:
// far above what any MTU-sized or 16 KiB data-channel datagram of real
// messages holds (a HAVE is 9 bytes with CAM 2).
const DefaultMaxMessages = 4096

func (c Context) maxMessages() int {
	if c.MaxMessages == 0 {
		return DefaultMaxMessages
	}
	return c.MaxMessages
}

func (c Context) hashSize() int {
	if c.HashSize == 0 {
		return hashSizeDefault
	}
	return c.HashSize
}

func (c Context) sigSize() int {
	if c.SigSize == 0 {
		return sigSizeDefault
	}
	return c.SigSize
}

func (c Context) valid() bool {
	return c.CAM.Valid() && c.HashSize >= 0 && c.SigSize >= 0 && c.ChunkSize >= 0 && c.MaxMessages >= 0
}

// Apply returns c updated with the handshake options that affect framing:
// CAM (option 6), hash size from the MHF (option 4) and signature size from
// the LSA (option 5; for RSA only when the swarm ID holds the key). Absent
// options leave c unchanged. Parse applies the options of a HANDSHAKE to the
// messages that follow it in the same datagram; engines store the result as
// the channel's Context.
func (c Context) Apply(o *Options) (Context, error) {
	if o.Has(OptCAM) {
		if !o.CAM.Valid() {
			return c, fmt.Errorf("%w: %v", ErrInvalidOption, o.CAM)
		}
		c.CAM = o.CAM
	}
	if o.Has(OptMHF) {
		n, ok := HashSize(o.MHF)
		if !ok {
			return c, fmt.Errorf("%w: merkle hash function %d", ErrInvalidOption, o.MHF)
		}
		c.HashSize = n
	}
	if o.Has(OptLSA) {
		var id []byte
		if o.Has(OptSwarmID) {
			id = o.SwarmID
		}
		if n, ok := SigSize(o.LSA, id); ok {
			c.SigSize = n
		}
	}
	return c, nil
}
