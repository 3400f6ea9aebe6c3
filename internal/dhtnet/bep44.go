package dhtnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2/bep44"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent/bencode"

	"github.com/swarmgate/swarmgate/internal/feed"
)

// BEP 44 mutable items: the get and put queries, answered by our own
// store, and the walk that finds the nodes closest to an item's target.
// This is how a follower finds a feed's head with no server
// (docs/feed.md); feed.Directory is the interface the feed package sees.

const (
	maxItems     = 10000            // items a node stores for others
	itemTTL      = 2 * time.Hour    // BEP 44: items expire unless re-put
	itemAlpha    = 8                // queries in flight during a walk
	itemK        = 8                // nodes an item is put to
	itemMaxQuery = 64               // queries per walk
	itemTimeout  = 2 * time.Second  // per query
	itemWalkTime = 20 * time.Second // per walk
)

// itemStore keeps the mutable items others put to us, bounded and expiring.
type itemStore struct {
	mu sync.Mutex
	m  map[[20]byte]storedItem
}

type storedItem struct {
	it feed.MutableItem
	at time.Time
}

func (s *itemStore) get(t [20]byte, now time.Time) (feed.MutableItem, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	si, ok := s.m[t]
	if !ok || now.Sub(si.at) > itemTTL {
		return feed.MutableItem{}, false
	}
	return si.it, true
}

// put stores it unless a newer one is held (BEP 44 error 302).
func (s *itemStore) put(it feed.MutableItem, cas *int64, now time.Time) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[[20]byte]storedItem)
	}
	t := it.Target()
	if old, ok := s.m[t]; ok && now.Sub(old.at) <= itemTTL {
		if cas != nil && *cas != old.it.Seq {
			return 301, "CAS mismatch"
		}
		if old.it.Seq > it.Seq || (old.it.Seq == it.Seq && !bytes.Equal(old.it.V, it.V)) {
			return 302, "sequence number less than current"
		}
	}
	if _, ok := s.m[t]; !ok && len(s.m) >= maxItems {
		for k, v := range s.m { // drop expired items, else refuse
			if now.Sub(v.at) > itemTTL {
				delete(s.m, k)
			}
		}
		if len(s.m) >= maxItems {
			return 202, "item store full"
		}
	}
	s.m[t] = storedItem{it: it, at: now}
	return 0, ""
}

// onItemQuery answers BEP 44 get and put.
func (n *Node) onItemQuery(m *krpc.Msg, source net.Addr, src netip.AddrPort) {
	a := m.A
	switch m.Q {
	case "get":
		var r krpc.Return
		n.setNodes(&r, a.Target, a.Want, src)
		tok := n.tok.make(src)
		r.Token = &tok
		if it, ok := n.items.get(a.Target, n.cfg.Now()); ok && (a.Seq == nil || it.Seq > *a.Seq) {
			seq := it.Seq
			r.V, r.K, r.Sig, r.Seq = bencode.Bytes(it.V), it.K, it.Sig, &seq
		}
		n.reply(source, m.T, r)
	case "put":
		if !n.tok.valid(a.Token, src) {
			n.replyError(source, m.T, krpc.ErrorCodeProtocolError, "bad token")
			return
		}
		if a.K == ([32]byte{}) || a.Seq == nil {
			n.replyError(source, m.T, 203, "only mutable items are stored here")
			return
		}
		v, err := bencode.Marshal(a.V)
		if err != nil || len(v) == 0 {
			n.replyError(source, m.T, krpc.ErrorCodeProtocolError, "bad v")
			return
		}
		it := feed.MutableItem{K: a.K, Salt: a.Salt, Seq: *a.Seq, V: v, Sig: a.Sig}
		if err := it.Verify(); err != nil {
			code := 206 // invalid signature
			if len(v) > feed.MaxItemValue {
				code = 205
			} else if len(a.Salt) > 64 {
				code = 207
			}
			n.replyError(source, m.T, code, err.Error())
			return
		}
		var cas *int64
		if a.Cas != 0 {
			cas = &a.Cas
		}
		if code, msg := n.items.put(it, cas, n.cfg.Now()); code != 0 {
			n.replyError(source, m.T, code, msg)
			return
		}
		n.reply(source, m.T, krpc.Return{})
	}
}

// walked is one node answered during an item walk.
type walked struct {
	addr  netip.AddrPort
	id    [20]byte
	token string
}

