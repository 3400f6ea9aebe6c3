package dhtnet

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/bep44"
	"github.com/anacrolix/dht/v2/krpc"
	alog "github.com/anacrolix/log"
	"github.com/anacrolix/torrent/bencode"
	"golang.org/x/time/rate"
)

// Node is a Mainline DHT node on an injected socket. Create it with New,
// drive its maintenance with Run, and find or announce peers with Join.
type Node struct {
	cfg      Config
	log      *slog.Logger
	srv      *dht.Server
	conn     net.PacketConn
	self     [20]byte
	selfAddr netip.AddrPort
	limiter  *rate.Limiter
	table    *contactTable
	peers    *PeerStore
	tok      tokens
	store    contactStore
	items    itemStore // BEP 44 items put to us (bep44.go)

	ctx    context.Context
	cancel context.CancelFunc

	candMu sync.Mutex
	cands  map[netip.AddrPort][20]byte
	order  []netip.AddrPort

	bootMu    sync.Mutex
	bootAddrs []netip.AddrPort

	// keepFailed, when set, keeps a contact that fails to answer in the
	// table (the benchmark's model of deployed nodes, which keep listing a
	// departed node for up to 15 minutes).
	keepFailed atomic.Pointer[func(netip.AddrPort) bool]
	dead       deadSet // nodes that stopped answering (dead.go)

	nextBucket int
	closeOnce  sync.Once
	st         counters
}

type counters struct {
	getPeers, announces, pings, findNodes, maintenance atomic.Int64
	timeouts, queriesIn, replies, announcesIn          atomic.Int64
}

// Stats are the counters of a node.
type Stats struct {
	GetPeersSent, AnnouncesSent, PingsSent, FindNodesSent int64
	// MaintenanceQueries are the queries sent to keep the routing table:
	// bootstrap walks, stale-contact pings and candidate checks.
	MaintenanceQueries int64
	// Timeouts counts queries that got no answer within QueryTimeout.
	Timeouts int64
	// QueriesReceived and Replies count queries from others and answers sent.
	QueriesReceived, Replies, AnnouncesReceived int64
	Contacts                                    int
	StoredPeers                                 int
	// Dead is the number of addresses taken for departed (two hard
	// timeouts in a row, dead.go); lookups skip them.
	Dead    int
	Buckets []int
}

// New creates a node on cfg.Conn and starts serving it. The routing table
// is loaded from cfg.DBPath if set.
func New(cfg Config) (*Node, error) {
	if cfg.Conn == nil {
		return nil, errors.New("dhtnet: Config.Conn is required")
	}
	cfg.setDefaults()
	conn := &guardConn{PacketConn: cfg.Conn}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger,
		conn:    conn,
		self:    cfg.NodeID,
		limiter: rate.NewLimiter(rate.Limit(cfg.SendRate), max(1, int(cfg.SendRate))),
		peers:   &PeerStore{TTL: cfg.PeerTTL, Now: cfg.Now},
		cands:   make(map[netip.AddrPort][20]byte),
	}
	if n.self == ([20]byte{}) {
		rand.Read(n.self[:])
	}
	if ap, err := addrPortOf(cfg.Conn.LocalAddr()); err == nil {
		n.selfAddr = ap
	}
	n.tok.init(cfg.Now)
	n.dead.now = cfg.Now
	n.table = newContactTable(n.self, cfg.BucketSizes, cfg.Now)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if cfg.DBPath != "" {
		st, err := openContactStore(cfg.DBPath)
		if err != nil {
			return nil, err
		}
		n.store = st
		cs, err := st.Load()
		if err != nil {
			st.Close()
			return nil, err
		}
		n.table.Load(cs)
		n.log.Debug("loaded routing table", "contacts", n.table.Len(), "db", cfg.DBPath)
	}
	srv, err := dht.NewServer(&dht.ServerConfig{
		NodeId:           n.self,
		Conn:             conn,
		Passive:          cfg.ReadOnly, // BEP 43: ro=1 in our queries, no answers
		NoSecurity:       true,
		StartingNodes:    func() ([]dht.Addr, error) { return nil, errors.New("dhtnet: no starting nodes") },
		OnQuery:          n.onQuery,
		PeerStore:        n.peers,
		QueryResendDelay: func() time.Duration { return cfg.QueryTimeout },
		Store:            bep44.NewMemory(),
		SendLimiter:      n.limiter,
		Logger:           alog.Default.FilterLevel(alog.Critical),
	})
	if err != nil {
		if n.store != nil {
			n.store.Close()
		}
		return nil, err
	}
	n.srv = srv
	return n, nil
}

