package ppsp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The Append* functions append one encoded item to b and return the extended
// buffer. Those that can fail leave b unchanged on error (the returned slice
// is b itself). None of them retains b or its arguments.

// AppendHeader appends the 4-byte destination channel ID that starts every
// datagram. A datagram of only the header is a keep-alive.
func AppendHeader(b []byte, channel uint32) []byte {
	return binary.BigEndian.AppendUint32(b, channel)
}

// AppendHandshake appends a HANDSHAKE with source channel src and the options
// present in opts, sorted by code (RFC 7574 §7) and ended by 0xff. It fails
// for option values that cannot be encoded (see ErrInvalidOption).
func AppendHandshake(b []byte, src uint32, opts Options) ([]byte, error) {
	return appendHandshake(b, src, &opts)
}

func appendHandshake(b []byte, src uint32, opts *Options) ([]byte, error) {
	orig := b
	b = append(b, byte(MsgHandshake))
	b = binary.BigEndian.AppendUint32(b, src)
	b, err := appendOptions(b, opts)
	if err != nil {
		return orig, err
	}
	return b, nil
}

// AppendClose appends an explicit close: a HANDSHAKE with source channel 0
// and an empty option list (00 00000000 ff), as libswift sends it.
func AppendClose(b []byte) []byte {
	return append(b, byte(MsgHandshake), 0, 0, 0, 0, byte(OptEnd))
}

// AppendData appends DATA: spec, 8-byte timestamp (µs since the Unix epoch),
// then the payload. Without ctx.ChunkSize the payload runs to the end of the
// datagram, so DATA must be the last message. With ctx.ChunkSize > 0 the
// payload must not be longer than ctx.ChunkSize.
func AppendData(b []byte, ctx Context, s Spec, ts uint64, payload []byte) ([]byte, error) {
	if ctx.ChunkSize > 0 && len(payload) > ctx.ChunkSize {
		return b, fmt.Errorf("%w: DATA payload %d > chunk size %d", ErrPayloadSize, len(payload), ctx.ChunkSize)
	}
	orig := b
	b, err := appendSpecMsg(b, ctx, MsgData, s)
	if err != nil {
		return orig, err
	}
	b = binary.BigEndian.AppendUint64(b, ts)
	return append(b, payload...), nil
}

// AppendAck appends ACK: spec and the one-way delay sample in µs.
func AppendAck(b []byte, ctx Context, s Spec, delay uint64) ([]byte, error) {
	orig := b
	b, err := appendSpecMsg(b, ctx, MsgAck, s)
	if err != nil {
		return orig, err
	}
	return binary.BigEndian.AppendUint64(b, delay), nil
}

// AppendHave appends HAVE.
func AppendHave(b []byte, ctx Context, s Spec) ([]byte, error) {
	return appendSpecMsg(b, ctx, MsgHave, s)
}

// AppendRequest appends REQUEST.
func AppendRequest(b []byte, ctx Context, s Spec) ([]byte, error) {
	return appendSpecMsg(b, ctx, MsgRequest, s)
}

// AppendCancel appends CANCEL.
func AppendCancel(b []byte, ctx Context, s Spec) ([]byte, error) {
	return appendSpecMsg(b, ctx, MsgCancel, s)
}

// AppendIntegrity appends INTEGRITY: spec (the subtree's chunk range) and
// the hash, which must be ctx's hash size.
func AppendIntegrity(b []byte, ctx Context, s Spec, hash []byte) ([]byte, error) {
	if len(hash) != ctx.hashSize() {
		return b, fmt.Errorf("%w: INTEGRITY hash %d bytes, want %d", ErrPayloadSize, len(hash), ctx.hashSize())
	}
	orig := b
	b, err := appendSpecMsg(b, ctx, MsgIntegrity, s)
	if err != nil {
		return orig, err
	}
	return append(b, hash...), nil
}

// AppendSignedIntegrity appends SIGNED_INTEGRITY: spec, 64-bit NTP
// timestamp, and the signature, which must be ctx's signature size.
func AppendSignedIntegrity(b []byte, ctx Context, s Spec, ntp uint64, sig []byte) ([]byte, error) {
	if len(sig) != ctx.sigSize() {
		return b, fmt.Errorf("%w: SIGNED_INTEGRITY signature %d bytes, want %d", ErrPayloadSize, len(sig), ctx.sigSize())
	}
	orig := b
	b, err := appendSpecMsg(b, ctx, MsgSignedIntegrity, s)
	if err != nil {
		return orig, err
	}
	b = binary.BigEndian.AppendUint64(b, ntp)
	return append(b, sig...), nil
}

// AppendPexReq appends PEX_REQ.
func AppendPexReq(b []byte) []byte { return append(b, byte(MsgPexReq)) }

// AppendChoke appends CHOKE.
func AppendChoke(b []byte) []byte { return append(b, byte(MsgChoke)) }

// AppendUnchoke appends UNCHOKE.
func AppendUnchoke(b []byte) []byte { return append(b, byte(MsgUnchoke)) }

