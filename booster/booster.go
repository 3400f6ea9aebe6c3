package booster

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/swarmgate/swarmgate/internal/dhtnet"
	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/feed/feedsql"
	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/node"
	"github.com/swarmgate/swarmgate/internal/rtc"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/swarm"
	"github.com/swarmgate/swarmgate/signaling"
)

// Config configures a Booster. Zero values are the defaults in the comments.
type Config struct {
	// DataDir holds everything: the peer store and content, feed.db,
	// booster.db, the feed key and the local API socket. Required.
	DataDir string
	// Listen is the PPSP UDP address (default "0.0.0.0:7758").
	Listen string
	// Conn is a transport to use instead of a UDP socket of our own: the
	// hook for a gateway's mux of UDP and WebRTC data channels.
	Conn net.PacketConn
	// HTTPListen is the feed node's HTTP address (default "0.0.0.0:7759").
	HTTPListen string
	// URL is the feed node's base URL as other nodes reach it (default
	// http:// and the HTTP address, 127.0.0.1 for an unspecified host).
	URL string
	// Socket is the local API's unix socket (default DataDir/booster.sock).
	Socket string
	// DHTListen is the DHT node's UDP address (default: the PPSP host, any
	// port). Bootstrap are DHT bootstrap nodes: nil means the public
	// Mainline routers, empty non-nil none. NoDHT turns the DHT off.
	DHTListen string
	Bootstrap []string
	NoDHT     bool
	// Peers are other feed nodes to pull from (Litter's one-hop peers).
	Peers []string
	// Hosted are uids this node is the publisher's node for.
	Hosted []feed.UID
	// Open accepts posts of any uid (a public gateway's feed node).
	Open bool
	// Quota bounds the bytes of content held (default 10 GiB); the least
	// recently used unpinned swarms are evicted to make room.
	Quota int64
	// UploadRate caps the bytes per second sent on the PPSP socket
	// (default 0: no cap).
	UploadRate int64
	// MaxSwarms bounds the swarms boosted at once (default 64).
	MaxSwarms int
	// MaxPerPublisher bounds the swarms boosted for one uid (default 16).
	MaxPerPublisher int
	// BoostWindow: posts older than the follow less this are not boosted
	// (history fills in, old content stays put) (default 24 h).
	BoostWindow time.Duration
	// HashCache bounds the memory of cached hash-tree pages of all swarms
	// (default merkle.DefaultCacheBytes).
	HashCache int
	// IdleRelease is how long a swarm is without peers before its cached
	// tree pages are dropped (swarm.Config.IdleRelease, default 30 s).
	IdleRelease time.Duration
	// FeedOnly keeps the feed node and boosts nothing.
	FeedOnly bool
	// PullInterval and GapInterval are the feed's (default 5 min, 30 s).
	PullInterval, GapInterval time.Duration
	// Gateway is a gateway's URL (http(s)://HOST[:PORT], or its ws(s)://
	// .../signal endpoint) to keep a signaling session with: the booster
	// joins each swarm it boosts there, so that the gateway's browsers
	// connect to it directly over WebRTC, NAT or not; the PPSP engine serves
	// UDP and WebRTC peers alike. Default none. Ignored when Conn is set.
	Gateway string
	// RTC configures the WebRTC transport used with Gateway (ID and
	// Signaler are filled in).
	RTC rtc.Config
	// Client sends the feed's HTTP requests (default: a client with a
	// 30 s timeout).
	Client feed.HTTPDoer
	// Logger (default: discard).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = "0.0.0.0:7758"
	}
	if c.HTTPListen == "" {
		c.HTTPListen = "0.0.0.0:7759"
	}
	if c.Socket == "" {
		c.Socket = filepath.Join(c.DataDir, "booster.sock")
	}
	if c.Quota <= 0 {
		c.Quota = 10 << 30
	}
	if c.MaxSwarms <= 0 {
		c.MaxSwarms = 64
	}
	if c.MaxPerPublisher <= 0 {
		c.MaxPerPublisher = 16
	}
	if c.BoostWindow <= 0 {
		c.BoostWindow = 24 * time.Hour
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Booster is a running booster daemon: New opens it, Run serves until its
// context ends and then shuts down cleanly.
type Booster struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	peer   *node.Node
	dht    *node.DHT
	fst    *feedsql.Store
	feed   *feed.Node
	db     *db
	id     *feed.Identity
	httpLn net.Listener
	apiLn  net.Listener
	work   chan *feed.Post

	gw  *gatewayLink   // with Config.Gateway
	rtc *rtc.Transport // with Config.Gateway

	mu     sync.Mutex
	swarms map[string]*active
}

