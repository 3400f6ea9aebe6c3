package ppsp

import (
	"encoding/binary"
	"net/netip"
)

// Parse decodes one datagram: the 4-byte destination channel ID and the
// messages that follow, in order, appended to msgs. Pass msgs[:0] of a
// reused slice to decode without allocating.
//
// ctx is the channel's negotiated Context (the zero value for channel 0 and
// for libswift/libperegrine peers). A HANDSHAKE's options are applied (see
// Context.Apply) to the messages after it in the same datagram, as in a
// handshake reply that carries HAVEs.
//
// A datagram with no messages is a keep-alive. A datagram to channel 0 must
// start with a HANDSHAKE; libswift's legacy pre-IETF handshake is reported as
// ErrLegacyHandshake.
//
// Decoding is strict: any malformed, truncated or unknown input rejects the
// whole datagram (RFC 7574 §8: discard). The error is a *ParseError wrapping
// one of the Err* sentinels, and out is msgs with nothing appended. Byte
// slices in the messages alias b. Parse never panics and runs in time linear
// in len(b).
func Parse(ctx Context, b []byte, msgs []Message) (channel uint32, out []Message, err error) {
	n0 := len(msgs)
	if len(b) < 4 {
		return 0, msgs, &ParseError{Index: -1, Err: ErrShortDatagram}
	}
	if !ctx.valid() {
		return 0, msgs, &ParseError{Index: -1, Err: ErrInvalidContext}
	}
	channel = binary.BigEndian.Uint32(b)
	if channel == 0 && (len(b) == 4 || b[4] != byte(MsgHandshake)) {
		e := ErrNotHandshake
		if len(b) > 4 && b[4] == legacyHandshakeByte {
			e = ErrLegacyHandshake
		}
		return channel, msgs, &ParseError{Offset: 4, Index: -1, Err: e}
	}
	p := parser{cam: ctx.CAM, specSize: ctx.CAM.SpecSize(), hashSize: ctx.hashSize(), sigSize: ctx.sigSize(), chunkSize: ctx.ChunkSize}
	off, maxMsgs := 4, ctx.maxMessages()
	for idx := 0; off < len(b); idx++ {
		t := MsgType(b[off])
		if idx == maxMsgs {
			return channel, msgs[:n0], &ParseError{Offset: off, Index: idx, Type: t, Err: ErrTooManyMessages}
		}
		msgs = append(msgs, Message{Type: t})
		m := &msgs[len(msgs)-1]
		n, e := p.message(t, b[off+1:], m)
		if e != nil {
			return channel, msgs[:n0], &ParseError{Offset: off + n, Index: idx, Type: t, Err: e}
		}
		if t == MsgHandshake {
			c, e := ctx.Apply(&m.Options)
			if e != nil {
				return channel, msgs[:n0], &ParseError{Offset: off, Index: idx, Type: t, Err: ErrInvalidOption}
			}
			ctx = c
			p.cam, p.specSize, p.hashSize, p.sigSize = c.CAM, c.CAM.SpecSize(), c.hashSize(), c.sigSize()
		}
		off += 1 + n
	}
	return channel, msgs, nil
}

type parser struct {
	cam       CAM
	specSize  int
	hashSize  int
	sigSize   int
	chunkSize int
}

// message decodes the body v of a message of type t (v starts after the type
// byte and runs to the end of the datagram) into m. It returns the body
// length, or on error an offset relative to the type byte.
func (p *parser) message(t MsgType, v []byte, m *Message) (int, error) {
	switch t {
	case MsgHandshake:
		if len(v) < 4 {
			return 0, ErrTruncated
		}
		m.SrcChannel = binary.BigEndian.Uint32(v)
		n, err := decodeOptions(v[4:], &m.Options)
		if err != nil {
			return 5 + n, err
		}
		return 4 + n, nil
	case MsgHave, MsgRequest, MsgCancel:
		return p.spec(v, m)
	case MsgAck:
		n, err := p.spec(v, m)
		if err != nil {
			return n, err
		}
		if len(v) < n+8 {
			return 0, ErrTruncated
		}
		m.Delay = binary.BigEndian.Uint64(v[n:])
		return n + 8, nil
	case MsgData:
		n, err := p.spec(v, m)
		if err != nil {
			return n, err
		}
		if len(v) < n+8 {
			return 0, ErrTruncated
		}
		m.Timestamp = binary.BigEndian.Uint64(v[n:])
		rest := v[n+8:]
		if p.chunkSize > 0 && len(rest) > p.chunkSize {
			rest = rest[:p.chunkSize]
		}
		m.Payload = rest[:len(rest):len(rest)]
		return n + 8 + len(rest), nil
	case MsgIntegrity:
		n, err := p.spec(v, m)
		if err != nil {
			return n, err
		}
		if len(v)-n < p.hashSize {
			return 0, ErrTruncated
		}
		m.Hash = v[n : n+p.hashSize : n+p.hashSize]
		return n + p.hashSize, nil
	case MsgSignedIntegrity:
		n, err := p.spec(v, m)
		if err != nil {
			return n, err
		}
		if len(v)-n < 8+p.sigSize {
			return 0, ErrTruncated
		}
		m.Timestamp = binary.BigEndian.Uint64(v[n:])
		n += 8
		m.Signature = v[n : n+p.sigSize : n+p.sigSize]
		return n + p.sigSize, nil
	case MsgPexResV4:
		if len(v) < 6 {
			return 0, ErrTruncated
		}
		m.Addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte(v[:4])), binary.BigEndian.Uint16(v[4:]))
		return 6, nil
	case MsgPexResV6:
		if len(v) < 18 {
			return 0, ErrTruncated
		}
		m.Addr = netip.AddrPortFrom(netip.AddrFrom16([16]byte(v[:16])), binary.BigEndian.Uint16(v[16:]))
		return 18, nil
	case MsgPexResCert:
		if len(v) < 2 {
			return 0, ErrTruncated
		}
		l := int(binary.BigEndian.Uint16(v))
		if len(v) < 2+l {
			return 0, ErrTruncated
		}
		m.Payload = v[2 : 2+l : 2+l]
		return 2 + l, nil
	case MsgPexReq, MsgChoke, MsgUnchoke:
		return 0, nil
	}
	return 0, ErrUnknownMessage
}

func (p *parser) spec(v []byte, m *Message) (int, error) {
	if len(v) < p.specSize {
		return 0, ErrTruncated
	}
	s, err := decodeSpec(v, p.cam)
	if err != nil {
		return 0, err
	}
	m.Spec = s
	return p.specSize, nil
}
