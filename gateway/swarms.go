package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/swarmgate/swarmgate/internal/stream"

	"github.com/swarmgate/swarmgate/internal/dhtnet"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/node"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/sqlitestore"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// errBusy means every swarm slot is taken by a watched swarm.
var errBusy = errors.New("gateway: too many swarms open; try again later")

// entry is a swarm the gateway has joined.
type entry struct {
	root     []byte
	sw       *stream.Swarm
	s        *swarm.Swarm
	m        *dhtnet.Membership // nil without the DHT
	cancel   context.CancelFunc
	watchers atomic.Int32 // open /raw/ readers and browser sessions
	lastUsed atomic.Int64 // unix ms
}

func (e *entry) info() store.Info { return e.sw.Info() }

// watch marks the swarm watched until the returned func is called.
func (e *entry) watch() (release func()) {
	e.watchers.Add(1)
	e.lastUsed.Store(time.Now().UnixMilli())
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			e.watchers.Add(-1)
			e.lastUsed.Store(time.Now().UnixMilli())
		}
	}
}

// lookup returns the joined swarm with root, if any.
func (g *Gateway) lookup(root []byte) *entry {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.swarms[string(root)]
}

// join returns the swarm of l, joining it if needed: from the store when
// the gateway holds (part of) it, else as a new download. l's name and
// type are remembered; its length is only a hint (the peaks prove it).
func (g *Gateway) join(l link.Link) (*entry, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if e := g.swarms[string(l.Root)]; e != nil {
		e.lastUsed.Store(now.UnixMilli())
		if l.Name != "" || l.MIME != "" {
			g.cat.touch(l.Root, l.Name, l.MIME, now)
		}
		return e, nil
	}
	if g.closed {
		return nil, errors.New("gateway: shutting down")
	}
	if len(g.swarms) >= g.cfg.MaxSwarms && !g.leaveIdleLocked() {
		return nil, errBusy
	}
	info, err := g.node.Store.Get(l.Root)
	if errors.Is(err, store.ErrNotFound) {
		info = store.Info{SwarmID: l.Root, HashFunc: l.HashFunc, ChunkSize: l.ChunkSize, Length: -1, Name: l.Name}
	} else if err != nil {
		return nil, err
	} else if info.HashFunc != l.HashFunc || info.ChunkSize != l.ChunkSize {
		// Another link to the same root with other parameters names
		// other content: the one held wins.
		l.HashFunc, l.ChunkSize = info.HashFunc, info.ChunkSize
	}
	sw, err := g.node.Store.Open(info)
	if err != nil {
		return nil, err
	}
	ns := stream.Wrap(sw)
	s, err := g.node.Engine.Add(swarm.SwarmConfig{Store: ns})
	if err != nil {
		sw.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(g.ctx)
	e := &entry{root: bytes.Clone(l.Root), sw: ns, s: s, cancel: cancel}
	e.lastUsed.Store(now.UnixMilli())
	for _, a := range g.peers {
		s.Connect(a)
	}
	if g.dht != nil {
		if id, err := dhtnet.SwarmID(l.Root); err == nil {
			// The embedded booster announces at once (reverse peer
			// discovery: a source polling the DHT finds the gateway).
			m, err := g.dht.Join(ctx, id, dhtnet.RoleBooster, node.UDPPort(g.udp.LocalAddr()))
			if err == nil {
				e.m = m
				go node.ConnectPeers(m, s)
			} else {
				g.log.Warn("dht join", "swarm", store.ShortID(l.Root), "err", err)
			}
		}
	}
	g.swarms[string(l.Root)] = e
	if g.bridge != nil {
		// Listed in the swarm's room: browsers reach the gateway as a peer.
		if err := g.bridge.client.Join(rootHex(l.Root)); err != nil {
			g.log.Warn("signaling join", "swarm", store.ShortID(l.Root), "err", err)
		}
	}
	if err := g.cat.touch(l.Root, l.Name, l.MIME, now); err != nil {
		g.log.Warn("catalog", "err", err)
	}
	g.metrics.swarmsJoined.Inc()
	return e, nil
}

// leaveLocked leaves a joined swarm; its content and state stay on disk.
func (g *Gateway) leaveLocked(e *entry) {
	delete(g.swarms, string(e.root))
	if g.bridge != nil {
		g.bridge.client.Leave(rootHex(e.root))
	}
	e.cancel()
	if e.m != nil {
		e.m.Close()
	}
	e.s.Close()
	e.sw.Close()
	g.cat.touch(e.root, "", "", time.UnixMilli(e.lastUsed.Load()))
}

// leaveIdleLocked leaves the least recently used unwatched swarm; false
// when every swarm is watched.
func (g *Gateway) leaveIdleLocked() bool {
	var victim *entry
	for _, e := range g.swarms {
		if e.watchers.Load() > 0 {
			continue
		}
		if victim == nil || e.lastUsed.Load() < victim.lastUsed.Load() {
			victim = e
		}
	}
	if victim == nil {
		return false
	}
	g.leaveLocked(victim)
	return true
}

// rejoinHeld joins, most recent first and up to MaxSwarms/2, the swarms
// held from an earlier run: the embedded booster keeps seeding them, and
// finishes those not yet complete.
func (g *Gateway) rejoinHeld() {
	infos, err := g.node.Store.List()
	if err != nil {
		g.log.Warn("list held content", "err", err)
		return
	}
	sort.Slice(infos, func(i, j int) bool {
		a, _ := g.cat.get(infos[i].SwarmID)
		b, _ := g.cat.get(infos[j].SwarmID)
		return a.LastUsed.After(b.LastUsed)
	})
	for k, in := range infos {
		if k >= g.cfg.MaxSwarms/2 {
			break
		}
		if _, err := g.join(node.InfoLink(in)); err != nil {
			g.log.Warn("rejoin", "swarm", store.ShortID(in.SwarmID), "err", err)
		}
	}
}

// cached reports whether the content file is one the gateway made (and
// may delete), rather than one the operator seeds from elsewhere.
func (g *Gateway) cached(info store.Info) bool {
	dir := filepath.Join(g.node.Store.Dir(), sqlitestore.ContentDir) + string(filepath.Separator)
	return info.Path == "" || strings.HasPrefix(info.Path, dir)
}

// enforceQuota evicts least recently used content the gateway cached,
// never pinned content and never a watched swarm, until what it caches
// fits the quota. It returns the bytes cached afterwards.
func (g *Gateway) enforceQuota() int64 {
	infos, err := g.node.Store.List()
	if err != nil {
		g.log.Warn("quota: list", "err", err)
		return 0
	}
	type cand struct {
		info store.Info
		used time.Time
	}
	var used int64
	var cands []cand
	for _, in := range infos {
		if !g.cached(in) {
			continue
		}
		size := max(in.Length, 0)
		used += size
		m, _ := g.cat.get(in.SwarmID)
		if m.Pinned {
			continue
		}
		cands = append(cands, cand{in, m.LastUsed})
	}
	if used <= g.cfg.Quota {
		g.metrics.cachedBytes.Set(float64(used))
		return used
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].used.Before(cands[j].used) })
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range cands {
		if used <= g.cfg.Quota {
			break
		}
		if e := g.swarms[string(c.info.SwarmID)]; e != nil {
			if e.watchers.Load() > 0 {
				continue
			}
			g.leaveLocked(e)
		}
		if err := g.evict(c.info); err != nil {
			g.log.Warn("quota: evict", "swarm", store.ShortID(c.info.SwarmID), "err", err)
			continue
		}
		used -= max(c.info.Length, 0)
		g.metrics.evictions.Inc()
	}
	g.metrics.cachedBytes.Set(float64(used))
	return used
}