type active struct {
	row    boostRow
	sw     store.Swarm
	s      *swarm.Swarm
	m      *dhtnet.Membership
	lastUp uint64
}

// New opens the data directory, the sockets and the state, and resumes
// every swarm it held (verified chunks are not fetched or hashed again).
func New(cfg Config) (b *Booster, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("booster: Config.DataDir is required")
	}
	cfg.setDefaults()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	b = &Booster{cfg: cfg, log: cfg.Logger, swarms: map[string]*active{}, work: make(chan *feed.Post, 1024)}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.id, _, err = feed.LoadOrCreateKey(filepath.Join(cfg.DataDir, "feed.key")); err != nil {
		return nil, err
	}
	conn := cfg.Conn
	if conn == nil {
		if conn, err = node.ListenUDP(cfg.Listen); err != nil {
			return nil, err
		}
		if cfg.Gateway != "" {
			if conn, err = b.withGateway(conn); err != nil {
				return nil, err
			}
		}
	}
	conn = newLimitedConn(b.ctx, conn, cfg.UploadRate)
	if b.peer, err = node.Open(node.Config{Conn: conn, StateDir: filepath.Join(cfg.DataDir, "peer"), Logger: b.log,
		Engine: swarm.Config{HashCache: cfg.HashCache, IdleRelease: cfg.IdleRelease}}); err != nil {
		conn.Close()
		return nil, err
	}
	if b.fst, err = feedsql.Open(filepath.Join(cfg.DataDir, "feed.db")); err != nil {
		return nil, err
	}
	if b.db, err = openDB(filepath.Join(cfg.DataDir, "booster.db")); err != nil {
		return nil, err
	}
	if b.httpLn, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
		return nil, fmt.Errorf("booster: feed HTTP: %w", err)
	}
	if cfg.URL == "" {
		cfg.URL = "http://" + node.Advertised(b.httpLn.Addr())
		b.cfg.URL = cfg.URL
	}
	if err := b.listenAPI(); err != nil {
		return nil, err
	}
	if !cfg.NoDHT {
		b.dht, err = node.StartDHT(b.ctx, node.DHTConfig{Listen: cfg.DHTListen, Bootstrap: cfg.Bootstrap,
			DHT: dhtnet.Config{DBPath: filepath.Join(cfg.DataDir, "dht.db")}}, conn.LocalAddr(), b.log)
		if err != nil {
			return nil, err
		}
	}
	fc := feed.Config{Store: b.fst, Identity: b.id, URL: cfg.URL, Client: cfg.Client, Peers: cfg.Peers,
		Hosted: cfg.Hosted, Open: cfg.Open, PullInterval: cfg.PullInterval, GapInterval: cfg.GapInterval,
		OnPost: b.onPost, Logger: b.log.With("sub", "feed")}
	if b.dht != nil {
		fc.Directory = b.dht.Node
	}
	if b.feed, err = feed.NewNode(fc); err != nil {
		return nil, err
	}
	rows, err := b.db.all()
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if err := b.start(r); err != nil {
			b.log.Warn("resume", "root", hex.EncodeToString(r.c.Root), "err", err)
		}
	}
	return b, nil
}

