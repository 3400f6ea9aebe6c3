package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/swarmgate/swarmgate/internal/node"

	"github.com/swarmgate/swarmgate/internal/dhtnet"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// cmdPublish is the source role (thesis ch. 11, reverse peer discovery):
// it connects out to boosters, uploads one full copy, and exits when a
// booster holds it all. It never announces itself.
func cmdPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("publish", stderr)
	listen := fs.String("listen", "0.0.0.0:0", "UDP address to use")
	hcache := hashCacheFlag(fs, seedHashCache)
	idle := idleReleaseFlag(fs)
	var peers listFlag
	fs.Var(&peers, "peer", "booster host:port to upload to (repeatable)")
	state := fs.String("state", node.DefaultStateDir("publish"), "state directory")
	cs := fs.Int("chunk-size", 1024, "chunk size in bytes")
	hf := fs.String("hash", "sha1", "Merkle hash function: sha1 or sha256")
	gw := fs.String("gateway", "", "print an https://GATEWAY/<root> link")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up when no booster holds a full copy by then")
	df := addDHTFlags(fs)
	df.addRetry(fs)
	noDHT := fs.Bool("no-dht", false, "do not look for boosters on the DHT (only --peer)")
	poll := fs.Duration("poll", 5*time.Second, "how often the source asks the DHT for boosters")
	verbose := fs.Bool("v", false, "verbose logs")
	fp := addFeedPublishFlags(fs)
	statsFile := fs.String("stats-json", "", "write the source's upload figures as JSON to this file on exit")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: publish takes one FILE", errUsage)
	}
	if b := df.bootstrapList(); len(peers) == 0 && (*noDHT || (b != nil && len(b) == 0)) {
		return fmt.Errorf("%w: no boosters: pass --peer BOOSTER or DHT --bootstrap nodes", errUsage)
	}
	if fp.enabled() {
		if err := fp.check(); err != nil {
			return err
		}
	}
	o, err := hashOptions(*cs, *hf)
	if err != nil {
		return err
	}
	log := newLogger(stderr, *verbose)
	p, err := openPeer(*listen, *state, log, swarm.Config{HashCache: int(*hcache), IdleRelease: *idle})
	if err != nil {
		return err
	}
	defer p.Close()
	conn, st, e := p.Conn, p.Store, p.Engine
	sw, err := node.ImportFile(st, pos[0], o)
	if err != nil {
		return err
	}
	defer sw.Close()
	info := sw.Info()
	l := node.InfoLink(info)
	if *gw != "" {
		fmt.Fprintln(stdout, l.HTTPS(*gw))
	} else {
		fmt.Fprintln(stdout, l.PPSP())
	}
	s, err := e.Add(swarm.SwarmConfig{Store: sw, SuperSeed: true})
	if err != nil {
		return err
	}
	defer writeSourceStats(*statsFile, s, info.Length)
	stop := node.RunEngine(ctx, e)
	defer stop()
	if fp.enabled() {
		if err := fp.post(ctx, info, stdout); err != nil {
			return err
		}
	}
	for _, p := range peers {
		a, err := net.ResolveUDPAddr("udp", p)
		if err != nil {
			return fmt.Errorf("peer %q: %w", p, err)
		}
		s.Connect(a)
	}
	if !*noDHT {
		// The source role: ask for peers every 5 s, never announce, and
		// connect out to every booster that announced (through NATs).
		// Read-only: a phone publishing stays quiet.
		if *poll < time.Second {
			return fmt.Errorf("%w: --poll %v is below 1s", errUsage, *poll)
		}
		n, err := startDHTConfig(ctx, df, conn.LocalAddr(), dhtnet.Config{ReadOnly: true, PollInterval: *poll}, log)
		if err != nil {
			return err
		}
		defer n.Stop()
		id, _ := dhtnet.SwarmID(info.SwarmID)
		m, err := n.Join(ctx, id, dhtnet.RoleSource, 0)
		if err != nil {
			return err
		}
		defer m.Close()
		go node.ConnectPeers(m, s)
		headDone := make(chan struct{})
		go func() {
			defer close(headDone)
			if fp.enabled() {
				hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				fp.putHead(hctx, n.Node, log)
			}
		}()
		defer func() { <-headDone }()
		err = waitFullCopy(ctx, s, *timeout, stderr)
		if err == nil {
			m.Done()
		}
		return err
	}
	return waitFullCopy(ctx, s, *timeout, stderr)
}

// waitFullCopy returns when some peer holds every chunk.
func waitFullCopy(ctx context.Context, s *swarm.Swarm, timeout time.Duration, stderr io.Writer) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	deadline := time.After(timeout)
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted before a booster held a full copy")
		case <-deadline:
			return fmt.Errorf("no booster held a full copy after %v", timeout)
		case <-t.C:
			for _, p := range s.Peers() {
				if p.Seeder {
					fmt.Fprintf(stderr, "booster %v holds a full copy; done\n", p.Addr)
					return nil
				}
			}
		}
	}
}
