package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/swarmgate/swarmgate/internal/node"

	"github.com/swarmgate/swarmgate/internal/dhtnet"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// cmdBoost is the booster role for given links (thesis ch. 11 §IV-A):
// told of new content, it announces itself on the DHT at once, before it
// holds a byte, so that the source finds it and connects out to it; it
// fetches from whoever connects or announces, then seeds and keeps
// re-announcing.
func cmdBoost(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("boost", stderr)
	listen := fs.String("listen", "0.0.0.0:7758", "UDP address to serve on")
	hcache := hashCacheFlag(fs)
	state := fs.String("state", node.DefaultStateDir("boost"), "state directory (content, SQLite, hash trees)")
	df := addDHTFlags(fs)
	verbose := fs.Bool("v", false, "verbose logs")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return fmt.Errorf("%w: boost needs at least one LINK or ROOT", errUsage)
	}
	var links []link.Link
	for _, p := range pos {
		l, err := link.Parse(p)
		if err != nil {
			return err
		}
		links = append(links, l)
	}
	log := newLogger(stderr, *verbose)
	p, err := openPeer(*listen, *state, log, swarm.Config{HashCache: int(*hcache)})
	if err != nil {
		return err
	}
	defer p.Close()
	conn, st, e := p.Conn, p.Store, p.Engine
	stop := node.RunEngine(ctx, e)
	defer stop()
	n, err := startDHT(ctx, df, conn.LocalAddr(), false, filepath.Join(*state, "dht.db"), log)
	if err != nil {
		return err
	}
	defer n.Stop()
	for _, l := range links {
		sw, err := st.Open(store.Info{SwarmID: l.Root, HashFunc: l.HashFunc, ChunkSize: l.ChunkSize, Length: -1, Name: l.Name})
		if err != nil {
			return err
		}
		defer sw.Close()
		s, err := e.Add(swarm.SwarmConfig{Store: sw})
		if err != nil {
			return err
		}
		id, _ := dhtnet.SwarmID(l.Root)
		m, err := n.Join(ctx, id, dhtnet.RoleBooster, node.UDPPort(conn.LocalAddr()))
		if err != nil {
			return err
		}
		defer m.Close()
		go node.ConnectPeers(m, s)
		fmt.Fprintf(stdout, "boosting %s\n", l.TSwift(node.Advertised(conn.LocalAddr())))
	}
	<-ctx.Done()
	return nil
}
