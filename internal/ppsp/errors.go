package ppsp

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by Parse is a *ParseError that wraps
// exactly one of these, so callers test with errors.Is. Appenders return them
// wrapped with fmt.Errorf context.
var (
	// ErrShortDatagram: the datagram is shorter than the 4-byte channel ID.
	ErrShortDatagram = errors.New("ppsp: datagram shorter than channel ID")
	// ErrTruncated: a message, option or length-prefixed field runs past the
	// end of the datagram.
	ErrTruncated = errors.New("ppsp: truncated message")
	// ErrUnknownMessage: message type 14–254 (unassigned) or 255 (reserved).
	ErrUnknownMessage = errors.New("ppsp: unknown message type")
	// ErrUnknownOption: a protocol option code 10–254 in a HANDSHAKE.
	ErrUnknownOption = errors.New("ppsp: unknown protocol option")
	// ErrOptionOrder: protocol options not sorted by code, or a code repeated
	// (RFC 7574 §7: "MUST be sorted on code value (ascending)").
	ErrOptionOrder = errors.New("ppsp: protocol options not in strictly ascending order")
	// ErrInvalidOption: an option value the codec cannot honour, e.g. an
	// unassigned chunk addressing method or hash function, a live discard
	// window without a preceding chunk addressing method, or a length that
	// does not fit its length field.
	ErrInvalidOption = errors.New("ppsp: invalid protocol option value")
	// ErrSpecOrder: a chunk or byte range whose start is after its end.
	ErrSpecOrder = errors.New("ppsp: chunk spec start > end")
	// ErrInvalidSpec: a Spec that cannot be written with the context's chunk
	// addressing method (not a bin for CAM 0/3, out of the 32-bit range, or
	// the empty spec for a range method).
	ErrInvalidSpec = errors.New("ppsp: chunk spec not representable in this addressing method")
	// ErrLegacyHandshake: a channel-0 datagram whose first message byte is
	// 0x04, i.e. libswift's pre-IETF "swift" handshake
	// (00000000 04 7fffffff <root> 00 <chan>), which libswift falls back to
	// after three unanswered PPSPP handshakes.
	ErrLegacyHandshake = errors.New("ppsp: legacy (pre-IETF swift) handshake")
	// ErrNotHandshake: a channel-0 datagram that does not start with a
	// HANDSHAKE (channel 0 is reserved for handshake initiation).
	ErrNotHandshake = errors.New("ppsp: channel-0 datagram does not start with HANDSHAKE")
	// ErrInvalidContext: a Context with a negative size or unknown CAM.
	ErrInvalidContext = errors.New("ppsp: invalid context")
	// ErrPayloadSize: a hash or signature of the wrong length, a DATA payload
	// longer than the context's fixed chunk size, or a certificate or option
	// too long for its length field.
	ErrPayloadSize = errors.New("ppsp: payload has the wrong size")
	// ErrDataNotLast: AppendDatagram was asked to put a DATA message before
	// another message although its payload would not end where the next
	// message starts (no fixed Context.ChunkSize, or a short chunk).
	ErrDataNotLast = errors.New("ppsp: DATA must be the last message unless it is a full fixed-size chunk")
	// ErrTooManyMessages: more messages in one datagram than
	// Context.MaxMessages allows.
	ErrTooManyMessages = errors.New("ppsp: too many messages in datagram")
	// ErrInvalidAddr: a PEX address of the wrong family or with a zone.
	ErrInvalidAddr = errors.New("ppsp: invalid PEX address")
)

// ParseError reports where and why Parse rejected a datagram.
type ParseError struct {
	Offset int     // byte offset in the datagram of the failing message (or option)
	Index  int     // index of the failing message in the datagram, -1 for the header
	Type   MsgType // type of the failing message (meaningless when Index is -1)
	Err    error   // one of the Err* sentinels
}

func (e *ParseError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("%v (offset %d)", e.Err, e.Offset)
	}
	return fmt.Sprintf("%v (message %d %v at offset %d)", e.Err, e.Index, e.Type, e.Offset)
}

func (e *ParseError) Unwrap() error { return e.Err }
