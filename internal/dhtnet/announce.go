package dhtnet

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2/int160"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/dht/v2/types"
	"github.com/anacrolix/generics"
)

// responders is the set of nodes that answered a lookup's get_peers, on
// time or late, nearest to the target first. With an announce port set it
// is also the announce (BEP 5 announce_peer): a responder that enters the
// 2K nearest gets our announce_peer at once, without waiting for the walk
// to end or for slower members of the set (docs/decisions.md 25). Each
// announce_peer is sent once more after 1.5 times the RTT the responder's
// get_peers answer just took (clamped like the lookup's soft timeouts: a
// lost datagram costs half an RTT more, not the hard QueryTimeout), and
// after a further soft timeout (twice that RTT) the member counts as
// settled: the announce does not wait for it any longer, though a late
// acceptance still counts.
type responders struct {
	n      *Node
	target [20]byte
	k      int
	span   int    // the nearest responders the announce goes to and its quorum counts among: 2K (K without an announce)
	port   int    // 0: no announce
	onAck  func() // called for each acceptance (may be nil)
	start  time.Time
	tr     *lookupTrace
	qlevel int // trace: the most of the 2K nearest known that took it so far

	mu      sync.Mutex
	set     []*responder // nearest first; only the first k matter
	closed  bool
	acked   int
	sent    int
	firstOK time.Duration
	changed chan struct{}
	moved   chan struct{}               // closed (and replaced) when the K nearest change
	known   map[netip.AddrPort][20]byte // every node of the walk with a known ID
	suspect map[netip.AddrPort]bool     // nodes that have not answered in time (nor since)
}

type responder struct {
	id       [20]byte
	ap       netip.AddrPort
	tok      string
	rtt      time.Duration
	sent     bool // announce_peer sent
	settled  bool // accepted, refused, or past its soft timeouts
	accepted bool
}

func newResponders(n *Node, target [20]byte, port int, onAck func()) *responders {
	span := n.cfg.K
	if port > 0 {
		span = 2 * n.cfg.K
	}
	return &responders{n: n, target: target, k: n.cfg.K, span: span, port: port, onAck: onAck, start: time.Now(), changed: make(chan struct{}, 1), moved: make(chan struct{}), known: make(map[netip.AddrPort][20]byte), suspect: make(map[netip.AddrPort]bool)}
}

// offer records that id at ap answered get_peers after rtt with token tok.
func (r *responders) offer(id [20]byte, ap netip.AddrPort, tok string, rtt time.Duration) {
	if tok == "" || id == r.n.self {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for _, o := range r.set {
		if o.ap == ap {
			return
		}
	}
	r.known[ap] = id
	delete(r.suspect, ap) // it answered: one of the nearest live nodes again (decisions 52)
	i, _ := slices.BinarySearchFunc(r.set, id, func(o *responder, id [20]byte) int { return cmpDistance(r.target, o.id, id) })
	r.set = slices.Insert(r.set, i, &responder{id: id, ap: ap, tok: tok, rtt: rtt})
	if r.port <= 0 {
		select {
		case r.changed <- struct{}{}:
		default:
		}
	}
	if i < r.span {
		r.tr.add("near", ap, &id, fmt.Sprintf("rank %d of %d", i, len(r.set)))
		if r.port > 0 {
			r.sendLocked(r.set[i])
		}
	}
	if i < r.k {
		if len(r.set) >= r.k {
			close(r.moved)
			r.moved = make(chan struct{})
		}
	}
}

// candidate records a node the walk heard of.
func (r *responders) candidate(ap netip.AddrPort, id [20]byte) {
	r.mu.Lock()
	if !r.closed {
		r.known[ap] = id
	}
	r.mu.Unlock()
}

// silent records that ap has not answered in time: the quorum leaves it
// out of the nearest set until it answers.
func (r *responders) silent(ap netip.AddrPort) {
	r.mu.Lock()
	r.suspect[ap] = true
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// quorum reports whether K/2 of the 2K nearest nodes the walk knows of,
// leaving out those that have not answered in time (1.5 RTT or 300 ms for
// an announce, the soft timeout otherwise) unless they answered since,
// have accepted our announce_peer (without an announce port: K/2 of the K
// nearest have answered). The nearest live nodes took the announce (or
// told us what they hold), and the walk need not wait for slow or dead
// members of the set, nor for its own end. Counting among the 2K nearest
// rather than the K nearest lets a fast node stand in for a slow nearer
// one: two RTTs (get_peers for the token, then announce_peer) to the 4th
// fastest of the 8 nearest nodes take 794 ms at p99 of Mainline RTTs, to
// the 4th fastest of the 16 nearest 352 ms (docs/decisions.md 25).
func (r *responders) quorum() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	acc := make(map[netip.AddrPort]bool, len(r.set))
	for _, e := range r.set {
		if e.accepted || r.port <= 0 {
			acc[e.ap] = true
		}
	}
	if 2*len(acc) < r.k && r.tr == nil {
		return false
	}
	type kn struct {
		ap netip.AddrPort
		id [20]byte
	}
	m := max(r.span, 2*r.k) // 2K for the trace
	near := make([]kn, 0, m+1)
	for ap, id := range r.known {
		if r.suspect[ap] && !acc[ap] {
			continue
		}
		i, _ := slices.BinarySearchFunc(near, id, func(o kn, id [20]byte) int { return cmpDistance(r.target, o.id, id) })
		if i >= m {
			continue
		}
		near = slices.Insert(near, i, kn{ap, id})
		if len(near) > m {
			near = near[:m]
		}
	}
	ok, ok2 := 0, 0 // within span, within 2K (trace)
	for i, e := range near {
		if acc[e.ap] {
			ok2++
			if i < r.span {
				ok++
			}
		}
	}
	for ; r.tr != nil && r.qlevel < ok2; r.qlevel++ {
		r.tr.add(fmt.Sprintf("q%d", r.qlevel+1), netip.AddrPort{}, nil, "of the 2K nearest known")
	}
	return 2*ok >= r.k
}

// movedCh returns a channel closed when the K nearest responders change.
func (r *responders) movedCh() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.moved
}

