package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/sqlitestore"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// SocketBuffer is the kernel buffer asked for on peer sockets: bursts at
// loopback speed overflow the 208 KiB default.
const SocketBuffer = 4 << 20

// Config configures a Node. Zero values pick the documented defaults.
type Config struct {
	// Listen is the UDP address of the peer socket (default
	// "0.0.0.0:7758"). Ignored when Conn is set.
	Listen string
	// Conn is a transport to use instead of a UDP socket of our own (the
	// gateway passes a mux of UDP and WebRTC). The node closes it.
	Conn net.PacketConn
	// StateDir is the state directory: SQLite database, hash trees (and
	// downloaded content where the caller puts it there). Required.
	StateDir string
	// Logger receives the node's logs (default: discarded).
	Logger *slog.Logger
	// Engine configures the PPSP engine; Conn and Logger are filled in.
	Engine swarm.Config
}

// Node is an open peer: socket, store and engine. Start runs the engine.
type Node struct {
	Conn   net.PacketConn
	Store  *sqlitestore.Store
	Engine *swarm.Engine
	log    *slog.Logger
	stop   func() error
}

// Open listens (unless cfg.Conn is given), opens the state directory and
// makes an engine on the transport.
func Open(cfg Config) (*Node, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("node: no state directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	conn := cfg.Conn
	if conn == nil {
		if cfg.Listen == "" {
			cfg.Listen = "0.0.0.0:7758"
		}
		c, err := ListenUDP(cfg.Listen)
		if err != nil {
			return nil, err
		}
		conn = c
	}
	st, err := OpenStore(cfg.StateDir, cfg.Logger)
	if err != nil {
		conn.Close()
		return nil, err
	}
	ec := cfg.Engine
	ec.Conn, ec.Logger = conn, cfg.Logger
	e, err := swarm.New(ec)
	if err != nil {
		st.Close()
		conn.Close()
		return nil, err
	}
	return &Node{Conn: conn, Store: st, Engine: e, log: cfg.Logger}, nil
}

// Start runs the engine in the background until Stop or ctx ends.
func (n *Node) Start(ctx context.Context) {
	if n.stop != nil {
		return
	}
	n.stop = RunEngine(ctx, n.Engine)
}

// Stop stops the engine (if started) and waits for it; it returns the
// engine's error.
func (n *Node) Stop() error {
	if n.stop == nil {
		return nil
	}
	stop := n.stop
	n.stop = nil
	return stop()
}

// Close stops the engine and closes the store and the socket.
func (n *Node) Close() error {
	err := n.Stop()
	if cerr := n.Store.Close(); err == nil {
		err = cerr
	}
	n.Conn.Close()
	return err
}

// RunEngine starts e.Run in the background; the returned func stops it and
// waits for its error.
func RunEngine(ctx context.Context, e *swarm.Engine) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	return func() error {
		cancel()
		err := <-done
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		return err
	}
}

// ListenUDP opens a peer socket with a clear error for ports in use and
// kernel buffers raised to SocketBuffer.
func ListenUDP(addr string) (net.PacketConn, error) {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen %s: the port is in use by another program (pick another with --listen)", addr)
		}
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	swarm.TuneSocket(c, SocketBuffer)
	return c, nil
}

// OpenStore opens (creating it) the SQLite state directory, with a clear
// error when another process holds it.
func OpenStore(dir string, log *slog.Logger) (*sqlitestore.Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	st, err := sqlitestore.Open(sqlitestore.Config{Dir: dir, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	return st, nil
}

// DefaultStateDir is $XDG_STATE_HOME/swarmgate/<sub>, else
// ~/.local/state/swarmgate/<sub>.
func DefaultStateDir(sub string) string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "swarmgate", sub)
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "swarmgate", sub)
	}
	return filepath.Join(os.TempDir(), "swarmgate", sub)
}

// InfoLink is the link of stored content.
func InfoLink(info store.Info) link.Link {
	return link.Link{Root: info.SwarmID, HashFunc: info.HashFunc, ChunkSize: info.ChunkSize, Length: info.Length, Name: info.Name}
}

// Advertised is the host:port to put in links for a local address: an
// unspecified IP becomes 127.0.0.1.
func Advertised(a net.Addr) string {
	u, ok := a.(*net.UDPAddr)
	if !ok {
		return a.String()
	}
	if u.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(u.Port))
	}
	return u.String()
}

// UDPPort is a's port, 0 when a is not a UDP address.
func UDPPort(a net.Addr) int {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.Port
	}
	return 0
}
