package dhtnet

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/dht/v2/int160"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/dht/v2/traversal"
	"github.com/anacrolix/dht/v2/types"
	"github.com/anacrolix/generics"
)

// LookupStats describe one lookup (thesis ch. 8 §III-B definitions).
type LookupStats struct {
	// Queries is the number of get_peers queries started.
	Queries int
	// Responses is the number of answers received in time to be used.
	Responses int
	// FirstPeer is the time from the first query to the first answer with
	// values (0 if none came).
	FirstPeer time.Duration
	// QueriesToFirst is the lookup cost: queries started, answered or not,
	// when the first value arrived.
	QueriesToFirst int
	// Peers is the number of distinct peers found.
	Peers int
	// Announced is the number of nodes that accepted our announce_peer by
	// the time the announce was done.
	Announced int
	// AnnounceSent is the number of announce_peer queries sent,
	// retransmissions included.
	AnnounceSent int
	// AnnounceTime is the time from the first query until the announce was
	// done: K/2 of the 2K nearest live nodes the walk knew of had accepted
	// it, or the walk had converged and each of the 2K nearest responders
	// had accepted or let its soft timeouts pass (0 without an announce).
	AnnounceTime time.Duration
	// Converged is the time from the first query until the walk first
	// stalled: every candidate nearer than the K nearest responders had
	// answered or let its soft timeout pass.
	Converged time.Duration
	// FirstStored is the time from the first query to the first node
	// accepting our announce_peer (0 if none did in time).
	FirstStored time.Duration
}

type lookupOpts struct {
	announcePort int  // > 0: announce_peer to the closest nodes as they answer
	stopAtFirst  bool // stop at the first answer with values
	maint        bool // count queries as maintenance (bootstrap walks)
	// endAtStall ends the walk once it has converged, without waiting for
	// queries past their soft timeout (a caller that retries soon, seeded
	// with the nearest responders, loses nothing by it). An announce always
	// ends at the stall.
	endAtStall bool
	seeds      []types.AddrMaybeId // extra starting nodes: a previous walk's nearest responders
	onPeers    func([]netip.AddrPort)
	onAck      func() // an announce_peer was accepted (also after the lookup returned)
	// lateValues passes values to onPeers from answers that come after
	// the lookup returned, until their queries' hard timeout: a walk that
	// ends once half of the K nearest answered must not drop the values of
	// a holder that answers a moment later (docs/decisions.md 53).
	lateValues bool
	trace      *lookupTrace // records the timeline (nil: none)
}

// Lookup runs one tuned get_peers lookup for swarm, calling onPeers with each
// batch of new peers, and stops at the first peers if stopAtFirst. It
// returns when the lookup is done or ctx ends.
func (n *Node) Lookup(ctx context.Context, swarm [20]byte, stopAtFirst bool, onPeers func([]netip.AddrPort)) LookupStats {
	st, _ := n.lookup(ctx, swarm, lookupOpts{stopAtFirst: stopAtFirst, onPeers: onPeers})
	return st
}

// Announce runs a lookup for swarm and announces port (BEP 5
// announce_peer) to the 2K nearest nodes that answered with a token, each
// as soon as it answers. It returns once K/2 of the 2K nearest live nodes
// the walk knows of accepted (docs/decisions.md 25), or the walk has
// converged and each of those nodes has accepted or let its soft timeouts
// pass: a node that does not answer never holds it up beyond a soft
// timeout. The walk and the announce go on in the background until the
// walk converges.
func (n *Node) Announce(ctx context.Context, swarm [20]byte, port int, onPeers func([]netip.AddrPort)) LookupStats {
	st, _ := n.lookup(ctx, swarm, lookupOpts{announcePort: port, onPeers: onPeers})
	return st
}

// Bootstrap fills the routing table with walks towards our own ID and into
// each enlarged bucket, starting from the table or Config.Bootstrap.
func (n *Node) Bootstrap(ctx context.Context) {
	targets := [][20]byte{n.self}
	for b := range len(n.cfg.BucketSizes) {
		targets = append(targets, randomInBucket(n.self, b))
	}
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() { n.lookup(ctx, t, lookupOpts{maint: true}) })
	}
	wg.Wait()
	// Fill the enlarged buckets at once: check the nodes the walks heard of
	// whose bucket has room (the steady maintenance would take minutes).
	var budget atomic.Int32
	budget.Store(int32(n.cfg.BootstrapFill))
	for range 16 {
		wg.Go(func() {
			for ctx.Err() == nil && budget.Add(-1) >= 0 {
				ap, ok := n.popCandidate(true)
				if !ok {
					return
				}
				n.ping(ctx, ap, true)
			}
		})
	}
	wg.Wait()
}