// withGateway builds the WebRTC side for Config.Gateway: a transport
// signalled through the gateway, muxed with udp under the one engine.
func (b *Booster) withGateway(udp net.PacketConn) (net.PacketConn, error) {
	su, err := SignalURL(b.cfg.Gateway)
	if err != nil {
		udp.Close()
		return nil, err
	}
	b.gw = newGatewayLink(su, b.log.With("sub", "signaling"), b.onGatewayPeers)
	rc := b.cfg.RTC
	rc.ID, rc.Signaler = b.gw.id, b.gw
	if rc.Logger == nil {
		rc.Logger = b.log.With("sub", "rtc")
	}
	if b.rtc, err = rtc.New(rc); err != nil {
		udp.Close()
		return nil, err
	}
	return rtc.NewMux(udp, b.rtc, 0), nil
}

// onGatewayPeers connects to the peers the gateway lists in a swarm being
// boosted (the gateway itself, boosters, peer-mode browsers: the broker
// never lists leechers or sources). It runs on the signaling reader.
func (b *Booster) onGatewayPeers(swarm string, peers []signaling.PeerInfo) {
	b.mu.Lock()
	a := b.swarms[swarm]
	b.mu.Unlock()
	if a == nil {
		return
	}
	go func() {
		for _, p := range peers {
			if p.ID != b.gw.id && p.Role.Reachable() {
				a.s.Connect(rtc.Addr{ID: p.ID})
			}
		}
	}()
}

// UID is the booster's own feed identity (it signs its follow requests).
func (b *Booster) UID() feed.UID { return b.id.UID() }

// URL is the feed node's base URL.
func (b *Booster) URL() string { return b.cfg.URL }

// PeerAddr is the PPSP socket's address.
func (b *Booster) PeerAddr() net.Addr { return b.peer.Conn.LocalAddr() }

// Feed is the booster's feed node.
func (b *Booster) Feed() *feed.Node { return b.feed }

// Run serves the feed, the local API and the swarms until ctx ends, then
// shuts everything down (SIGTERM in the daemon) and returns.
func (b *Booster) Run(ctx context.Context) error {
	defer b.close()
	b.peer.Start(b.ctx)
	feedSrv := &http.Server{Handler: b.feed.Handler(), ReadHeaderTimeout: 10 * time.Second}
	apiSrv := &http.Server{Handler: b.apiHandler(), ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { feedSrv.Serve(b.httpLn) })
	wg.Go(func() { apiSrv.Serve(b.apiLn) })
	wg.Go(func() { b.feed.Run(b.ctx) })
	wg.Go(func() { b.boostLoop(b.ctx) })
	wg.Go(func() { b.usageLoop(b.ctx) })
	if b.gw != nil {
		wg.Go(func() { b.gw.run(b.ctx) })
		wg.Go(func() { b.rtc.Run(b.ctx) })
	}
	select {
	case <-ctx.Done():
	case <-b.ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	feedSrv.Shutdown(sctx)
	apiSrv.Shutdown(sctx)
	cancel()
	b.cancel()
	wg.Wait()
	return nil
}

// close releases everything New opened.
func (b *Booster) close() {
	b.cancel()
	b.mu.Lock()
	for k, a := range b.swarms {
		if a.m != nil {
			a.m.Close()
		}
		a.s.Close()
		a.sw.Close()
		delete(b.swarms, k)
	}
	b.mu.Unlock()
	if b.dht != nil {
		b.dht.Stop()
	}
	if b.peer != nil {
		b.peer.Close()
	}
	if b.rtc != nil {
		b.rtc.Close() // after the engine: the mux it wrote to is closed
	}
	if b.fst != nil {
		b.fst.Close()
	}
	if b.db != nil {
		b.db.Close()
	}
	if b.httpLn != nil {
		b.httpLn.Close()
	}
	if b.apiLn != nil {
		b.apiLn.Close()
		os.Remove(b.cfg.Socket)
	}
}

// onPost is the feed's hook: it must not block.
func (b *Booster) onPost(p *feed.Post) {
	if b.cfg.FeedOnly || len(p.Links) == 0 {
		return
	}
	select {
	case b.work <- p:
	default:
		b.log.Warn("boost queue full; post skipped", "uid", p.UID.Fingerprint(), "seq", p.Seq)
	}
}

func (b *Booster) boostLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-b.work:
			b.consider(p)
		}
	}
}

