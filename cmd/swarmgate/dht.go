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

	"github.com/swarmgate/swarmgate/internal/node"

	"github.com/swarmgate/swarmgate/internal/dhtnet"
)

// dhtFlags are the Mainline DHT flags shared by the commands.
type dhtFlags struct {
	listen             string
	bootstrap          listFlag
	retryMin, retryMax time.Duration
}

func addDHTFlags(fs *flag.FlagSet) *dhtFlags {
	f := &dhtFlags{}
	fs.StringVar(&f.listen, "dht-listen", "", "UDP address of the DHT node (default: the --listen host, any port)")
	fs.Var(&f.bootstrap, "bootstrap", "DHT bootstrap node host:port (repeatable; default: the public Mainline routers; \"none\" for none)")
	return f
}

// addRetry adds the flags of the lookup retry schedule (commands whose DHT
// node startDHT starts: get, seed, publish).
func (f *dhtFlags) addRetry(fs *flag.FlagSet) {
	fs.DurationVar(&f.retryMin, "dht-retry-min", 100*time.Millisecond, "wait before looking up again after a lookup that found no peer (an announce no node took); doubles up to the role's interval")
	fs.DurationVar(&f.retryMax, "dht-retry-max", 0, "a leecher's longest wait between lookups while it has found no peer (default: the poll interval, 5 s)")
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

// startDHT starts a DHT node next to the PPSP socket at ppsp. A read-only
// node (BEP 43) answers no queries: leechers and sources use one. dbPath
// keeps the routing table warm across restarts ("" = not kept).
func startDHT(ctx context.Context, f *dhtFlags, ppsp net.Addr, readOnly bool, dbPath string, log *slog.Logger) (*node.DHT, error) {
	return startDHTConfig(ctx, f, ppsp, dhtnet.Config{ReadOnly: readOnly, DBPath: dbPath}, log)
}

// startDHTConfig is startDHT with more of dhtnet.Config.
func startDHTConfig(ctx context.Context, f *dhtFlags, ppsp net.Addr, cfg dhtnet.Config, log *slog.Logger) (*node.DHT, error) {
	if cfg.RetryMin == 0 {
		cfg.RetryMin = f.retryMin
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = f.retryMax
	}
	return node.StartDHT(ctx, node.DHTConfig{Listen: f.listen, Bootstrap: f.bootstrapList(), DHT: cfg}, ppsp, log)
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
	defer n.Stop()
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
	stale := fs.Float64("stale", 0, "share of nodes that leave after the build but stay listed in the others' tables")
	seed := fs.Int64("seed", 1, "random seed")
	asJSON := fs.Bool("json", false, "print one JSON object")
	progress := fs.Bool("progress", false, "print progress to stderr")
	verbose := fs.Bool("verbose", false, "also print slow lookups, node counters and each announce's timeline to stderr")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg := dhtnet.BenchConfig{Nodes: *nodes, Lookups: *lookups, Loss: *loss, Impaired: *impaired, Stale: *stale, Seed: *seed, Verbose: *verbose}
	if *progress || *verbose {
		cfg.Progress = stderr
	}
	return dhtnet.Bench(ctx, cfg, stdout, *asJSON)
}