// ID returns the node ID.
func (n *Node) ID() [20]byte { return n.self }

// Addr returns the address of the node's socket.
func (n *Node) Addr() netip.AddrPort { return n.selfAddr }

// Server returns the underlying anacrolix server (for benchmarks and
// diagnostics; do not close it directly).
func (n *Node) Server() *dht.Server { return n.srv }

// Peers returns the node's store of peers announced to it.
func (n *Node) Peers() *PeerStore { return n.peers }

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	return Stats{
		GetPeersSent:       n.st.getPeers.Load(),
		AnnouncesSent:      n.st.announces.Load(),
		PingsSent:          n.st.pings.Load(),
		FindNodesSent:      n.st.findNodes.Load(),
		MaintenanceQueries: n.st.maintenance.Load(),
		Timeouts:           n.st.timeouts.Load(),
		QueriesReceived:    n.st.queriesIn.Load(),
		Replies:            n.st.replies.Load(),
		AnnouncesReceived:  n.st.announcesIn.Load(),
		Contacts:           n.table.Len(),
		Dead:               n.dead.len(),
		StoredPeers:        n.peers.Len(),
		Buckets:            n.table.BucketLens(),
	}
}

// Contacts returns a copy of the routing table.
func (n *Node) Contacts() []Contact { return n.table.All() }

// AddContact adds a node as if it had just answered in rtt (for warm
// starts from other sources and for tests).
func (n *Node) AddContact(c Contact) bool {
	return n.table.Replied(c.ID, c.Addr, c.RTT)
}

// Close stops the node, saves the routing table and closes the socket.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		n.cancel()
		if n.store != nil {
			err = n.store.Save(n.table.All())
			if cerr := n.store.Close(); err == nil {
				err = cerr
			}
		}
		n.srv.Close() // closes the conn; anacrolix must see itself closed first
	})
	return err
}

// Run bootstraps the routing table if it is empty and keeps it fresh until
// ctx is done (thesis ch. 8 NICE: a steady trickle of pings, one bucket at a
// time). A read-only node does no maintenance. Run returns nil when ctx is
// done, or an error if the node was closed.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-n.ctx.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	if !n.cfg.ReadOnly && n.table.Len() < n.cfg.K {
		n.Bootstrap(ctx)
	}
	tick := time.NewTicker(n.cfg.MaintenanceInterval)
	defer tick.Stop()
	save := time.NewTicker(5 * time.Minute)
	defer save.Stop()
	var lastBoot time.Time
	for {
		select {
		case <-ctx.Done():
			if n.ctx.Err() != nil {
				return net.ErrClosed
			}
			if n.store != nil {
				if err := n.store.Save(n.table.All()); err != nil {
					n.log.Warn("saving routing table", "err", err)
				}
			}
			return nil
		case <-save.C:
			if n.store != nil {
				if err := n.store.Save(n.table.All()); err != nil {
					n.log.Warn("saving routing table", "err", err)
				}
			}
		case <-tick.C:
			if n.cfg.ReadOnly {
				continue
			}
			if n.table.Len() < n.cfg.K && time.Since(lastBoot) > 10*n.cfg.MaintenanceInterval {
				lastBoot = time.Now()
				go n.Bootstrap(ctx)
			}
			n.maintain(ctx)
		}
	}
}

