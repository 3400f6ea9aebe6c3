package netsim

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultQueueLen is the receive queue of a Network conn, in datagrams.
const DefaultQueueLen = 1024

// Network is a fast in-memory datagram network. Each conn has a bounded
// receive queue; like UDP, a datagram to a full queue or to an address
// nobody listens on is silently dropped. Safe for concurrent use.
type Network struct {
	// QueueLen is the receive queue of conns created after it is set
	// (default DefaultQueueLen).
	QueueLen int

	mu       sync.Mutex
	conns    map[netip.AddrPort]*memConn
	nextPort uint16
}

// NewNetwork returns an empty network.
func NewNetwork() *Network {
	return &Network{conns: make(map[netip.AddrPort]*memConn), nextPort: 49152}
}

// Listen returns a conn bound to addr. Port 0 picks a free port; an
// unspecified or invalid address means 127.0.0.1.
func (n *Network) Listen(addr netip.AddrPort) (net.PacketConn, error) {
	ip := addr.Addr()
	if !ip.IsValid() || ip.IsUnspecified() {
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	ip = ip.Unmap()
	n.mu.Lock()
	defer n.mu.Unlock()
	port := addr.Port()
	if port == 0 {
		for range 1 << 16 {
			p := n.nextPort
			n.nextPort++
			if n.nextPort == 0 {
				n.nextPort = 1024
			}
			if _, ok := n.conns[netip.AddrPortFrom(ip, p)]; !ok && p != 0 {
				port = p
				break
			}
		}
		if port == 0 {
			return nil, errors.New("netsim: no free port")
		}
	}
	ap := netip.AddrPortFrom(ip, port)
	if _, ok := n.conns[ap]; ok {
		return nil, &net.OpError{Op: "listen", Net: "udp", Addr: net.UDPAddrFromAddrPort(ap), Err: errors.New("address already in use")}
	}
	ql := n.QueueLen
	if ql <= 0 {
		ql = DefaultQueueLen
	}
	c := &memConn{
		net:   n,
		addr:  ap,
		laddr: net.UDPAddrFromAddrPort(ap),
		in:    make(chan datagram, ql),
		done:  make(chan struct{}),
	}
	c.rd.init()
	n.conns[ap] = c
	return c, nil
}

func (n *Network) lookup(ap netip.AddrPort) *memConn {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.conns[ap]
}

type datagram struct {
	b    []byte
	from *net.UDPAddr
}

type memConn struct {
	net   *Network
	addr  netip.AddrPort
	laddr *net.UDPAddr
	in    chan datagram

	closeOnce sync.Once
	done      chan struct{}
	rd        deadline

	Dropped atomic.Uint64
}

func (c *memConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case <-c.done:
		return 0, nil, c.opErr("read", net.ErrClosed)
	default:
	}
	select {
	case d := <-c.in:
		return copy(b, d.b), d.from, nil
	case <-c.done:
		return 0, nil, c.opErr("read", net.ErrClosed)
	case <-c.rd.wait():
		return 0, nil, c.opErr("read", os.ErrDeadlineExceeded)
	}
}

func (c *memConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.done:
		return 0, c.opErr("write", net.ErrClosed)
	default:
	}
	ap, err := addrPort(addr)
	if err != nil {
		return 0, c.opErr("write", err)
	}
	dst := c.net.lookup(ap)
	if dst == nil {
		return len(b), nil // nobody listens: lost, like UDP
	}
	select {
	case dst.in <- datagram{b: append([]byte(nil), b...), from: c.laddr}:
	default:
		dst.Dropped.Add(1)
	}
	return len(b), nil
}

func (c *memConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		err = nil
		close(c.done)
		c.net.mu.Lock()
		if c.net.conns[c.addr] == c {
			delete(c.net.conns, c.addr)
		}
		c.net.mu.Unlock()
	})
	if err != nil {
		return c.opErr("close", err)
	}
	return nil
}

func (c *memConn) LocalAddr() net.Addr { return c.laddr }

func (c *memConn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	return nil
}

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.rd.set(t)
	return nil
}

// SetWriteDeadline is accepted and ignored: writes never block.
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

func (c *memConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: c.laddr, Addr: c.laddr, Err: err}
}

func addrPort(a net.Addr) (netip.AddrPort, error) {
	switch a := a.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	case interface{ AddrPort() netip.AddrPort }:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	case nil:
		return netip.AddrPort{}, errors.New("netsim: nil address")
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// deadline is a resettable read deadline, like net.Pipe's: wait returns a
// channel closed once the deadline has passed.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{}
}

func (d *deadline) init() { d.cancel = make(chan struct{}) }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired and is closing cancel; wait for it
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		ch := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