// beyond reports whether a node with id (nil: unknown) is farther from the
// target than each of K responders: its answer could hardly change the
// nearest set, so its query need not hold a slot or the walk's end.
func (r *responders) beyond(id *[20]byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.set) < r.k {
		return false
	}
	return id == nil || cmpDistance(r.target, *id, r.set[r.k-1].id) > 0
}

// sendLocked starts the announce_peer to e.
func (r *responders) sendLocked(e *responder) {
	e.sent = true
	r.sent++
	// The get_peers answer just measured this path's RTT: retransmit once
	// 1.5 RTT have passed without an answer (a lost datagram then costs
	// half an RTT more than the answer would have taken, not a whole soft
	// timeout), and settle 2 RTT after the retransmission.
	soft, retx := r.n.cfg.UnknownQueryTimeout, r.n.cfg.UnknownQueryTimeout
	if e.rtt > 0 {
		soft = min(max(2*e.rtt, r.n.cfg.MinQueryTimeout), r.n.cfg.MaxQueryTimeout)
		retx = min(max(e.rtt*3/2, e.rtt+30*time.Millisecond, r.n.cfg.MinQueryTimeout), r.n.cfg.MaxQueryTimeout)
	}
	args := krpc.MsgArgs{InfoHash: r.target, Port: &r.port, Token: e.tok}
	res := make(chan bool, 2)
	try := func() {
		ctx, cancel := context.WithTimeout(r.n.ctx, r.n.cfg.QueryTimeout)
		defer cancel()
		_, rtt, err := r.n.query(ctx, e.ap, "announce_peer", args, false)
		if err == nil {
			r.tr.add("ap<", e.ap, &e.id, rtt.Round(time.Millisecond).String())
		} else {
			r.tr.add("ap!", e.ap, &e.id, err.Error())
		}
		res <- err == nil
	}
	r.tr.add("ap>", e.ap, &e.id, "retransmit after "+retx.String())
	go func() {
		go try()
		t := time.NewTimer(retx)
		defer t.Stop()
		tries, finished, settled := 1, 0, false
		settle := func(ok bool) {
			if !settled {
				settled = true
				r.settle(e, ok)
			} else if ok {
				r.ack(e) // a late acceptance still counts
			}
		}
		for {
			select {
			case ok := <-res:
				finished++
				if ok {
					settle(true)
					return
				}
				if finished == tries {
					settle(false) // refused, or every try timed out hard
					return
				}
			case <-t.C:
				if tries == 1 {
					r.tr.add("ap>>", e.ap, &e.id, "retransmission")
					tries++
					r.mu.Lock()
					r.sent++
					r.mu.Unlock()
					go try()
					t.Reset(soft)
					continue
				}
				settle(false) // past both soft timeouts
			}
		}
	}()
}

func (r *responders) settle(e *responder, ok bool) {
	if ok {
		r.ack(e)
	}
	r.mu.Lock()
	e.settled = true
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *responders) ack(e *responder) {
	r.mu.Lock()
	e.accepted = true
	r.acked++
	if r.firstOK == 0 {
		r.firstOK = max(time.Since(r.start), time.Nanosecond)
	}
	r.mu.Unlock()
	select { // a late acceptance may complete the quorum
	case r.changed <- struct{}{}:
	default:
	}
	if r.onAck != nil {
		r.onAck()
	}
}

// settled reports whether the announce to the 2K nearest responders is
// done: each got its announce_peer and K/2 of them accepted it, or all of
// them settled (accepted, refused, or let their soft timeouts pass). The slowest members of the set do not hold it up: their
// announce_peer (and its retransmission) go on, and a later acceptance
// still counts. Always true without an announce port.
func (r *responders) settled() bool {
	if r.port <= 0 {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	near := r.set[:min(len(r.set), r.span)]
	ok, all := 0, true
	for _, e := range near {
		if e.accepted {
			ok++
		}
		all = all && e.settled
	}
	return all || 2*ok >= min(len(near), r.k)
}

// counts returns the acceptances so far, the announce_peer queries sent
// and the time to the first acceptance.
func (r *responders) counts() (acked, sent int, first time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acked, r.sent, r.firstOK
}

// close stops taking responders.
func (r *responders) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

// nearest returns the K nearest responders so far: the next lookup of the
// same target starts from them.
func (r *responders) nearest() (out []types.AddrMaybeId) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.set[:min(len(r.set), r.k)] {
		out = append(out, types.AddrMaybeId{Addr: krpc.NodeAddrPort{AddrPort: e.ap}, Id: generics.Some(int160.FromByteArray(e.id))})
	}
	return out
}