// randomInBucket returns a random ID sharing exactly b leading bits with self.
func randomInBucket(self [20]byte, b int) [20]byte {
	var id [20]byte
	rand.Read(id[:])
	for i := range b {
		mask := byte(0x80) >> (i % 8)
		id[i/8] = id[i/8]&^mask | self[i/8]&mask
	}
	mask := byte(0x80) >> (b % 8)
	id[b/8] = id[b/8]&^mask | (^self[b/8])&mask
	return id
}

// softTimeout is the RTT-adaptive time after which a lookup stops waiting
// for a node and gives its slot to the next candidate.
func (n *Node) softTimeout(ap netip.AddrPort) time.Duration {
	if rtt, ok := n.table.RTT(ap); ok {
		return min(max(2*rtt, n.cfg.MinQueryTimeout), n.cfg.MaxQueryTimeout)
	}
	return n.cfg.UnknownQueryTimeout
}

// seeds returns the starting set of a lookup: the closest contacts, or the
// bootstrap nodes when the table is empty.
func (n *Node) seeds(ctx context.Context, target [20]byte) []types.AddrMaybeId {
	var out []types.AddrMaybeId
	for _, c := range n.table.Closest(target, 2*n.cfg.K) {
		out = append(out, types.AddrMaybeId{Addr: krpc.NodeAddrPort{AddrPort: c.Addr}, Id: generics.Some(int160.FromByteArray(c.ID))})
	}
	if len(out) > 0 {
		return out
	}
	for _, ap := range n.bootstrapAddrs(ctx) {
		out = append(out, types.AddrMaybeId{Addr: krpc.NodeAddrPort{AddrPort: ap}})
	}
	return out
}

