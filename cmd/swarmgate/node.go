package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/sqlitestore"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// socketBuffer is the kernel buffer we ask for: bursts at loopback speed
// overflow the 208 KiB default.
const socketBuffer = 4 << 20

// listenUDP opens the peer socket with a clear error for ports in use.
func listenUDP(addr string) (net.PacketConn, error) {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen %s: the port is in use by another program (pick another with --listen)", addr)
		}
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	swarm.TuneSocket(c, socketBuffer)
	return c, nil
}

// openStore opens the SQLite state directory with a clear error when it is
// locked by another process.
func openStore(dir string, log *slog.Logger) (*sqlitestore.Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	st, err := sqlitestore.Open(sqlitestore.Config{Dir: dir, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	return st, nil
}

// defaultStateDir is $XDG_STATE_HOME/swarmgate/<sub> or ~/.local/state/swarmgate/<sub>.
func defaultStateDir(sub string) string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "swarmgate", sub)
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "swarmgate", sub)
	}
	return filepath.Join(os.TempDir(), "swarmgate", sub)
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	lvl := slog.LevelWarn
	if verbose {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// runEngine starts e.Run in the background; the returned func stops it and
// waits.
func runEngine(ctx context.Context, e *swarm.Engine) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

// runStats is what --stats-json writes: the transfer's wire figures.
type runStats struct {
	Content       int64   `json:"content_bytes"`
	WireSent      uint64  `json:"wire_bytes_sent"`
	WireRecv      uint64  `json:"wire_bytes_recv"`
	DatagramsSent uint64  `json:"datagrams_sent"`
	DatagramsRecv uint64  `json:"datagrams_recv"`
	Retransmits   uint64  `json:"retransmits"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	Seconds       float64 `json:"seconds"`
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func writeStats(path string, s runStats) error {
	if path == "" {
		return nil
	}
	b, _ := json.Marshal(s)
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// peerNode is a PPSP peer: its UDP socket, state store and engine.
type peerNode struct {
	conn net.PacketConn
	st   *sqlitestore.Store
	e    *swarm.Engine
}

// openPeer listens on listen, opens the state directory and makes an
// engine on the socket (cfg.Conn and cfg.Logger are filled in).
func openPeer(listen, state string, log *slog.Logger, cfg swarm.Config) (*peerNode, error) {
	conn, err := listenUDP(listen)
	if err != nil {
		return nil, err
	}
	st, err := openStore(state, log)
	if err != nil {
		conn.Close()
		return nil, err
	}
	cfg.Conn, cfg.Logger = conn, log
	e, err := swarm.New(cfg)
	if err != nil {
		st.Close()
		conn.Close()
		return nil, err
	}
	return &peerNode{conn: conn, st: st, e: e}, nil
}

// close closes the store and the socket (stop the engine first).
func (p *peerNode) close() {
	p.st.Close()
	p.conn.Close()
}

// infoLink is the link of stored content.
func infoLink(info store.Info) link.Link {
	return link.Link{Root: info.SwarmID, HashFunc: info.HashFunc, ChunkSize: info.ChunkSize, Length: info.Length, Name: info.Name}
}
