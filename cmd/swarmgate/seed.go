package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/swarmgate/swarmgate/internal/dhtnet"
	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/sqlitestore"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// cmdSeed serves files over UDP and prints a link per file.
func cmdSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("seed", stderr)
	listen := fs.String("listen", "0.0.0.0:7758", "UDP address to serve on")
	state := fs.String("state", defaultStateDir("seed"), "state directory (SQLite database and hash trees)")
	cs := fs.Int("chunk-size", 1024, "chunk size in bytes")
	hf := fs.String("hash", "sha1", "Merkle hash function: sha1 or sha256")
	gw := fs.String("gateway", "", "print https://GATEWAY/<root> links instead of tswift:// links")
	useDHT := fs.Bool("dht", false, "announce each file on the Mainline DHT (booster/seeder role: at once, then every 10 min)")
	df := addDHTFlags(fs)
	statsFile := fs.String("stats-json", "", "write transfer figures as JSON to this file on exit")
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
	p, err := openPeer(*listen, *state, log, swarm.Config{})
	if err != nil {
		return err
	}
	defer p.close()
	conn, st, e := p.conn, p.st, p.e
	adv := advertised(conn.LocalAddr())
	var roots [][]byte
	var total int64
	for _, path := range pos {
		sw, err := importFile(st, path, o)
		if err != nil {
			return err
		}
		defer sw.Close()
		info := sw.Info()
		if _, err := e.Add(swarm.SwarmConfig{Store: sw}); err != nil {
			return err
		}
		roots = append(roots, info.SwarmID)
		total += info.Length
		l := infoLink(info)
		if *gw != "" {
			fmt.Fprintln(stdout, l.HTTPS(*gw))
		} else {
			fmt.Fprintln(stdout, l.TSwift(adv))
		}
	}
	if f, ok := stdout.(interface{ Sync() error }); ok {
		f.Sync()
	}
	stop := runEngine(ctx, e)
	if *useDHT {
		n, err := startDHT(ctx, df, conn.LocalAddr(), false, filepath.Join(*state, "dht.db"), log)
		if err != nil {
			stop()
			return err
		}
		defer n.stop()
		for _, r := range roots {
			id, _ := dhtnet.SwarmID(r)
			m, err := n.Join(ctx, id, dhtnet.RoleBooster, udpPort(conn.LocalAddr()))
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
	werr := writeStats(*statsFile, runStats{
		Content: total, WireSent: es.BytesSent, WireRecv: es.BytesRecv,
		DatagramsSent: es.DatagramsSent, DatagramsRecv: es.DatagramsRecv,
		CPUSeconds: cpuSeconds() - cpu0, Seconds: time.Since(t0).Seconds(),
	})
	if err != nil {
		return err
	}
	return werr
}

// importFile hashes path and records it as verified content.
func importFile(st store.Store, path string, o merkle.Options) (store.Swarm, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, size, err := openContent(abs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info := store.Info{Path: abs, Name: filepath.Base(abs), ChunkSize: uint32(o.ChunkSize), HashFunc: uint8(o.HashFunc), Length: size}
	sw, _, err := swarm.Import(st, f, size, info, 0)
	if errors.Is(err, sqlitestore.ErrPathInUse) {
		// The file changed since it was seeded: forget the old content.
		if err := forgetPath(st, abs); err != nil {
			return nil, err
		}
		sw, _, err = swarm.Import(st, f, size, info, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if sw.Info().Path != abs {
		// The same content was seeded from elsewhere before: forget that.
		id := sw.Info().SwarmID
		sw.Close()
		if err := st.Remove(id); err != nil {
			return nil, err
		}
		if sw, _, err = swarm.Import(st, f, size, info, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return sw, nil
}

// forgetPath removes the state of swarms whose content file is path.
func forgetPath(st store.Store, path string) error {
	infos, err := st.List()
	if err != nil {
		return err
	}
	for _, in := range infos {
		if in.Path == path {
			if err := st.Remove(in.SwarmID); err != nil {
				return err
			}
		}
	}
	return nil
}

// advertised is the address put in printed links.
func advertised(a net.Addr) string {
	u, ok := a.(*net.UDPAddr)
	if !ok {
		return a.String()
	}
	if u.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(u.Port))
	}
	return u.String()
}