// AppendPexResV4 appends PEX_RESv4. addr must be IPv4 (an IPv4-mapped IPv6
// address is unmapped).
func AppendPexResV4(b []byte, addr netip.AddrPort) ([]byte, error) {
	a := addr.Addr().Unmap()
	if !a.Is4() {
		return b, fmt.Errorf("%w: PEX_RESv4 needs an IPv4 address, got %v", ErrInvalidAddr, addr)
	}
	ip := a.As4()
	b = append(b, byte(MsgPexResV4))
	b = append(b, ip[:]...)
	return binary.BigEndian.AppendUint16(b, addr.Port()), nil
}

// AppendPexResV6 appends PEX_RESv6. addr must be IPv6 without a zone.
func AppendPexResV6(b []byte, addr netip.AddrPort) ([]byte, error) {
	a := addr.Addr()
	if !a.Is6() || a.Zone() != "" {
		return b, fmt.Errorf("%w: PEX_RESv6 needs an IPv6 address without zone, got %v", ErrInvalidAddr, addr)
	}
	ip := a.As16()
	b = append(b, byte(MsgPexResV6))
	b = append(b, ip[:]...)
	return binary.BigEndian.AppendUint16(b, addr.Port()), nil
}

// AppendPexResCert appends PEX_REScert: u16 length and the DER-encoded
// X.509v3 membership certificate.
func AppendPexResCert(b []byte, der []byte) ([]byte, error) {
	if len(der) > maxCertLen {
		return b, fmt.Errorf("%w: PEX_REScert %d bytes", ErrPayloadSize, len(der))
	}
	b = append(b, byte(MsgPexResCert))
	b = binary.BigEndian.AppendUint16(b, uint16(len(der)))
	return append(b, der...), nil
}

func appendSpecMsg(b []byte, ctx Context, t MsgType, s Spec) ([]byte, error) {
	if !ctx.valid() {
		return b, fmt.Errorf("%w: %+v", ErrInvalidContext, ctx)
	}
	out, err := appendSpec(append(b, byte(t)), ctx.CAM, s)
	if err != nil {
		return b, fmt.Errorf("%v: %w", t, err)
	}
	return out, nil
}

// AppendMessage appends m, encoded with ctx, using the fields that Parse
// fills for m.Type.
func AppendMessage(b []byte, ctx Context, m *Message) ([]byte, error) {
	switch m.Type {
	case MsgHandshake:
		return appendHandshake(b, m.SrcChannel, &m.Options)
	case MsgData:
		return AppendData(b, ctx, m.Spec, m.Timestamp, m.Payload)
	case MsgAck:
		return AppendAck(b, ctx, m.Spec, m.Delay)
	case MsgHave, MsgRequest, MsgCancel:
		return appendSpecMsg(b, ctx, m.Type, m.Spec)
	case MsgIntegrity:
		return AppendIntegrity(b, ctx, m.Spec, m.Hash)
	case MsgSignedIntegrity:
		return AppendSignedIntegrity(b, ctx, m.Spec, m.Timestamp, m.Signature)
	case MsgPexResV4:
		return AppendPexResV4(b, m.Addr)
	case MsgPexResV6:
		return AppendPexResV6(b, m.Addr)
	case MsgPexResCert:
		return AppendPexResCert(b, m.Payload)
	case MsgPexReq, MsgChoke, MsgUnchoke:
		return append(b, byte(m.Type)), nil
	}
	return b, fmt.Errorf("%w: %v", ErrUnknownMessage, m.Type)
}

// AppendDatagram appends a whole datagram: the channel header and msgs, the
// inverse of Parse. As in Parse, a HANDSHAKE's options apply to the messages
// after it. It checks that the result parses back to the same message
// boundaries: a DATA not last needs ctx.ChunkSize > 0 and a payload of
// exactly ctx.ChunkSize bytes, and a channel-0 datagram must start with a
// HANDSHAKE. On error b is returned unchanged.
func AppendDatagram(b []byte, ctx Context, channel uint32, msgs []Message) ([]byte, error) {
	orig := b
	if channel == 0 && (len(msgs) == 0 || msgs[0].Type != MsgHandshake) {
		return orig, ErrNotHandshake
	}
	b = AppendHeader(b, channel)
	var err error
	for i := range msgs {
		m := &msgs[i]
		if m.Type == MsgData && i != len(msgs)-1 && (ctx.ChunkSize <= 0 || len(m.Payload) != ctx.ChunkSize) {
			return orig, fmt.Errorf("%w: message %d of %d", ErrDataNotLast, i, len(msgs))
		}
		b, err = AppendMessage(b, ctx, m)
		if err != nil {
			return orig, fmt.Errorf("message %d: %w", i, err)
		}
		if m.Type == MsgHandshake {
			if ctx, err = ctx.Apply(&m.Options); err != nil {
				return orig, err
			}
		}
	}
	return b, nil
}
