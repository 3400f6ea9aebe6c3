package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/swarmgate/swarmgate/internal/dhtnet"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// DHTConfig configures the DHT node next to a peer socket.
type DHTConfig struct {
	// Listen is the DHT node's UDP address (default: the peer socket's
	// host, any port).
	Listen string
	// Bootstrap are bootstrap nodes host:port: nil means the public
	// Mainline routers, an empty non-nil list none (a private overlay).
	Bootstrap []string
	// DHT is the rest of dhtnet.Config (Conn, Bootstrap and Logger are
	// filled in): ReadOnly for leechers and sources, DBPath to keep the
	// routing table warm across restarts.
	DHT dhtnet.Config
}

// DHT is a running DHT node; Stop ends it.
type DHT struct {
	*dhtnet.Node
	cancel context.CancelFunc
	done   chan struct{}
}

// StartDHT starts a DHT node next to the peer socket at ppsp.
func StartDHT(ctx context.Context, cfg DHTConfig, ppsp net.Addr, log *slog.Logger) (*DHT, error) {
	listen := cfg.Listen
	if listen == "" {
		host := "0.0.0.0"
		if u, ok := ppsp.(*net.UDPAddr); ok && !u.IP.IsUnspecified() {
			host = u.IP.String()
		}
		listen = net.JoinHostPort(host, "0")
	}
	conn, err := ListenUDP(listen)
	if err != nil {
		return nil, fmt.Errorf("dht: %w", err)
	}
	dc := cfg.DHT
	dc.Conn, dc.Bootstrap, dc.Logger = conn, cfg.Bootstrap, log
	n, err := dhtnet.New(dc)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dht: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	d := &DHT{Node: n, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		n.Run(ctx)
	}()
	return d, nil
}

// Stop ends the DHT node and waits for it.
func (d *DHT) Stop() {
	d.cancel()
	d.Node.Close()
	<-d.done
}

// ConnectPeers connects the swarm to every peer the membership finds,
// until the membership ends.
func ConnectPeers(m *dhtnet.Membership, s *swarm.Swarm) {
	for ap := range m.Peers() {
		s.Connect(net.UDPAddrFromAddrPort(ap))
	}
}

// OpenPeers counts the swarm's open channels.
func OpenPeers(s *swarm.Swarm) int {
	n := 0
	for _, p := range s.Peers() {
		if p.Open {
			n++
		}
	}
	return n
}

// AskWhenAlone asks the membership for more peers whenever the swarm has
// none left (the leecher role's only repeat lookup), until ctx ends or the
// swarm completes.
func AskWhenAlone(ctx context.Context, m *dhtnet.Membership, s *swarm.Swarm) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.Done():
			return
		case <-t.C:
			if OpenPeers(s) == 0 {
				m.NeedPeers()
			}
		}
	}
}