// maintain sends this tick's maintenance queries: a ping to the stalest
// contact of the next bucket (evicted if it fails to answer) and a ping to
// one candidate heard of, which enters the table if it answers (ch. 7: only
// nodes that proved reciprocal connectivity).
func (n *Node) maintain(ctx context.Context) {
	if c, b, ok := n.table.Stalest(n.nextBucket); ok {
		n.nextBucket = (b + 1) % 160
		if n.cfg.Now().Sub(c.LastReply) > n.cfg.MaintenanceInterval {
			go n.ping(ctx, c.Addr, true)
		}
	}
	if ap, ok := n.popCandidate(false); ok {
		go n.ping(ctx, ap, true)
	}
}

func (n *Node) ping(ctx context.Context, to netip.AddrPort, maint bool) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.QueryTimeout)
	defer cancel()
	_, _, err := n.query(ctx, to, "ping", krpc.MsgArgs{}, maint)
	return err
}

const maxCandidates = 512

// addCandidate remembers a node we heard of (it queried us, or another node
// named it); maintenance pings it later and it enters the table if it
// answers and its bucket has room or it is faster than the slowest contact.
func (n *Node) addCandidate(id [20]byte, ap netip.AddrPort) {
	if n.cfg.ReadOnly || id == n.self || ap == n.selfAddr || !usableAddr(ap) || bucketOf(n.self, id) < 0 || n.table.Has(ap) {
		return
	}
	n.candMu.Lock()
	defer n.candMu.Unlock()
	if _, ok := n.cands[ap]; ok {
		return
	}
	if len(n.order) >= maxCandidates {
		old := n.order[0]
		n.order = n.order[1:]
		delete(n.cands, old)
	}
	n.cands[ap] = id
	n.order = append(n.order, ap)
}

// popCandidate returns the newest candidate whose bucket has room, else
// (unless roomOnly) the newest candidate.
func (n *Node) popCandidate(roomOnly bool) (netip.AddrPort, bool) {
	n.candMu.Lock()
	defer n.candMu.Unlock()
	pick := -1
	for i := len(n.order) - 1; i >= 0; i-- {
		ap := n.order[i]
		if n.table.Has(ap) {
			delete(n.cands, ap)
			n.order = append(n.order[:i], n.order[i+1:]...)
			continue
		}
		if n.table.Wants(n.cands[ap], ap) {
			pick = i
			break
		}
	}
	if pick < 0 && !roomOnly && len(n.order) > 0 {
		pick = len(n.order) - 1
	}
	if pick < 0 {
		return netip.AddrPort{}, false
	}
	ap := n.order[pick]
	n.order = append(n.order[:pick], n.order[pick+1:]...)
	delete(n.cands, ap)
	return ap, true
}

var errBadReply = errors.New("dhtnet: bad reply")

