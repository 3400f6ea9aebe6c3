package rtc

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Mux is one net.PacketConn over a UDP socket and a Transport: datagrams
// from both arrive through ReadFrom (a *net.UDPAddr or an Addr says which),
// WriteTo sends an Addr's datagram over WebRTC and any other over UDP. One
// PPSP engine on a Mux serves UDP and WebRTC peers from one store and one
// set of swarms (the gateway's bridge). It implements swarm.PathSizer and
// swarm.PathBlocker.
type Mux struct {
	udp net.PacketConn
	rtc *Transport
	in  *inbox

	closeOnce sync.Once
	done      chan struct{}
	dropped   atomic.Uint64
}

var _ net.PacketConn = (*Mux)(nil)

// NewMux joins udp and t; from now on t delivers its messages to the Mux,
// which reads udp on a goroutine of its own until Close. recvBuffer bounds
// the bytes waiting for ReadFrom (0: t's RecvBuffer). Close closes udp, not
// t: t belongs to whoever runs it.
func NewMux(udp net.PacketConn, t *Transport, recvBuffer int) *Mux {
	if recvBuffer <= 0 {
		recvBuffer = t.cfg.RecvBuffer
	}
	m := &Mux{udp: udp, rtc: t, in: newInbox(recvBuffer), done: make(chan struct{})}
	t.in.Store(m.in)
	go m.readUDP()
	return m
}

type addrPortReader interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
}

// readUDP copies each UDP datagram into the inbox. A *net.UDPAddr per
// source is cached so that the engine's per-datagram lookups stay cheap.
func (m *Mux) readUDP() {
	defer close(m.done)
	buf := make([]byte, 65536)
	cache := make(map[netip.AddrPort]*net.UDPAddr)
	ap, _ := m.udp.(addrPortReader)
	for {
		var n int
		var from net.Addr
		var err error
		if ap != nil {
			var a netip.AddrPort
			n, a, err = ap.ReadFromUDPAddrPort(buf)
			if err == nil {
				u := cache[a]
				if u == nil {
					if len(cache) >= 4096 {
						clear(cache)
					}
					u = net.UDPAddrFromAddrPort(a)
					cache[a] = u
				}
				from = u
			}
		} else {
			n, from, err = m.udp.ReadFrom(buf)
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			m.in.close()
			return
		}
		if !m.in.push(append([]byte(nil), buf[:n]...), from) {
			m.dropped.Add(1)
		}
	}
}

// ReadFrom returns the next datagram from either transport.
func (m *Mux) ReadFrom(b []byte) (int, net.Addr, error) { return m.in.read(b) }

// WriteTo sends b over WebRTC to an Addr, over UDP to anything else.
func (m *Mux) WriteTo(b []byte, addr net.Addr) (int, error) {
	if _, ok := asAddr(addr); ok {
		return m.rtc.WriteTo(b, addr)
	}
	return m.udp.WriteTo(b, addr)
}

// DatagramSize implements swarm.PathSizer.
func (m *Mux) DatagramSize(addr net.Addr) int { return m.rtc.DatagramSize(addr) }

// Blocked implements swarm.PathBlocker for the WebRTC side; a UDP path
// is never blocked (its socket's WriteTo waits instead).
func (m *Mux) Blocked(addr net.Addr) bool { return m.rtc.Blocked(addr) }

// LastResort implements swarm.LastResorter for the WebRTC side.
func (m *Mux) LastResort(addr net.Addr) bool { return m.rtc.LastResort(addr) }

// LocalAddr is the UDP socket's address.
func (m *Mux) LocalAddr() net.Addr { return m.udp.LocalAddr() }

// SetDeadline sets the read deadline and the UDP write deadline.
func (m *Mux) SetDeadline(t time.Time) error {
	m.in.setDeadline(t)
	return m.udp.SetWriteDeadline(t)
}

// SetReadDeadline implements net.PacketConn.
func (m *Mux) SetReadDeadline(t time.Time) error { m.in.setDeadline(t); return nil }

// SetWriteDeadline sets the UDP socket's write deadline.
func (m *Mux) SetWriteDeadline(t time.Time) error { return m.udp.SetWriteDeadline(t) }

// Dropped counts UDP datagrams dropped because ReadFrom fell behind.
func (m *Mux) Dropped() uint64 { return m.dropped.Load() }

// Close closes the UDP socket and the Mux (not the Transport) and waits for
// the UDP reader to stop.
func (m *Mux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		m.rtc.in.CompareAndSwap(m.in, m.rtc.own)
		err = m.udp.Close()
		m.in.close()
		<-m.done
	})
	return err
}