func (n *Node) bootstrapAddrs(ctx context.Context) []netip.AddrPort {
	n.bootMu.Lock()
	defer n.bootMu.Unlock()
	if len(n.bootAddrs) > 0 {
		return n.bootAddrs
	}
	for _, hp := range n.cfg.Bootstrap {
		if ap, err := netip.ParseAddrPort(hp); err == nil {
			n.bootAddrs = append(n.bootAddrs, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
			continue
		}
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			continue
		}
		p, err := net.LookupPort("udp", port)
		if err != nil {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip4", host)
		cancel()
		if err != nil {
			n.log.Debug("resolving bootstrap node", "addr", hp, "err", err)
			continue
		}
		for _, ip := range ips {
			n.bootAddrs = append(n.bootAddrs, netip.AddrPortFrom(ip.Unmap(), uint16(p)))
		}
	}
	return n.bootAddrs
}

// announceAlpha multiplies Config.Alpha for an announce: the traversal
// asks only nodes nearer than the K nearest responders once K answered, so
// the bound is rarely reached (get_peers per announce stayed at 25-26 in
// the 1,000-node benchmark).
const announceAlpha = 4

// Query states for the soft-timeout hand-off between DoQuery and the
// goroutine running the query.
const (
	qPending int32 = iota
	qOnTime
	qLate
)

// lookup drives anacrolix's traversal with our own query function: Alpha
// queries in flight, seeded from the NR128 table, each given an RTT-adaptive
// soft timeout; a reply arriving after it still feeds the walk. It returns
// the stats and the K nearest nodes that answered.
func (n *Node) lookup(ctx context.Context, target [20]byte, o lookupOpts) (LookupStats, []types.AddrMaybeId) {
	start := time.Now()
	var (
		mu       sync.Mutex
		st       LookupStats
		seen     = make(map[netip.AddrPort]bool)
		finished bool
		first    = make(chan struct{})
		late     = make(chan struct{}, 1)
		inflight atomic.Int32
		op       *traversal.Operation
		resp     = newResponders(n, target, o.announcePort, o.onAck)
		tr       = o.trace
		// early: queries to nodes farther than the K nearest responders
		// give up their slot as soon as those have answered.
		early    = o.endAtStall || o.announcePort > 0
		announce = o.announcePort > 0
		idsMu    sync.Mutex
		ids      = make(map[netip.AddrPort][20]byte)
	)
	resp.tr = tr
	deliver := func(vals []krpc.NodeAddr, from netip.AddrPort) {
		ps := sanitizePeers(vals)
		if len(ps) == 0 {
			return
		}
		mu.Lock()
		if finished && !o.lateValues {
			mu.Unlock()
			return
		}
		var fresh []netip.AddrPort
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				fresh = append(fresh, p)
			}
		}
		if len(fresh) > 0 {
			tr.add("values", from, nil, fmt.Sprint(len(fresh)))
		}
		if len(fresh) > 0 && st.FirstPeer == 0 && !finished {
			st.FirstPeer = max(time.Since(start), time.Nanosecond)
			st.QueriesToFirst = int(atomic.LoadUint32(&op.Stats().NumAddrsTried))
			close(first)
		}
		mu.Unlock()
		if len(fresh) > 0 && o.onPeers != nil {
			o.onPeers(fresh)
		}
	}
	args := krpc.MsgArgs{InfoHash: target, Want: []krpc.Want{krpc.WantNodes}}
	// learn records named nodes the walk may query (the NodeFilter rules)
	// as known to the nearest set.
	learn := func(ns []krpc.NodeInfo) {
		for _, ni := range ns {
			ap := ni.Addr.ToNodeAddrPort().AddrPort
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			if ap == n.selfAddr || !usableAddr(ap) || n.dead.is(ap) {
				continue
			}
			idsMu.Lock()
			ids[ap] = ni.ID
			idsMu.Unlock()
			resp.candidate(ap, ni.ID)
		}
	}
	// answered handles a reply, on time or late: its values, and the
	// responder for the nearest set (and the announce).
	answered := func(from krpc.NodeAddr, ap netip.AddrPort, a queryAnswer) traversal.QueryResult {
		r := a.m.R
		deliver(r.Values, ap)
		res := traversal.QueryResult{ResponseFrom: &krpc.NodeInfo{ID: r.ID, Addr: from}}
		res.Nodes = n.sanitizeNodes(r.Nodes, r.ID)
		res.Nodes6 = n.sanitizeNodes(r.Nodes6, r.ID)
		if early {
			// The nodes this answer names join the known set before the
			// answer counts towards the quorum: a quorum of the K nearest
			// known must not be met by a stale view that leaves out the
			// nearer nodes just named.
			learn(res.Nodes)
			learn(res.Nodes6)
		}
		if r.Token != nil && *r.Token != "" {
			res.ClosestData = *r.Token
			resp.offer(r.ID, ap, *r.Token, a.rtt)
		}
		return res
	}
	alpha := n.cfg.Alpha
	if announce {
		// Each node named nearer than the K nearest responders is asked
		// at once: with Alpha in flight, the seeds that wait out a soft
		// timeout of up to 800 ms held the slots while nearer nodes
		// waited (docs/decisions.md 52).
		alpha = announceAlpha * alpha
	}
	op = traversal.Start(traversal.OperationInput{
		Target: target,
		Alpha:  alpha,
		K:      n.cfg.K,
		DoQuery: func(qctx context.Context, addr krpc.NodeAddr) traversal.QueryResult {
			ap := addr.ToNodeAddrPort().AddrPort
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			var state atomic.Int32
			ch := make(chan queryAnswer, 1)
			inflight.Add(1)
			go func() {
				defer inflight.Add(-1)
				hctx, cancel := context.WithTimeout(n.ctx, n.cfg.QueryTimeout)
				m, rtt, err := n.query(hctx, ap, "get_peers", args, o.maint)
				cancel()
				if err != nil || m.R == nil {
					tr.add("gp!", ap, nil, fmt.Sprint(err))
					close(ch)
					return
				}
				if state.CompareAndSwap(qPending, qOnTime) {
					ch <- queryAnswer{m, rtt}
					return
				}
				tr.add("gp<late", ap, (*[20]byte)(&m.R.ID), rtt.Round(time.Millisecond).String())
				// Late: the slot was given away, but the answer still counts.
				res := answered(addr, ap, queryAnswer{m, rtt})
				op.AddNodes(types.AddrMaybeIdSliceFromNodeInfoSlice(res.Nodes))
				op.AddNodes(types.AddrMaybeIdSliceFromNodeInfoSlice(res.Nodes6))
				select {
				case late <- struct{}{}:
				default:
				}
			}()
			soft := n.softTimeout(ap)
			t := time.NewTimer(soft)
			defer t.Stop()
			// An announce leaves a node out of the nearest set its quorum
			// counts in once it has not answered within 1.5 RTT, or 300 ms
			// (3/4 of the soft timeouts, the second for a node of unknown
			// RTT), whichever is less, until it answers; the slot still
			// waits for the full soft timeout (docs/decisions.md 52).
			var overdue <-chan time.Time
			if announce {
				ot := time.NewTimer(min(soft, n.cfg.UnknownQueryTimeout) * 3 / 4)
				defer ot.Stop()
				overdue = ot.C
			}
			var id *[20]byte
			if early {
				idsMu.Lock()
				if v, ok := ids[ap]; ok {
					id = &v
				}
				idsMu.Unlock()
			}
			tr.add("gp>", ap, id, "soft "+soft.String())
		waitAnswer:
			for {
				var moved <-chan struct{}
				if early {
					moved = resp.movedCh()
				}
				select {
				case a, ok := <-ch:
					if !ok {
						return traversal.QueryResult{}
					}
					tr.add("gp<", ap, (*[20]byte)(&a.m.R.ID), a.rtt.Round(time.Millisecond).String())
					return answered(addr, ap, a)
				case <-overdue:
					overdue = nil
					tr.add("gp?", ap, id, "overdue: out of the quorum's nearest set")
					resp.silent(ap)
				case <-t.C:
					tr.add("gp~", ap, id, "soft timeout")
					if early {
						resp.silent(ap)
					}
					break waitAnswer
				case <-qctx.Done():
					break waitAnswer
				case <-moved:
					// Nearer nodes answered: a node farther than all
					// K of them gives up its slot now (a late answer
					// still counts).
					if resp.beyond(id) {
						tr.add("gp-", ap, id, "beyond the K nearest")
						break waitAnswer
					}
				}
			}
			if state.CompareAndSwap(qPending, qLate) {
				return traversal.QueryResult{}
			}
			a, ok := <-ch
			if !ok {
				return traversal.QueryResult{}
			}
			return answered(addr, ap, a)
		},
		NodeFilter: func(a types.AddrMaybeId) bool {
			ap := a.Addr.AddrPort
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			if ap == n.selfAddr || !usableAddr(ap) || n.dead.is(ap) {
				return false
			}
			if a.Id.Ok {
				id := a.Id.Value.AsByteArray()
				if id == n.self {
					return false
				}
				if early {
					idsMu.Lock()
					ids[ap] = id
					idsMu.Unlock()
				}
				if early {
					resp.candidate(ap, id)
				}
			}
			return true
		},
		DataFilter: func(data any) bool {
			s, ok := data.(string)
			return ok && s != ""
		},
	})
	op.AddNodes(o.seeds)
	op.AddNodes(n.seeds(ctx, target))
	endAtStall := o.endAtStall || announce
	// An announce is done once K/2 of the 2K nearest live nodes took it
	// (or the walk converged and every announce_peer settled); its walk
	// then goes on in the background until it converges, bounded by the
	// soft timeouts, and a node that joins the 2K nearest meanwhile still
	// gets our announce_peer.
	wctx, wcancel := ctx, context.CancelFunc(func() {})
	done := make(chan struct{})
	var doneOnce sync.Once
	markDone := func() {
		doneOnce.Do(func() {
			mu.Lock()
			st.AnnounceTime = max(time.Since(start), time.Nanosecond)
			st.Announced, st.AnnounceSent, st.FirstStored = resp.counts()
			tr.add("done", netip.AddrPort{}, nil, fmt.Sprintf("accepted %d sent %d", st.Announced, st.AnnounceSent))
			mu.Unlock()
			close(done)
		})
	}
	if announce {
		wctx, wcancel = context.WithTimeout(n.ctx, 2*n.cfg.QueryTimeout)
		go func() {
			select {
			case <-ctx.Done(): // the caller gave up before the announce was done
				wcancel()
			case <-done:
			}
		}()
	}
	walk := func() {
		fellBack := false
	wait:
		for {
			select {
			case <-op.Stalled():
				mu.Lock()
				if st.Converged == 0 {
					st.Converged = max(time.Since(start), time.Nanosecond)
					tr.add("stall", netip.AddrPort{}, nil, "")
				}
				mu.Unlock()
				// Nobody answered (a warm start after a long absence, or a
				// table of departed nodes): fall back on the bootstrap nodes
				// once, without waiting for the silent ones' hard timeouts.
				if !fellBack && atomic.LoadUint32(&op.Stats().NumResponses) == 0 && (endAtStall || inflight.Load() == 0) {
					fellBack = true
					var boot []types.AddrMaybeId
					for _, ap := range n.bootstrapAddrs(wctx) {
						boot = append(boot, types.AddrMaybeId{Addr: krpc.NodeAddrPort{AddrPort: ap}})
					}
					if op.AddNodes(boot) > 0 {
						continue
					}
				}
				if announce {
					// The walk has converged: it ends once every
					// announce_peer to the nearest responders has settled.
					// A late answer may still move the walk meanwhile.
					if resp.settled() {
						break wait
					}
					if resp.quorum() {
						markDone()
					}
					select {
					case <-resp.changed:
					case <-late:
					case <-wctx.Done():
						break wait
					}
					continue
				}
				if inflight.Load() == 0 || endAtStall {
					break wait
				}
				select {
				case <-late:
				case <-first:
					if o.stopAtFirst {
						break wait
					}
					first = nil
				case <-wctx.Done():
					break wait
				case <-time.After(n.cfg.QueryTimeout):
					// Every late query has ended by now: look again.
				}
			case <-resp.changed:
				if early && resp.quorum() {
					if !announce {
						break wait
					}
					markDone()
				}
			case <-first:
				if o.stopAtFirst {
					break wait
				}
				first = nil
			case <-wctx.Done():
				break wait
			}
		}
		op.Stop()
		<-op.Stopped()
		mu.Lock()
		finished = true
		mu.Unlock()
		markDone()
		resp.close()
		wcancel()
	}
	if announce {
		go walk()
		select {
		case <-done:
		case <-ctx.Done():
		}
	} else {
		walk()
	}
	mu.Lock()
	st.Queries = int(atomic.LoadUint32(&op.Stats().NumAddrsTried))
	st.Responses = int(atomic.LoadUint32(&op.Stats().NumResponses))
	st.Peers = len(seen)
	if !announce {
		st.AnnounceTime = 0
	}
	out := st
	mu.Unlock()
	return out, resp.nearest()
}

