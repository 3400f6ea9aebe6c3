package dhtnet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/dht/v2/types"
)

// Role is how a node takes part in a swarm's peer discovery (reverse peer
// discovery, thesis ch. 11 §IV-A).
type Role int

const (
	// RoleBooster (also a seeder): told of new content, it announces at
	// once, even before it holds a byte, and re-announces every
	// Config.AnnounceInterval while it seeds.
	RoleBooster Role = iota + 1
	// RoleSource looks up peers every Config.PollInterval and never
	// announces, until Done (it has uploaded a full copy).
	RoleSource
	// RoleLeecher does one lookup, again only on NeedPeers, never announces,
	// and must run on a read-only node (Config.ReadOnly, BEP 43).
	RoleLeecher
)

func (r Role) String() string {
	switch r {
	case RoleBooster:
		return "booster"
	case RoleSource:
		return "source"
	case RoleLeecher:
		return "leecher"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole parses "booster" (or "seeder"), "source" or "leecher".
func ParseRole(s string) (Role, error) {
	switch s {
	case "booster", "seeder":
		return RoleBooster, nil
	case "source":
		return RoleSource, nil
	case "leecher":
		return RoleLeecher, nil
	}
	return 0, fmt.Errorf("dhtnet: unknown role %q", s)
}

// ErrRole is returned by Join when the role does not fit the node.
var ErrRole = errors.New("dhtnet: role does not fit this node")

// SwarmID maps a PPSP swarm ID (the root hash) to the DHT infohash: the
// 20-byte SHA-1 root itself, or the first 20 bytes of a longer root.
func SwarmID(root []byte) ([20]byte, error) {
	var id [20]byte
	if len(root) < 20 {
		return id, fmt.Errorf("dhtnet: swarm ID of %d bytes, need at least 20", len(root))
	}
	copy(id[:], root)
	return id, nil
}

// Membership is a node's part in one swarm. Its peers arrive on Peers,
// each address once.
type Membership struct {
	n     *Node
	swarm [20]byte
	role  Role
	port  int

	peers  chan netip.AddrPort
	need   chan struct{}
	done   chan struct{}
	doneMu sync.Once
	cancel context.CancelFunc
	exited chan struct{}

	mu    sync.Mutex
	seen  map[netip.AddrPort]bool
	queue []netip.AddrPort
	wake  chan struct{}

	trace *lookupTrace // the timeline of every lookup (benchmark only; nil: none)

	lookups, announced, queries atomic.Int64
	last                        atomic.Pointer[LookupStats]
	nearest                     []types.AddrMaybeId // the last lookup's nearest responders (run's goroutine only)
}

// MembershipStats counts what a membership did.
type MembershipStats struct {
	Lookups   int64 // lookups run (a booster's announces included)
	Announced int64 // announce_peer queries accepted
	Queries   int64 // get_peers queries of the lookups that ended
	Last      LookupStats
}

// Join starts taking part in swarm with role; port is the PPSP port peers
// should connect to (announced by boosters only). The membership runs until
// ctx ends, Close, or — for a source or booster — Done.
func (n *Node) Join(ctx context.Context, swarm [20]byte, role Role, port int) (*Membership, error) {
	return n.join(ctx, swarm, role, port, nil)
}

// join is Join, recording the lookups' timeline in tr (nil: none).
func (n *Node) join(ctx context.Context, swarm [20]byte, role Role, port int, tr *lookupTrace) (*Membership, error) {
	switch role {
	case RoleBooster:
		if n.cfg.ReadOnly {
			return nil, fmt.Errorf("%w: a booster must answer queries (node is read-only)", ErrRole)
		}
		if port <= 0 || port > 65535 {
			return nil, fmt.Errorf("dhtnet: booster port %d out of range", port)
		}
	case RoleSource:
	case RoleLeecher:
		if !n.cfg.ReadOnly {
			return nil, fmt.Errorf("%w: a leecher runs on a read-only node (Config.ReadOnly)", ErrRole)
		}
	default:
		return nil, fmt.Errorf("%w: %v", ErrRole, role)
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &Membership{
		n: n, swarm: swarm, role: role, port: port,
		peers:  make(chan netip.AddrPort),
		need:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		cancel: cancel,
		exited: make(chan struct{}),
		seen:   make(map[netip.AddrPort]bool),
		wake:   make(chan struct{}, 1),
		trace:  tr,
	}
	go func() {
		select {
		case <-n.ctx.Done(): // the node closed
			cancel()
		case <-ctx.Done():
		}
	}()
	go m.pump(ctx)
	go func() {
		defer close(m.exited)
		m.run(ctx)
	}()
	return m, nil
}

// Peers delivers each peer found, once. It is closed when the membership
// ends.
func (m *Membership) Peers() <-chan netip.AddrPort { return m.peers }

// NeedPeers asks for another lookup now: a leecher that ran out of peers,
// a source early, a booster still missing chunks with no seeder connected
// (its next round announces again too).
func (m *Membership) NeedPeers() {
	select {
	case m.need <- struct{}{}:
	default:
	}
}

// Done tells a source it has uploaded a full copy (it stops polling) or a
// booster that it stopped seeding (it stops re-announcing). The membership
// then ends.
func (m *Membership) Done() {
	m.doneMu.Do(func() { close(m.done) })
}

// Close ends the membership and waits for it.
func (m *Membership) Close() {
	m.cancel()
	<-m.exited
}

// Stats returns the membership's counters.
func (m *Membership) Stats() MembershipStats {
	s := MembershipStats{Lookups: m.lookups.Load(), Announced: m.announced.Load(), Queries: m.queries.Load()}
	if l := m.last.Load(); l != nil {
		s.Last = *l
	}
	return s
}

func (m *Membership) run(ctx context.Context) {
	defer m.cancel()
	cfg := &m.n.cfg
	fails := 0
	// backoff returns the wait after a round that failed (no peer found, or
	// for a booster no node took the announce): RetryMin, doubling, up to
	// limit; ok resets it and returns the role's interval.
	backoff := func(ok bool, interval, limit time.Duration) time.Duration {
		if ok {
			fails = 0
			return interval
		}
		d := retryDelay(cfg.RetryMin, limit, fails)
		fails++
		return d
	}
	switch m.role {
	case RoleBooster:
		// Announce at once, holding nothing yet, then keep announcing.
		// NeedPeers (a booster still missing chunks with no seeder: the
		// source it waited for went to another booster) runs the next
		// round at once: a booster that announced first finds the ones
		// that announced after it (docs/decisions.md 59).
		for {
			st := m.once(ctx, m.port)
			d := backoff(st.Announced > 0, cfg.AnnounceInterval, cfg.AnnounceInterval)
			if !m.sleep(ctx, d, true) {
				return
			}
		}
	case RoleSource:
		for {
			st := m.once(ctx, 0)
			d := backoff(st.Peers > 0, cfg.PollInterval, cfg.PollInterval)
			if !m.sleep(ctx, d, true) {
				return
			}
		}
	case RoleLeecher:
		for {
			st := m.once(ctx, 0)
			if st.Peers == 0 {
				// Nothing yet (the booster may be announcing right now):
				// look again soon, then less and less often.
				if !m.sleep(ctx, backoff(false, 0, cfg.RetryMax), false) {
					return
				}
				continue
			}
			backoff(true, 0, 0)
			select {
			case <-ctx.Done():
				return
			case <-m.done:
				return
			case <-m.need:
			}
		}
	}
}

// retryDelay is the wait before retry i (0-based) of a lookup that found
// nothing: base doubled i times, at most limit (docs/decisions.md).
func retryDelay(base, limit time.Duration, i int) time.Duration {
	d := base
	for range min(i, 30) {
		if d >= limit {
			break
		}
		d *= 2
	}
	return min(d, limit)
}

// sleep waits d, returning false when the membership ends. NeedPeers cuts
// the wait short when early is set.
func (m *Membership) sleep(ctx context.Context, d time.Duration, early bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	need := m.need
	if !early {
		need = nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-m.done:
		return false
	case <-t.C:
		return true
	case <-need:
		return true
	}
}

// once runs one lookup (an announce for a booster), starting from the
// nearest responders of the previous one: once the announce we are waiting
// for is stored, they are the nodes that hold it.
func (m *Membership) once(ctx context.Context, announcePort int) LookupStats {
	select {
	case <-m.need: // this lookup answers any NeedPeers so far
	default:
	}
	m.lookups.Add(1)
	m.trace.add("lookup", netip.AddrPort{}, nil, fmt.Sprintf("%d, %d seeds", m.lookups.Load(), len(m.nearest)))
	st, nearest := m.n.lookup(ctx, m.swarm, lookupOpts{
		announcePort: announcePort, endAtStall: true, seeds: m.nearest,
		onPeers: m.found, lateValues: true, onAck: func() { m.announced.Add(1) }, trace: m.trace,
	})
	m.trace.add("ended", netip.AddrPort{}, nil, fmt.Sprintf("%d peers, %d queries", st.Peers, st.Queries))
	m.queries.Add(int64(st.Queries))
	if len(nearest) > 0 {
		m.nearest = nearest
	}
	m.last.Store(&st)
	m.n.log.Debug("dht lookup", "role", m.role, "swarm", fmt.Sprintf("%x", m.swarm[:]),
		"peers", st.Peers, "queries", st.Queries, "first_peer", st.FirstPeer, "announced", st.Announced,
		"announce_time", st.AnnounceTime)
	return st
}

// found queues new peers for Peers without blocking the lookup.
func (m *Membership) found(ps []netip.AddrPort) {
	m.mu.Lock()
	for _, p := range ps {
		if m.port > 0 && p == netip.AddrPortFrom(m.n.selfAddr.Addr(), uint16(m.port)) {
			continue // our own announcement
		}
		if !m.seen[p] {
			m.seen[p] = true
			m.queue = append(m.queue, p)
		}
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// pump hands queued peers to the Peers channel.
func (m *Membership) pump(ctx context.Context) {
	defer close(m.peers)
	for {
		m.mu.Lock()
		var p netip.AddrPort
		ok := len(m.queue) > 0
		if ok {
			p = m.queue[0]
			m.queue = m.queue[1:]
		}
		m.mu.Unlock()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-m.wake:
			}
			continue
		}
		select {
		case m.peers <- p:
		case <-ctx.Done():
			return
		}
	}
}