// query sends one KRPC query and waits for its answer (or ctx). A node that
// answers enters or refreshes the routing table with the measured RTT; one
// that times out leaves it.
func (n *Node) query(ctx context.Context, to netip.AddrPort, q string, args krpc.MsgArgs, maint bool) (krpc.Msg, time.Duration, error) {
	switch q {
	case "get_peers":
		n.st.getPeers.Add(1)
	case "announce_peer":
		n.st.announces.Add(1)
	case "ping":
		n.st.pings.Add(1)
	case "find_node":
		n.st.findNodes.Add(1)
	}
	if maint {
		n.st.maintenance.Add(1)
	}
	start, sent := time.Now(), n.cfg.Now()
	res := n.srv.Query(ctx, dht.NewAddr(net.UDPAddrFromAddrPort(to)), q, dht.QueryInput{MsgArgs: args, NumTries: 1})
	rtt := time.Since(start)
	if res.Err != nil {
		if n.ctx.Err() == nil && (errors.Is(res.Err, dht.TransactionTimeout) || errors.Is(res.Err, context.DeadlineExceeded)) {
			n.st.timeouts.Add(1)
			keep := n.keepFailed.Load()
			switch {
			case !n.dead.evidence(sent):
				// No query sent after this one was answered: our own
				// receive path may have stalled (CPU starved, suspended),
				// so the timeout says nothing against the remote node.
			case keep == nil:
				n.table.Failed(to)
				if !n.isBootstrap(to) {
					n.dead.miss(to, sent)
				}
			case !(*keep)(to):
				// The benchmark's model of a deployed node: it evicts,
				// but keeps no memory of departed nodes.
				n.table.Failed(to)
			}
		}
		return res.Reply, rtt, res.Err
	}
	m := res.Reply
	if m.Y == krpc.YError {
		if m.E != nil {
			return m, rtt, *m.E
		}
		return m, rtt, errBadReply
	}
	if m.R == nil || m.R.ID == n.self || m.R.ID == ([20]byte{}) {
		n.table.Failed(to)
		return m, rtt, errBadReply
	}
	n.table.Replied(m.R.ID, to, rtt)
	n.dead.answered(to, sent)
	return m, rtt, nil
}

// isBootstrap reports whether ap is one of the (resolved) bootstrap nodes,
// which are never taken for dead: they are the way back in.
func (n *Node) isBootstrap(ap netip.AddrPort) bool {
	n.bootMu.Lock()
	defer n.bootMu.Unlock()
	return slices.Contains(n.bootAddrs, ap)
}

// onQuery answers queries from other nodes ourselves (BEP 5): anacrolix
// v2.23.0 answers find_node for the wrong target and returns a poor
// "closest" set. Returns false so anacrolix does not answer too.
func (n *Node) onQuery(m *krpc.Msg, source net.Addr) bool {
	if n.cfg.ReadOnly || n.ctx.Err() != nil {
		return false // BEP 43: a read-only node answers nothing
	}
	n.st.queriesIn.Add(1)
	src, err := addrPortOf(source)
	if err != nil || !usableAddr(src) {
		return false
	}
	a := m.A
	if a == nil {
		n.replyError(source, m.T, krpc.ErrorCodeProtocolError, "missing arguments")
		return false
	}
	if a.ID == n.self {
		return false
	}
	if !m.ReadOnly && a.ID != ([20]byte{}) {
		n.addCandidate(a.ID, src)
	}
	switch m.Q {
	case "ping":
		n.reply(source, m.T, krpc.Return{})
	case "find_node":
		var r krpc.Return
		n.setNodes(&r, a.Target, a.Want, src)
		n.reply(source, m.T, r)
	case "get_peers":
		var r krpc.Return
		for _, p := range n.peers.Get(a.InfoHash, maxValues) {
			r.Values = append(r.Values, krpc.NodeAddr{IP: net.IP(p.Addr().AsSlice()), Port: int(p.Port())})
		}
		n.setNodes(&r, a.InfoHash, a.Want, src)
		tok := n.tok.make(src)
		r.Token = &tok
		n.reply(source, m.T, r)
	case "announce_peer":
		if !n.tok.valid(a.Token, src) {
			n.replyError(source, m.T, krpc.ErrorCodeProtocolError, "bad token")
			return false
		}
		port := 0
		if a.ImpliedPort {
			port = int(src.Port())
		} else if a.Port != nil {
			port = *a.Port
		}
		if port <= 0 || port > 65535 {
			n.replyError(source, m.T, krpc.ErrorCodeProtocolError, "bad port")
			return false
		}
		n.peers.Add(a.InfoHash, netip.AddrPortFrom(src.Addr(), uint16(port)))
		n.st.announcesIn.Add(1)
		n.reply(source, m.T, krpc.Return{})
	case "get", "put": // BEP 44 (bep44.go)
		n.onItemQuery(m, source, src)
	default:
		n.replyError(source, m.T, krpc.ErrorCodeMethodUnknown, "method unknown")
	}
	return false
}