// consider boosts the links of a post by a followed uid (a repost by one
// carries the links it reposts: meta-boosting), unless the post is older
// than the follow by more than BoostWindow.
func (b *Booster) consider(p *feed.Post) {
	fs, err := b.fst.Follows()
	if err != nil {
		return
	}
	for _, f := range fs {
		if f.UID != p.UID {
			continue
		}
		if p.Time.Before(f.Since.Add(-b.cfg.BoostWindow)) {
			return
		}
		for _, c := range p.Links {
			if err := b.Boost(c, p.UID, p.Seq); err != nil {
				b.log.Warn("not boosted", "root", hex.EncodeToString(c.Root), "err", err)
			}
		}
		return
	}
}

// ErrBudget is returned when content does not fit the quota or limits even
// after evicting every unpinned swarm it may.
var ErrBudget = errors.New("booster: over budget")

// Boost starts boosting content named by uid's post seq (zero uid: asked
// locally): it makes room under the budgets, then announces at once and
// fetches.
func (b *Booster) Boost(c feed.Content, uid feed.UID, seq uint64) error {
	key := hex.EncodeToString(c.Root)
	b.mu.Lock()
	if a, ok := b.swarms[key]; ok {
		a.row.lastUsed = time.Now()
		r := a.row
		b.mu.Unlock()
		return b.db.put(r)
	}
	b.mu.Unlock()
	if c.Length > b.cfg.Quota {
		return fmt.Errorf("%w: %d bytes is more than the whole quota (%d)", ErrBudget, c.Length, b.cfg.Quota)
	}
	if !uid.IsZero() {
		if err := b.makeRoom(func(a *active) bool { return a.row.uid == uid }, b.cfg.MaxPerPublisher-1, -1); err != nil {
			return fmt.Errorf("%w: %d swarms of %s already, all pinned", ErrBudget, b.cfg.MaxPerPublisher, uid.Fingerprint())
		}
	}
	if err := b.makeRoom(func(*active) bool { return true }, b.cfg.MaxSwarms-1, b.cfg.Quota-c.Length); err != nil {
		return err
	}
	now := time.Now()
	r := boostRow{c: c, uid: uid, seq: seq, added: now, lastUsed: now}
	if err := b.db.put(r); err != nil {
		return err
	}
	return b.start(r)
}

// makeRoom evicts the least recently used unpinned swarms among those
// match selects until at most count remain and (bytes ≥ 0) the total held
// is at most bytes.
func (b *Booster) makeRoom(match func(*active) bool, count int, bytes int64) error {
	for {
		b.mu.Lock()
		var cands []*active
		n := 0
		var used int64
		for _, a := range b.swarms {
			used += a.row.c.Length
			if match(a) {
				n++
				if !a.row.pinned {
					cands = append(cands, a)
				}
			}
		}
		b.mu.Unlock()
		over := n > count || (bytes >= 0 && used > bytes)
		if !over {
			return nil
		}
		if len(cands) == 0 {
			return fmt.Errorf("%w: everything that could be evicted is pinned", ErrBudget)
		}
		sort.Slice(cands, func(i, j int) bool { return cands[i].row.lastUsed.Before(cands[j].row.lastUsed) })
		if err := b.evict(cands[0].row.c.Root); err != nil {
			return err
		}
	}
}

// evict stops a swarm and deletes its state and (unless it is a local
// seed) its content.
func (b *Booster) evict(root []byte) error {
	key := hex.EncodeToString(root)
	b.mu.Lock()
	a, ok := b.swarms[key]
	delete(b.swarms, key)
	b.mu.Unlock()
	if !ok {
		return nil
	}
	b.log.Info("evicting", "root", key, "name", a.row.c.Name)
	if b.gw != nil {
		b.gw.leave(key)
	}
	if a.m != nil {
		a.m.Close()
	}
	a.s.Close()
	path := a.sw.Info().Path
	a.sw.Close()
	b.peer.Store.Remove(root)
	if !a.row.uid.IsZero() {
		os.Remove(path)
	}
	return b.db.del(root)
}

