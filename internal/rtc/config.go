package rtc

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

// Config configures a Transport. Zero values pick the documented defaults.
type Config struct {
	// ID is this peer's ID on the signaling channel: the Transport's
	// LocalAddr, and the tie-break when both peers offer at once. Required.
	ID string
	// Signaler carries offers, answers and candidates. Required.
	Signaler Signaler
	// Logger receives the transport's logs (and pion's, at debug level).
	// Default: discard.
	Logger *slog.Logger
	// Now is the clock for setup and idle timeouts. Default time.Now.
	Now func() time.Time

	// ICEServers are STUN/TURN servers. Default none: host candidates
	// only (loopback included), which is what a LAN, a gateway with a
	// public address and every test need.
	ICEServers []ICEServer
	// LoopbackOnly restricts ICE to the loopback interface over UDP/IPv4,
	// locally and remotely: for tests and benchmarks, so nothing leaves
	// 127.0.0.0/8. Default false.
	LoopbackOnly bool
	// InterfaceFilter and IPFilter, when set, choose the local interfaces
	// and addresses ICE gathers on. Default: all (loopback included).
	InterfaceFilter func(name string) bool
	IPFilter        func(net.IP) bool

	// MaxPeers bounds the peer connections open or being set up at once,
	// both ways. Default 256.
	MaxPeers int
	// SetupTimeout bounds the time from the first datagram (or the offer)
	// to an open data channel; a connection not open by then is closed.
	// Default 15 s.
	SetupTimeout time.Duration
	// IdleTimeout closes a peer connection that received nothing for that
	// long (the engine sends keep-alives every 20 s on a live channel).
	// Default 60 s.
	IdleTimeout time.Duration
	// RedialDelay is how long datagrams to a peer whose connection setup
	// failed are dropped before it is dialled again. Default 5 s.
	RedialDelay time.Duration
	// DatagramSize is the largest datagram the engine sends to a
	// data-channel peer (swarm.PathSizer). Default 17000: sixteen 1 KiB DATA
	// with their headers and hashes, the batching that keeps pion's and the
	// browser's per-message cost low.
	DatagramSize int
	// MaxMessage is the largest message accepted from or sent to a peer;
	// larger ones close the data channel (pion) or are refused. It is also
	// the SCTP max-message-size we announce. Default 65536.
	MaxMessage int
	// SendBuffer bounds the bytes queued in one data channel; datagrams
	// beyond it are dropped, as a full UDP send queue does. The engine asks
	// Blocked before sending DATA and holds it while the buffer is this
	// full, so only its control messages can meet a full buffer. Default
	// 1 MiB.
	SendBuffer int
	// PendingBuffer bounds the bytes queued for a peer whose connection is
	// still being set up. Default 256 KiB.
	PendingBuffer int
	// RecvBuffer bounds the received bytes waiting for ReadFrom; messages
	// beyond it are dropped. Default 8 MiB.
	RecvBuffer int
	// SocketBuffer is the kernel receive and send buffer asked for each
	// UDP socket of the peer connections (SO_RCVBUFFORCE when privileged,
	// else capped by net.core.rmem_max). Default 1 MiB: the kernel charges
	// only what is queued, but a gateway has a socket per connection.
	SocketBuffer int
	// SignalTimeout bounds one Signaler.Send. Default 5 s.
	SignalTimeout time.Duration
	// Accept decides whether an offer from a peer is answered. Default:
	// every peer (the signaling broker only relays offers between peers
	// that share a swarm). A leecher, which serves nobody, refuses all.
	Accept func(id string) bool
}

func (c *Config) defaults() error {
	if c.ID == "" || len(c.ID) > maxPeerID {
		return fmt.Errorf("rtc: Config.ID must be 1..%d bytes", maxPeerID)
	}
	if c.Signaler == nil {
		return errors.New("rtc: Config.Signaler is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxPeers, 256)
	defd(&c.SetupTimeout, 15*time.Second)
	defd(&c.IdleTimeout, 60*time.Second)
	defd(&c.RedialDelay, 5*time.Second)
	defd(&c.SignalTimeout, 5*time.Second)
	def(&c.DatagramSize, 17000)
	def(&c.MaxMessage, 65536)
	def(&c.SendBuffer, 1<<20)
	def(&c.PendingBuffer, 256<<10)
	def(&c.RecvBuffer, 8<<20)
	def(&c.SocketBuffer, 1<<20)
	switch {
	case c.MaxPeers < 0, c.SetupTimeout < 0, c.IdleTimeout < 0, c.RedialDelay < 0, c.SignalTimeout < 0,
		c.SendBuffer < 0, c.PendingBuffer < 0, c.RecvBuffer < 0, c.SocketBuffer < 0:
		return errors.New("rtc: negative limit in Config")
	case c.DatagramSize < 600 || c.DatagramSize > 65507:
		return errors.New("rtc: Config.DatagramSize must be 600..65507")
	case c.MaxMessage < c.DatagramSize || c.MaxMessage > 1<<20:
		return errors.New("rtc: Config.MaxMessage must be DatagramSize..1 MiB")
	}
	return nil
}
