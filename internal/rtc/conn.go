package rtc

// conn is one peer connection with its one data channel: pion's outside
// the browser (conn_pion.go), the browser's own RTCPeerConnection inside
// it (conn_js.go, syscall/js only: pion's js build linked its DTLS, SCTP,
// ICE and TLS code into the module for nothing, decision 58). The
// Transport calls its methods on its Run goroutine, except send and
// buffered (any goroutine).
type conn interface {
	// offer creates an offer, applies it locally and returns its SDP.
	offer() (string, error)
	// answer applies a remote offer, creates an answer, applies it
	// locally and returns its SDP.
	answer(offer string) (string, error)
	// setAnswer applies a remote answer.
	setAnswer(sdp string) error
	// addCandidate applies a remote ICE candidate.
	addCandidate(s Signal) error
	// send writes one binary message on the data channel.
	send(b []byte) error
	// buffered is the data channel's queued bytes.
	buffered() uint64
	// close closes the connection and waits until it is released.
	close() error
}

// connEvents are what a conn reports, from its own goroutines or the
// browser's event loop: never blocking.
type connEvents struct {
	candidate func(Signal)                  // a local ICE candidate to send
	failed    func()                        // the connection failed
	closed    func(reason string)           // the connection or its channel closed
	open      func()                        // the data channel opened
	message   func(b []byte, isString bool) // one message; b is ours to keep
}

// The data channel: negotiated out of band with ID 0 (no DCEP round trip
// before the first datagram), unordered and never retransmitted, like the
// UDP it stands in for.
const (
	channelLabel = "ppsp"
	channelID    = 0
)