// start adds a swarm to the engine and, with the DHT, announces as a
// booster at once (thesis ch. 11 §IV-A) and connects to every peer found.
func (b *Booster) start(r boostRow) error {
	info := store.Info{SwarmID: r.c.Root, HashFunc: r.c.HashFunc, ChunkSize: r.c.ChunkSize, Length: -1, Name: r.c.Name, Path: r.path}
	sw, err := b.peer.Store.Open(info)
	if err != nil {
		return err
	}
	s, err := b.peer.Engine.Add(swarm.SwarmConfig{Store: sw})
	if err != nil {
		sw.Close()
		return err
	}
	a := &active{row: r, sw: sw, s: s}
	if b.dht != nil {
		id, _ := dhtnet.SwarmID(r.c.Root)
		m, err := b.dht.Join(b.ctx, id, dhtnet.RoleBooster, node.UDPPort(b.peer.Conn.LocalAddr()))
		if err != nil {
			s.Close()
			sw.Close()
			return err
		}
		a.m = m
		go node.ConnectPeers(m, s)
		go b.askWhileIncomplete(m, s)
	}
	b.mu.Lock()
	b.swarms[hex.EncodeToString(r.c.Root)] = a
	b.mu.Unlock()
	if b.gw != nil {
		b.gw.join(hex.EncodeToString(r.c.Root))
	}
	b.log.Info("boosting", "root", hex.EncodeToString(r.c.Root), "name", r.c.Name, "uid", r.uid.Fingerprint())
	return nil
}

// Seed imports a local file (hashing it unless the store holds it
// unchanged) and seeds it, pinned.
func (b *Booster) Seed(path string, o merkle.Options) (feed.Content, error) {
	sw, err := node.ImportFile(b.peer.Store, path, o)
	if err != nil {
		return feed.Content{}, err
	}
	info := sw.Info()
	sw.Close()
	c := feed.Content{Root: info.SwarmID, HashFunc: info.HashFunc, ChunkSize: info.ChunkSize, Length: info.Length, Name: info.Name}
	key := hex.EncodeToString(c.Root)
	b.mu.Lock()
	_, ok := b.swarms[key]
	b.mu.Unlock()
	if ok {
		return c, b.Pin(c.Root, true)
	}
	now := time.Now()
	r := boostRow{c: c, added: now, lastUsed: now, pinned: true, path: info.Path}
	if err := b.db.put(r); err != nil {
		return c, err
	}
	return c, b.start(r)
}

// Pin keeps a swarm from eviction (or lets it go).
func (b *Booster) Pin(root []byte, pin bool) error {
	b.mu.Lock()
	a, ok := b.swarms[hex.EncodeToString(root)]
	if ok {
		a.row.pinned = pin
	}
	var r boostRow
	if ok {
		r = a.row
	}
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("booster: not boosting %x", root)
	}
	return b.db.put(r)
}

// usageLoop marks swarms that uploaded as recently used (the LRU order).
func (b *Booster) usageLoop(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var dirty []boostRow
		b.mu.Lock()
		for _, a := range b.swarms {
			if up := a.s.Stats().BytesUploaded; up > a.lastUp {
				a.lastUp, a.row.lastUsed = up, time.Now()
				dirty = append(dirty, a.row)
			}
		}
		b.mu.Unlock()
		for _, r := range dirty {
			b.db.put(r)
		}
	}
}

// askWhileIncomplete asks the DHT for more peers every few seconds while
// the swarm lacks chunks and no connected peer is a seeder: boosters that
// announced after our first lookup (or a source that left) must not leave
// us stuck until the next announce round.
func (b *Booster) askWhileIncomplete(m *dhtnet.Membership, s *swarm.Swarm) {
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-s.Done():
			return
		case <-t.C:
		}
		have, total := s.Progress()
		if total > 0 && have == total {
			return
		}
		seeder := false
		for _, p := range s.Peers() {
			seeder = seeder || (p.Open && p.Seeder)
		}
		if !seeder {
			m.NeedPeers()
		}
	}
}