// setNodes fills the closest good contacts to target, in XOR order (BEP 5,
// BEP 32 for IPv6).
func (n *Node) setNodes(r *krpc.Return, target krpc.ID, want []krpc.Want, src netip.AddrPort) {
	want4, want6 := src.Addr().Unmap().Is4(), !src.Addr().Unmap().Is4()
	if len(want) > 0 {
		want4, want6 = false, false
		for _, w := range want {
			want4 = want4 || w == krpc.WantNodes
			want6 = want6 || w == krpc.WantNodes6
		}
	}
	fresh := n.cfg.Now().Add(-15 * time.Minute)
	var c4, c6 int
	for _, c := range n.table.Closest(target, 4*defaultK) {
		if c.Addr == src || c.LastReply.Before(fresh) {
			continue
		}
		ni := krpc.NodeInfo{ID: c.ID, Addr: krpc.NodeAddr{IP: net.IP(c.Addr.Addr().Unmap().AsSlice()), Port: int(c.Addr.Port())}}
		if c.Addr.Addr().Unmap().Is4() {
			if want4 && c4 < defaultK {
				r.Nodes = append(r.Nodes, ni)
				c4++
			}
		} else if want6 && c6 < defaultK {
			r.Nodes6 = append(r.Nodes6, ni)
			c6++
		}
	}
}

func (n *Node) reply(to net.Addr, t string, r krpc.Return) {
	r.ID = n.self
	ip, _ := addrPortOf(to)
	m := krpc.Msg{T: t, Y: krpc.YResponse, R: &r}
	m.IP.FromAddrPort(ip)
	n.send(to, m)
}

func (n *Node) replyError(to net.Addr, t string, code int, msg string) {
	n.send(to, krpc.Msg{T: t, Y: krpc.YError, E: &krpc.Error{Code: code, Msg: msg}})
}

func (n *Node) send(to net.Addr, m krpc.Msg) {
	b, err := bencode.Marshal(m)
	if err != nil {
		return
	}
	if !n.limiter.Allow() {
		return // like the stock server: replies are dropped when over budget
	}
	if _, err := n.conn.WriteTo(b, to); err == nil {
		n.st.replies.Add(1)
	}
}

// tokens issues and checks announce_peer tokens (BEP 5): a hash of a
// rotating secret and the querier's address, valid for two rotations.
type tokens struct {
	mu        sync.Mutex
	now       func() time.Time
	cur, prev [20]byte
	rotated   time.Time
}

const tokenRotation = 5 * time.Minute

func (t *tokens) init(now func() time.Time) {
	t.now = now
	rand.Read(t.cur[:])
	rand.Read(t.prev[:])
	t.rotated = now()
}

func (t *tokens) secrets() ([20]byte, [20]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now := t.now(); now.Sub(t.rotated) >= tokenRotation {
		t.prev = t.cur
		if now.Sub(t.rotated) >= 2*tokenRotation {
			rand.Read(t.prev[:])
		}
		rand.Read(t.cur[:])
		t.rotated = now
	}
	return t.cur, t.prev
}

func tokenFor(secret [20]byte, ap netip.AddrPort) string {
	h := sha1.New()
	h.Write(secret[:])
	b, _ := ap.MarshalBinary()
	h.Write(b)
	return string(h.Sum(nil)[:8])
}

func (t *tokens) make(ap netip.AddrPort) string {
	cur, _ := t.secrets()
	return tokenFor(cur, ap)
}

func (t *tokens) valid(tok string, ap netip.AddrPort) bool {
	cur, prev := t.secrets()
	return tok != "" && (tok == tokenFor(cur, ap) || tok == tokenFor(prev, ap))
}

func addrPortOf(a net.Addr) (netip.AddrPort, error) {
	switch a := a.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	case nil:
		return netip.AddrPort{}, errors.New("nil address")
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("dhtnet: address %v: %w", a, err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}