// queryAnswer is a reply and its round-trip time.
type queryAnswer struct {
	m   krpc.Msg
	rtt time.Duration
}

// maxNodesPerReply bounds the nodes taken from one answer.
const maxNodesPerReply = 16

// sanitizeNodes drops node entries that cannot be right (ourselves, the
// responder naming itself, unusable addresses) and bounds their number.
// Valid newcomers become maintenance candidates.
func (n *Node) sanitizeNodes(ns []krpc.NodeInfo, from krpc.ID) []krpc.NodeInfo {
	var out []krpc.NodeInfo
	seen := make(map[netip.AddrPort]bool, len(ns))
	for _, ni := range ns {
		if len(out) >= maxNodesPerReply {
			break
		}
		ip, ok := netip.AddrFromSlice(ni.Addr.IP)
		if !ok || ni.Addr.Port <= 0 || ni.Addr.Port > 65535 {
			continue
		}
		ap := netip.AddrPortFrom(ip.Unmap(), uint16(ni.Addr.Port))
		if ni.ID == n.self || ni.ID == from || ap == n.selfAddr || !usableAddr(ap) || seen[ap] {
			continue
		}
		seen[ap] = true
		out = append(out, ni)
		n.addCandidate(ni.ID, ap)
	}
	return out
}

// sanitizePeers turns get_peers values into usable, distinct addresses,
// at most maxValues of them. They are hints only: nothing is trusted until
// the Merkle tree verifies what the peer sends.
func sanitizePeers(vals []krpc.NodeAddr) []netip.AddrPort {
	var out []netip.AddrPort
	for _, v := range vals {
		if len(out) >= maxValues {
			break
		}
		ip, ok := netip.AddrFromSlice(v.IP)
		if !ok || v.Port <= 0 || v.Port > 65535 {
			continue
		}
		ap := netip.AddrPortFrom(ip.Unmap(), uint16(v.Port))
		if usableAddr(ap) {
			out = append(out, ap)
		}
	}
	return out
}
