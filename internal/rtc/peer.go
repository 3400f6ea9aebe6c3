package rtc

import (
	"sync"
	"sync/atomic"
	"time"
)

// Peer connection states.
const (
	stateConnecting int32 = iota
	stateOpen
	stateClosed
)

// peer is one remote peer: one RTCPeerConnection with one data channel.
type peer struct {
	id      string
	addr    Addr
	offerer bool
	created time.Time

	state    atomic.Int32
	lastRecv atomic.Int64 // unix nanoseconds

	mu        sync.Mutex // guards what follows
	c         conn       // nil until set up
	queue     [][]byte   // datagrams waiting for the channel to open
	queued    int
	remoteSet bool     // the remote description is applied
	cands     []Signal // remote candidates that came before the remote description
}

func newPeer(id string, offerer bool, now time.Time) *peer {
	p := &peer{id: id, addr: Addr{ID: id}, offerer: offerer, created: now}
	p.lastRecv.Store(now.UnixNano())
	return p
}
