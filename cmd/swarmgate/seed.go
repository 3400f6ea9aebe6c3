package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/swarmgate/swarmgate/internal/node"

	"github.com/swarmgate/swarmgate/internal/dhtnet"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// cmdSeed serves files over UDP and prints a link per file.
func cmdSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("seed", stderr)
	listen := fs.String("listen", "0.0.0.0:7758", "UDP address to serve on")
	hcache := hashCacheFlag(fs, seedHashCache)
	idle := idleReleaseFlag(fs)
	state := fs.String("state", node.DefaultStateDir("seed"), "state directory (SQLite database and hash trees)")
	cs := fs.Int("chunk-size", 1024, "chunk size in bytes")
	hf := fs.String("hash", "sha1", "Merkle hash function: sha1 or sha256")
	gw := fs.String("gateway", "", "print https://GATEWAY/<root> links instead of tswift:// links")
	useDHT := fs.Bool("dht", false, "announce each file on the Mainline DHT (booster/seeder role: at once, then every 10 min)")
	df := addDHTFlags(fs)
	df.addRetry(fs)
	statsFile := fs.String("stats-json", "", "write transfer figures as JSON to this file on exit")
	lbDgram := fs.Int("loopback-datagram", 0, "largest datagram to loopback peers (default 17000; 1472 makes loopback behave like the Internet)")
	verbose := fs.Bool("v", false, "verbose logs")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return fmt.Errorf("%w: seed needs at least one FILE", errUsage)
	}
	o, err := hashOptions(*cs, *hf)
	if err != nil {
		return err
	}
	log := newLogger(stderr, *verbose)
	p, err := openPeer(*listen, *state, log, swarm.Config{LoopbackDatagram: *lbDgram, HashCache: int(*hcache), IdleRelease: *idle})
	if err != nil {
		return err
	}
	defer p.Close()
	conn, st, e := p.Conn, p.Store, p.Engine
	adv := node.Advertised(conn.LocalAddr())
	var roots [][]byte
	var swarms []*swarm.Swarm
	var total int64
	for _, path := range pos {
		sw, err := node.ImportFile(st, path, o)
		if err != nil {
			return err
		}
		defer sw.Close()
		info := sw.Info()
		s, err := e.Add(swarm.SwarmConfig{Store: sw})
		if err != nil {
			return err
		}
		swarms = append(swarms, s)
		roots = append(roots, info.SwarmID)
		total += info.Length
		l := node.InfoLink(info)
		if *gw != "" {
			fmt.Fprintln(stdout, l.HTTPS(*gw))
		} else {
			fmt.Fprintln(stdout, l.TSwift(adv))
		}
	}
	if f, ok := stdout.(interface{ Sync() error }); ok {
		f.Sync()
	}
	stop := node.RunEngine(ctx, e)
	if *useDHT {
		n, err := startDHT(ctx, df, conn.LocalAddr(), false, filepath.Join(*state, "dht.db"), log)
		if err != nil {
			stop()
			return err
		}
		defer n.Stop()
		for _, r := range roots {
			id, _ := dhtnet.SwarmID(r)
			m, err := n.Join(ctx, id, dhtnet.RoleBooster, node.UDPPort(conn.LocalAddr()))
			if err != nil {
				stop()
				return err
			}
			go func() {
				for range m.Peers() { // a seeder needs nobody
				}
			}()
		}
	}
	cpu0, t0 := cpuSeconds(), time.Now()
	<-ctx.Done()
	err = stop()
	es := e.Stats()
	var retx uint64
	for _, s := range swarms {
		retx += s.Stats().Retransmits
	}
	werr := writeStats(*statsFile, runStats{
		Content: total, WireSent: es.BytesSent, WireRecv: es.BytesRecv,
		DatagramsSent: es.DatagramsSent, DatagramsRecv: es.DatagramsRecv, Retransmits: retx,
		CPUSeconds: cpuSeconds() - cpu0, Seconds: time.Since(t0).Seconds(),
	})
	if err != nil {
		return err
	}
	return werr
}
