package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/swarmgate/swarmgate/internal/node"

	"github.com/swarmgate/swarmgate/internal/swarm"
)

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	lvl := slog.LevelWarn
	if verbose {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// runStats is what --stats-json writes: the transfer's wire figures.
type runStats struct {
	Content       int64   `json:"content_bytes"`
	WireSent      uint64  `json:"wire_bytes_sent"`
	WireRecv      uint64  `json:"wire_bytes_recv"`
	DatagramsSent uint64  `json:"datagrams_sent"`
	DatagramsRecv uint64  `json:"datagrams_recv"`
	Retransmits   uint64  `json:"retransmits"`
	Duplicates    uint64  `json:"duplicates,omitempty"`
	Unverifiable  uint64  `json:"unverifiable,omitempty"`
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

// openPeer opens a node: listen, the state directory, and an engine on the
// socket.
func openPeer(listen, state string, log *slog.Logger, cfg swarm.Config) (*node.Node, error) {
	return node.Open(node.Config{Listen: listen, StateDir: state, Logger: log, Engine: cfg})
}
