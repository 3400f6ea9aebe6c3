package rtc

import "context"

// SignalKind says what a Signal carries.
type SignalKind uint8

const (
	// Offer carries an SDP offer (JSEP, RFC 8829 §5.2).
	Offer SignalKind = iota + 1
	// Answer carries an SDP answer (RFC 8829 §5.3).
	Answer
	// Candidate carries one trickled ICE candidate (RFC 8838).
	Candidate
)

func (k SignalKind) String() string {
	switch k {
	case Offer:
		return "offer"
	case Answer:
		return "answer"
	case Candidate:
		return "candidate"
	}
	return "unknown"
}

// Signal is one signaling message between two peers.
type Signal struct {
	Kind SignalKind
	// SDP is the session description of an Offer or Answer.
	SDP string
	// Candidate is the candidate attribute of a Candidate
	// ("candidate:..."; RTCIceCandidate.candidate), with its media stream
	// identification and m-line index.
	Candidate     string
	SDPMid        string
	SDPMLineIndex uint16
}

// Signaler carries Signals between peer IDs. The Transport calls Send from
// one goroutine and Recv from another; both must return when ctx is done.
// Send should not block for long (it delays other peers' setup).
type Signaler interface {
	// Send delivers s to the peer with ID to.
	Send(ctx context.Context, to string, s Signal) error
	// Recv returns the next Signal addressed to us and its sender's ID.
	// An error ends the Transport's Run.
	Recv(ctx context.Context) (from string, s Signal, err error)
}

// Sanity bounds on what a remote peer may make us parse or keep.
const (
	maxSDP         = 64 << 10 // bytes of an offer or answer
	maxCandidate   = 1024     // bytes of a candidate attribute
	maxPendingCand = 64       // candidates kept before the remote description
	maxPeerID      = 256      // bytes of a peer ID
)