// itemWalk queries "get" towards target, nearest first, and returns the
// closest nodes that answered (with their tokens) and the newest valid
// item of k and salt seen.
func (n *Node) itemWalk(ctx context.Context, k [32]byte, salt []byte) ([]walked, *feed.MutableItem) {
	target := feed.ItemTarget(k, salt)
	ctx, cancel := context.WithTimeout(ctx, itemWalkTime)
	defer cancel()
	type cand struct {
		addr netip.AddrPort
		id   [20]byte
	}
	var (
		mu       sync.Mutex
		cands    []cand
		seen     = map[netip.AddrPort]bool{}
		tries    = map[netip.AddrPort]int{}
		answered []walked
		best     *feed.MutableItem
	)
	dist := func(id [20]byte) []byte {
		d := make([]byte, 20)
		for i := range d {
			d[i] = id[i] ^ target[i]
		}
		return d
	}
	addCand := func(ap netip.AddrPort, id [20]byte) {
		if seen[ap] || ap == n.selfAddr || !usableAddr(ap) {
			return
		}
		seen[ap] = true
		cands = append(cands, cand{ap, id})
	}
	for _, s := range n.seeds(ctx, target) {
		var id [20]byte
		if s.Id.Ok {
			id = s.Id.Value.AsByteArray()
		}
		addCand(s.Addr.AddrPort, id)
	}
	queries := 0
	for ctx.Err() == nil && queries < itemMaxQuery {
		mu.Lock()
		slices.SortFunc(cands, func(a, b cand) int { return bytes.Compare(dist(a.id), dist(b.id)) })
		// Stop when the itemK closest answers are all nearer than every
		// remaining candidate.
		slices.SortFunc(answered, func(a, b walked) int { return bytes.Compare(dist(a.id), dist(b.id)) })
		if len(answered) >= itemK && (len(cands) == 0 || bytes.Compare(dist(cands[0].id), dist(answered[itemK-1].id)) > 0) {
			mu.Unlock()
			break
		}
		batch := cands[:min(itemAlpha, len(cands), itemMaxQuery-queries)]
		cands = slices.Clone(cands[len(batch):])
		mu.Unlock()
		if len(batch) == 0 {
			break
		}
		queries += len(batch)
		var wg sync.WaitGroup
		for _, c := range batch {
			wg.Go(func() {
				qctx, qcancel := context.WithTimeout(ctx, itemTimeout)
				defer qcancel()
				msg, _, err := n.query(qctx, c.addr, "get", krpc.MsgArgs{ID: n.self, Target: target}, false)
				if err != nil || msg.R == nil {
					n.log.Debug("BEP 44 get", "to", c.addr, "err", err)
					mu.Lock()
					if tries[c.addr]++; tries[c.addr] < 3 && ctx.Err() == nil {
						cands = append(cands, c) // a busy node may drop one query
					}
					mu.Unlock()
					return
				}
				r := msg.R
				mu.Lock()
				defer mu.Unlock()
				tok := ""
				if r.Token != nil {
					tok = *r.Token
				}
				answered = append(answered, walked{addr: c.addr, id: r.ID, token: tok})
				for _, ni := range n.sanitizeNodes(append(slices.Clone([]krpc.NodeInfo(r.Nodes)), r.Nodes6...), r.ID) {
					if ap, ok := netip.AddrFromSlice(ni.Addr.IP); ok {
						addCand(netip.AddrPortFrom(ap.Unmap(), uint16(ni.Addr.Port)), ni.ID)
					}
				}
				if r.Seq != nil && len(r.V) > 0 && r.K == k {
					it := feed.MutableItem{K: k, Salt: slices.Clone(salt), Seq: *r.Seq, V: slices.Clone([]byte(r.V)), Sig: r.Sig}
					if it.Verify() == nil && (best == nil || it.Seq > best.Seq) {
						best = &it
					}
				}
			})
		}
		wg.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(answered, func(a, b walked) int { return bytes.Compare(dist(a.id), dist(b.id)) })
	return answered[:min(itemK, len(answered))], best
}

// ErrNoItem is returned by GetItem when no node holds a valid item.
var ErrNoItem = errors.New("dhtnet: no BEP 44 item found")

// GetItem finds the newest valid mutable item of k and salt (BEP 44 get).
// It implements feed.Directory.
func (n *Node) GetItem(ctx context.Context, k [32]byte, salt []byte) (feed.MutableItem, error) {
	_, best := n.itemWalk(ctx, k, salt)
	if best == nil {
		return feed.MutableItem{}, ErrNoItem
	}
	return *best, nil
}

// PutItem stores a signed mutable item on the nodes closest to its target
// (BEP 44 put) and keeps a copy in our own store. It implements
// feed.Directory.
func (n *Node) PutItem(ctx context.Context, it feed.MutableItem) error {
	if err := it.Verify(); err != nil {
		return err
	}
	if !bep44.Verify(it.K[:], it.Salt, it.Seq, it.V, it.Sig[:]) {
		return fmt.Errorf("dhtnet: item signature")
	}
	n.items.put(it, nil, n.cfg.Now())
	closest, _ := n.itemWalk(ctx, it.K, it.Salt)
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	var lastErr error
	for _, w := range closest {
		if w.token == "" {
			continue
		}
		wg.Go(func() {
			qctx, cancel := context.WithTimeout(ctx, itemTimeout)
			defer cancel()
			seq := it.Seq
			_, _, err := n.query(qctx, w.addr, "put", krpc.MsgArgs{ID: n.self, Token: w.token, V: bencode.Bytes(it.V),
				K: it.K, Salt: it.Salt, Seq: &seq, Sig: it.Sig}, false)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				lastErr = err
				return
			}
			stored++
		})
	}
	wg.Wait()
	if stored == 0 {
		return fmt.Errorf("dhtnet: BEP 44 put: no node stored the item (%d answered the walk; last error %v)", len(closest), lastErr)
	}
	n.log.Debug("BEP 44 put", "nodes", stored, "seq", it.Seq)
	return nil
}

var _ feed.Directory = (*Node)(nil)
