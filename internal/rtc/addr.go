package rtc

import "net"

// Network is the network name of an Addr.
const Network = "webrtc"

// Addr is a WebRTC peer's address: its peer ID on the signaling channel.
type Addr struct {
	ID string
}

var _ net.Addr = Addr{}

// Network returns "webrtc".
func (a Addr) Network() string { return Network }

// String returns the peer ID.
func (a Addr) String() string { return a.ID }

// asAddr returns a as an Addr.
func asAddr(a net.Addr) (Addr, bool) {
	switch v := a.(type) {
	case Addr:
		return v, true
	case *Addr:
		if v != nil {
			return *v, true
		}
	}
	return Addr{}, false
}