// evict removes a swarm's state and cached content file.
func (g *Gateway) evict(info store.Info) error {
	if err := g.node.Store.Remove(info.SwarmID); err != nil {
		return err
	}
	path := info.Path
	if path == "" {
		path = filepath.Join(g.node.Store.Dir(), sqlitestore.ContentDir, rootHex(info.SwarmID))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return g.cat.remove(info.SwarmID)
}

// quotaLoop enforces the quota periodically.
func (g *Gateway) quotaLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.enforceQuota()
		}
	}
}

// Seed imports a local file as pinned content (never evicted) and joins
// its swarm; it returns the content's link. mime may be empty.
func (g *Gateway) Seed(path, mime string) (link.Link, error) {
	sw, err := node.ImportFile(g.node.Store, path, defaultTreeOptions)
	if err != nil {
		return link.Link{}, err
	}
	info := sw.Info()
	sw.Close()
	l := node.InfoLink(info)
	l.MIME = mime
	if _, err := g.join(l); err != nil {
		return link.Link{}, err
	}
	if err := g.cat.pin(info.SwarmID, true); err != nil {
		return link.Link{}, fmt.Errorf("pin: %w", err)
	}
	return l, nil
}

func resolvePeers(peers []string) ([]net.Addr, error) {
	var out []net.Addr
	for _, p := range peers {
		a, err := net.ResolveUDPAddr("udp", p)
		if err != nil {
			return nil, fmt.Errorf("peer %q: %w", p, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// peerKind names a peer's transport for metrics.
func peerKind(a net.Addr) string {
	if _, ok := a.(*net.UDPAddr); ok {
		return "udp"
	}
	return "webrtc"
}
