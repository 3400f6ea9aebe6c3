package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/swarmgate/swarmgate/internal/dhtnet"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// dhtFlags are the Mainline DHT flags shared by the commands.
type dhtFlags struct {
	listen    string
	bootstrap listFlag
}

func addDHTFlags(fs *flag.FlagSet) *dhtFlags {
	f := &dhtFlags{}
	fs.StringVar(&f.listen, "dht-listen", "", "UDP address of the DHT node (default: the --listen host, any port)")
	fs.Var(&f.bootstrap, "bootstrap", "DHT bootstrap node host:port (repeatable; default: the public Mainline routers; \"none\" for none)")
	return f
}

// bootstrapList maps the flag to dhtnet's convention: nil = public routers.
func (f *dhtFlags) bootstrapList() []string {
	if len(f.bootstrap) == 0 {
		return nil
	}
	var out []string
	for _, b := range f.bootstrap {
		if b != "none" {
			out = append(out, b)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// dhtNode is a running DHT node.
type dhtNode struct {
	*dhtnet.Node
	stop func()
}

// startDHT starts a DHT node next to the PPSP socket at ppsp. A read-only
// node (BEP 43) answers no queries: leechers and sources use one. dbPath
// keeps the routing table warm across restarts ("" = not kept).
func startDHT(ctx context.Context, f *dhtFlags, ppsp net.Addr, readOnly bool, dbPath string, log *slog.Logger) (*dhtNode, error) {
	return startDHTConfig(ctx, f, ppsp, dhtnet.Config{ReadOnly: readOnly, DBPath: dbPath}, log)
}

// startDHTConfig is startDHT with more of dhtnet.Config (Conn, Bootstrap
// and Logger are filled in).
func startDHTConfig(ctx context.Context, f *dhtFlags, ppsp net.Addr, cfg dhtnet.Config, log *slog.Logger) (*dhtNode, error) {
	listen := f.listen
	if listen == "" {
		host := "0.0.0.0"
		if u, ok := ppsp.(*net.UDPAddr); ok && !u.IP.IsUnspecified() {
			host = u.IP.String()
		}
		listen = net.JoinHostPort(host, "0")
	}
	conn, err := listenUDP(listen)
	if err != nil {
		return nil, fmt.Errorf("dht: %w", err)
	}
	cfg.Conn, cfg.Bootstrap, cfg.Logger = conn, f.bootstrapList(), log
	node, err := dhtnet.New(cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dht: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		node.Run(ctx)
	}()
	return &dhtNode{Node: node, stop: func() {
		cancel()
		node.Close()
		<-done
	}}, nil
}

// connectPeers connects the swarm to every peer the membership finds.
func connectPeers(m *dhtnet.Membership, s *swarm.Swarm) {
	for ap := range m.Peers() {
		s.Connect(net.UDPAddrFromAddrPort(ap))
	}
}

func udpPort(a net.Addr) int {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.Port
	}
	return 0
}

// openPeers counts the swarm's open channels.
func openPeers(s *swarm.Swarm) int {
	n := 0
	for _, p := range s.Peers() {
		if p.Open {
			n++
		}
	}
	return n
}

// askWhenAlone asks the membership for more peers whenever the swarm has
// none left (the leecher role's only repeat lookup).
func askWhenAlone(ctx context.Context, m *dhtnet.Membership, s *swarm.Swarm) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.Done():
			return
		case <-t.C:
			if openPeers(s) == 0 {
				m.NeedPeers()
			}
		}
	}
}

// cmdDHTNode runs a plain DHT node: a bootstrap router for a private
// overlay (and for tests, which never touch the public DHT).
func cmdDHTNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dht-node", stderr)
	listen := fs.String("listen", "0.0.0.0:6881", "UDP address of the DHT node")
	state := fs.String("state", "", "directory for the routing table (default: not kept)")
	var bootstrap listFlag
	fs.Var(&bootstrap, "bootstrap", "bootstrap node host:port (repeatable; default none)")
	verbose := fs.Bool("v", false, "verbose logs")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	f := &dhtFlags{listen: *listen, bootstrap: bootstrap}
	if len(f.bootstrap) == 0 {
		f.bootstrap = listFlag{"none"}
	}
	db := ""
	if *state != "" {
		db = filepath.Join(*state, "dht.db")
	}
	n, err := startDHT(ctx, f, nil, false, db, newLogger(stderr, *verbose))
	if err != nil {
		return err
	}
	defer n.stop()
	fmt.Fprintln(stdout, n.Addr())
	<-ctx.Done()
	return nil
}

// benchDHT runs the emulated-overlay lookup benchmark (internal/dhtnet).
func benchDHT(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench dht", stderr)
	nodes := fs.Int("nodes", 1000, "overlay nodes")
	lookups := fs.Int("lookups", 1000, "measured lookups per variant")
	loss := fs.Float64("loss", 0.05, "share of datagrams dropped")
	impaired := fs.Float64("impaired", 0.33, "share of nodes impaired (half answer nobody, half only some)")
	seed := fs.Int64("seed", 1, "random seed")
	asJSON := fs.Bool("json", false, "print one JSON object")
	progress := fs.Bool("progress", false, "print progress to stderr")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg := dhtnet.BenchConfig{Nodes: *nodes, Lookups: *lookups, Loss: *loss, Impaired: *impaired, Seed: *seed}
	if *progress {
		cfg.Progress = stderr
	}
	return dhtnet.Bench(ctx, cfg, stdout, *asJSON)
}
