package netsim

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// RelayConfig configures a Relay: a UDP forwarder that carries every
// client's datagrams to one target through an emulated path, as a NAT
// would, so that real processes talk to each other across delay, loss and
// a bottleneck.
type RelayConfig struct {
	// Conn is the relay's front socket, where clients send. Required.
	Conn net.PacketConn
	// Target is where client datagrams go. Required.
	Target net.Addr
	// Listen opens the back socket the relay uses for one client towards
	// Target (each client gets its own, so the target sees one address per
	// client). Required.
	Listen func() (net.PacketConn, error)
	// Up carries client → target datagrams, Down target → client. A Link
	// may be shared with other relays (flows competing for one
	// bottleneck). nil = a perfect link.
	Up, Down *Link
	// Flow labels this relay's datagrams in the links' per-flow stats.
	Flow int
	// MaxClients bounds the clients (back sockets). Default 16.
	MaxClients int
	// Packets says the datagrams are whole IP packets (a tunnel): the
	// links clock them out without adding UDP/IP header bytes.
	Packets bool
}

// Relay forwards datagrams between clients and one target through links.
type Relay struct {
	cfg RelayConfig

	mu      sync.Mutex
	clients map[string]net.PacketConn
	wg      sync.WaitGroup
}

// NewRelay checks cfg and returns a relay; Run serves it.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.Conn == nil || cfg.Target == nil || cfg.Listen == nil {
		return nil, errors.New("netsim: RelayConfig needs Conn, Target and Listen")
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = 16
	}
	return &Relay{cfg: cfg, clients: make(map[string]net.PacketConn)}, nil
}

// Addr is the address clients send to.
func (r *Relay) Addr() net.Addr { return r.cfg.Conn.LocalAddr() }

// Run forwards until ctx is done or the front socket fails; it closes the
// back sockets (not Conn) before it returns.
func (r *Relay) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { r.cfg.Conn.SetReadDeadline(aLongTimeAgo) })
	defer stop()
	defer func() {
		r.mu.Lock()
		for _, c := range r.clients {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	}()
	buf := make([]byte, 65536)
	for {
		n, from, err := r.cfg.Conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		back, err := r.back(from)
		if err != nil {
			continue // too many clients, or no socket: dropped like UDP
		}
		fwd := func(b []byte) { back.WriteTo(b, r.cfg.Target) }
		r.send(r.cfg.Up, buf[:n], fwd)
	}
}

func (r *Relay) send(l *Link, b []byte, deliver func([]byte)) {
	switch {
	case l == nil:
		deliver(b)
	case r.cfg.Packets:
		l.SendOverhead(r.cfg.Flow, b, 0, deliver)
	default:
		l.Send(r.cfg.Flow, b, deliver)
	}
}

// back returns the back socket for client from, opening it on first use.
func (r *Relay) back(from net.Addr) (net.PacketConn, error) {
	key := from.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.clients[key]; c != nil {
		return c, nil
	}
	if len(r.clients) >= r.cfg.MaxClients {
		return nil, errors.New("netsim: relay full")
	}
	c, err := r.cfg.Listen()
	if err != nil {
		return nil, err
	}
	r.clients[key] = c
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 65536)
		reply := func(b []byte) { r.cfg.Conn.WriteTo(b, from) }
		for {
			n, src, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if src.String() != r.cfg.Target.String() {
				continue // only the target may answer through this hole
			}
			r.send(r.cfg.Down, buf[:n], reply)
		}
	}()
	return c, nil
}

// aLongTimeAgo is a deadline in the past: it unblocks a pending read.
var aLongTimeAgo = time.Unix(1, 0)
