package client

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/rtc"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/stream"
	"github.com/swarmgate/swarmgate/internal/swarm"
	"github.com/swarmgate/swarmgate/signaling"
)

// Config configures a Client. Zero values pick the documented defaults.
type Config struct {
	// SignalURL is the gateway's signaling endpoint (ws:// or wss://
	// .../signal). Required.
	SignalURL string
	// Link names the content. Required: root; chunk size and hash function
	// as the link gives them.
	Link link.Link
	// Store holds the chunks. Default: an in-memory store (store.NewMemory).
	// A persistent one (the browser's blobstore) makes a link fetched
	// before play again without the network: a leecher that finds the
	// whole content there never dials the gateway.
	Store store.Store
	// StorageKind names Store for the page ("opfs", "indexeddb"). Default
	// "memory".
	StorageKind string
	// Peer makes the client a peer that uploads to others and is listed
	// for them (a desktop that allows it). Default false: a leecher.
	Peer bool
	// MaxPeers bounds the peers connected to. Default 4.
	MaxPeers int
	// HashCache bounds the engine's cache of hash-tree pages when Store
	// keeps the tree outside memory (swarm.Config.HashCache). Default
	// 2 MiB: a client watches one video.
	HashCache int
	// RTC configures the WebRTC transport; ID and Signaler are filled in.
	RTC rtc.Config
	// Signal configures the signaling session; Role is filled in.
	Signal signaling.ClientConfig
	// Logger receives the client's logs. Default: discarded.
	Logger *slog.Logger
	// Phase, when set, is told the steps of the start as they are done
	// ("dialed", "engine"): the page's timeline.
	Phase func(string)
	// Transport, when set, is called with the WebRTC transport once it
	// exists, before it runs: the browser hands it the connection the
	// page opened while the module compiled (rtc.Transport.AdoptBrowser).
	// Not called for a client that stays offline.
	Transport func(*rtc.Transport)
}

// Client is one watched swarm. Start it; Close it.
type Client struct {
	cfg    Config
	log    *slog.Logger
	sig    *signaling.Client
	rtc    *rtc.Transport
	engine *swarm.Engine
	sw     *stream.Swarm
	s      *swarm.Swarm
	ownSt  store.Store // the default in-memory store, closed with the client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	restored uint64 // chunks the store held at the start
	offline  bool   // complete from the store: no signaling, no peers

	mu        sync.Mutex
	connected map[string]bool
	roles     map[string]signaling.Role // by peer ID, as the broker listed it
	quiet     bool
}

// offlineSignaler is the signaler of a client that found everything in
// its store: it never connects, so nothing is ever signaled.
type offlineSignaler struct{}

func (offlineSignaler) Send(context.Context, string, rtc.Signal) error {
	return errors.New("client: offline (the content is complete in local storage)")
}

func (offlineSignaler) Recv(ctx context.Context) (string, rtc.Signal, error) {
	<-ctx.Done()
	return "", rtc.Signal{}, ctx.Err()
}

// Start dials the gateway's signaling, joins the swarm and starts fetching.
func Start(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.SignalURL == "" || len(cfg.Link.Root) == 0 {
		return nil, errors.New("client: a signaling URL and a link are required")
	}
	if cfg.MaxPeers == 0 {
		cfg.MaxPeers = 4
	}
	if cfg.HashCache == 0 {
		cfg.HashCache = 2 << 20
	}
	if cfg.StorageKind == "" {
		cfg.StorageKind = "memory"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Link.ChunkSize == 0 {
		cfg.Link.ChunkSize = 1024
	}
	c := &Client{cfg: cfg, log: cfg.Logger, connected: map[string]bool{}, roles: map[string]signaling.Role{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	st := cfg.Store
	if st == nil {
		st = store.NewMemory()
		c.ownSt = st
	}
	raw, err := st.Open(store.Info{SwarmID: cfg.Link.Root, HashFunc: cfg.Link.HashFunc, ChunkSize: cfg.Link.ChunkSize, Length: -1, Name: cfg.Link.Name})
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.sw = stream.Wrap(raw)
	c.restored = raw.NumVerified()
	if in := raw.Info(); in.Length >= 0 && c.restored == uint64(in.NumChunks()) && !cfg.Peer {
		c.offline = true
	}
	rc := cfg.RTC
	if rc.Logger == nil {
		rc.Logger = cfg.Logger
	}
	if !cfg.Peer {
		rc.Accept = func(string) bool { return false } // a leecher serves nobody
	}
	if c.offline {
		rc.ID, rc.Signaler = "offline", offlineSignaler{}
	} else if err := c.dial(ctx, &rc); err != nil {
		c.cleanup()
		return nil, err
	}
	c.phase("dialed")
	if c.rtc, err = rtc.New(rc); err != nil {
		c.cleanup()
		return nil, err
	}
	if cfg.Transport != nil && !c.offline {
		cfg.Transport(c.rtc)
	}
	if c.engine, err = swarm.New(swarm.Config{Conn: c.rtc, Logger: cfg.Logger, HashCache: cfg.HashCache}); err != nil {
		c.cleanup()
		return nil, err
	}
	mode := swarm.ModeLeech
	if cfg.Peer {
		mode = swarm.ModePeer
	}
	if c.s, err = c.engine.Add(swarm.SwarmConfig{Store: c.sw, Mode: mode}); err != nil {
		c.cleanup()
		return nil, err
	}
	c.phase("engine")
	c.run(func() { c.rtc.Run(c.ctx) })
	c.run(func() { c.engine.Run(c.ctx) })
	if c.sig != nil {
		if err := c.sig.Join(hex.EncodeToString(cfg.Link.Root)); err != nil {
			c.cleanup()
			return nil, err
		}
	}
	if !cfg.Peer {
		c.run(c.quietWhenDone)
	}
	return c, nil
}

func (c *Client) phase(name string) {
	if c.cfg.Phase != nil {
		c.cfg.Phase(name)
	}
}

// dial opens the signaling session and points rc at it.
func (c *Client) dial(ctx context.Context, rc *rtc.Config) error {
	cfg := c.cfg
	sc := cfg.Signal
	sc.Role = signaling.RoleLeecher
	if cfg.Peer {
		sc.Role = signaling.RolePeer
	}
	if sc.Logger == nil {
		sc.Logger = cfg.Logger
	}
	var err error
	if c.sig, err = signaling.Dial(ctx, cfg.SignalURL, sc); err != nil {
		return fmt.Errorf("client: signaling: %w", err)
	}
	rc.ID, rc.Signaler = c.sig.ID(), &rtc.ClientSignaler{Client: c.sig, Other: c.onSignal}
	return nil
}

func (c *Client) run(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// onSignal connects to the listed peers (the broker lists gateways
// first), up to MaxPeers. It runs on the signaling reader: no waiting.
func (c *Client) onSignal(m signaling.Message) {
	if m.Type == signaling.TypeError {
		c.log.Warn("signaling error", "code", m.Code, "message", m.Reason)
		return
	}
	peers := m.ListedPeers()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.quiet || c.s == nil {
		return
	}
	for _, p := range peers {
		if len(c.connected) >= c.cfg.MaxPeers {
			return
		}
		if c.connected[p.ID] || p.ID == c.sig.ID() {
			continue
		}
		c.connected[p.ID] = true
		c.roles[p.ID] = p.Role
		c.s.Connect(rtc.Addr{ID: p.ID})
	}
}

// quietWhenDone closes every connection and the signaling session once
// the content is complete (a leecher has nothing more to do or give).
func (c *Client) quietWhenDone() {
	select {
	case <-c.ctx.Done():
		return
	case <-c.s.Done():
	}
	c.mu.Lock()
	c.quiet = true
	c.mu.Unlock()
	c.sw.Flush()
	// The engine closes its channels (after its last ACK) on completion;
	// give it a moment to send them, then end the network side.
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
		return
	case <-t.C:
	}
	c.rtc.Close()
	if c.sig != nil {
		c.sig.Close()
	}
}

// PeerStatus is one peer as the page shows it.
type PeerStatus struct {
	ID         string         `json:"id"`
	Kind       signaling.Role `json:"kind"` // gateway, booster or peer
	Open       bool           `json:"open"`
	Seeder     bool           `json:"seeder"`     // holds a full copy
	Downloaded uint64         `json:"downloaded"` // verified content bytes from it
	Uploaded   uint64         `json:"uploaded"`   // content bytes sent to it
}

// Status is a snapshot of the client for the page.
type Status struct {
	Length   int64        `json:"length"` // -1 until proved
	Have     uint64       `json:"have"`   // verified chunks
	Total    uint64       `json:"total"`  // chunks, 0 until the length is proved
	Verified [][2]uint64  `json:"verified"`
	Peers    []PeerStatus `json:"peers"`
	// FromGateway and FromPeers split the verified bytes by who sent them.
	FromGateway uint64 `json:"fromGateway"`
	FromPeers   uint64 `json:"fromPeers"`
	Uploaded    uint64 `json:"uploaded"`  // content bytes sent (0 for a leecher)
	BytesSent   uint64 `json:"bytesSent"` // every byte sent on data channels
	BytesRecv   uint64 `json:"bytesRecv"`
	MsgsSent    uint64 `json:"msgsSent"` // data channel messages sent
	// Early counts the connections the page opened while the module
	// compiled and the client took over (Config.Transport).
	Early uint64 `json:"early"`
	// DropsRecv counts messages the transport dropped (receive queue
	// full); Retransmits the engine's re-requests: signs of a slow tab.
	DropsRecv   uint64 `json:"dropsRecv"`
	Retransmits uint64 `json:"retransmits"`
	// PeersDropped counts peers closed for failing verification (a chunk
	// or hash that did not verify: never stored nor played) or the protocol.
	PeersDropped uint64 `json:"peersDropped"`
	Done         bool   `json:"done"`
	Error        string `json:"error,omitempty"` // why the download stopped, when it failed (storage full, say)
	Quiet        bool   `json:"quiet"`           // network side closed
	// Storage is where the chunks live ("opfs", "indexeddb", "memory");
	// Restored the chunks found there at the start, re-verified as read;
	// Offline that they were all of them, so no network was used.
	Storage  string `json:"storage"`
	Restored uint64 `json:"restored"`
	Offline  bool   `json:"offline"`
}

// Status reports progress, peers and byte counts; cells bounds the
// verified ranges (a bar of that many cells).
func (c *Client) Status(cells int) Status {
	st := Status{Length: -1, Verified: [][2]uint64{}, Peers: []PeerStatus{}}
	if n, ok := c.s.Length(); ok {
		st.Length = n
	}
	st.Have, st.Total = c.s.Progress()
	if st.Length >= 0 {
		st.Verified = stream.Coarsen(c.sw.Verified(), st.Total, cells)
	}
	ss := c.s.Stats()
	st.Uploaded = ss.BytesUploaded
	ts := c.rtc.Stats()
	st.BytesSent, st.BytesRecv, st.MsgsSent, st.DropsRecv, st.Early = ts.BytesSent, ts.BytesRecv, ts.MsgsSent, ts.DropsRecv, ts.Adopted
	st.Retransmits = ss.Retransmits
	st.PeersDropped = ss.PeersDropped
	st.Storage, st.Restored, st.Offline = c.cfg.StorageKind, c.restored, c.offline
	select {
	case <-c.s.Done():
		if err := c.s.Err(); err != nil {
			st.Error = err.Error()
		} else {
			st.Done = true
		}
	default:
	}
	c.mu.Lock()
	st.Quiet = c.quiet
	roles := make(map[string]signaling.Role, len(c.roles))
	for id, r := range c.roles {
		roles[id] = r
	}
	c.mu.Unlock()
	for _, p := range c.s.Peers() {
		id := p.Addr.String()
		ps := PeerStatus{ID: id, Kind: roles[id], Open: p.Open, Seeder: p.Seeder, Downloaded: p.Downloaded, Uploaded: p.Uploaded}
		if ps.Kind == "" {
			ps.Kind = signaling.RolePeer // it dialled us
		}
		st.Peers = append(st.Peers, ps)
	}
	for id, n := range c.s.DownloadedFrom() {
		kind := roles[id]
		if kind == signaling.RoleGateway {
			st.FromGateway += n
		} else {
			st.FromPeers += n
		}
	}
	return st
}

// Swarm is the engine's swarm (progress, peers, stats).
func (c *Client) Swarm() *swarm.Swarm { return c.s }

// Done is closed when every chunk is verified and stored.
func (c *Client) Done() <-chan struct{} { return c.s.Done() }

// Hold limits fetching to the window after the playhead while on (until
// the player shows its first frame, say); off fetches the whole content.
func (c *Client) Hold(on bool) { c.s.SetHold(on) }

// HoldUntil narrows a hold (Hold) to the content's bytes before end: a
// player that knows what its next frame needs gets that, then a quiet
// tab while it decodes. 0 widens it to the hold window again.
func (c *Client) HoldUntil(end int64) {
	if end <= 0 {
		c.s.SetHoldEnd(0)
		return
	}
	cs := int64(c.cfg.Link.ChunkSize)
	c.s.SetHoldEnd(uint64((end + cs - 1) / cs))
}

// Offline reports whether the client found the whole content in its
// store at the start and so never touched the network.
func (c *Client) Offline() bool { return c.offline }

// Quiet reports whether the client has closed its network side.
func (c *Client) Quiet() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.quiet
}

// Transport is the client's WebRTC transport (for its counters).
func (c *Client) Transport() *rtc.Transport { return c.rtc }

// Signaling is the client's signaling session.
func (c *Client) Signaling() *signaling.Client { return c.sig }

// Reader waits (at most timeout) for the content's size to be proved and
// returns a reader of the verified content; seeking moves the playhead.
func (c *Client) Reader(ctx context.Context, timeout time.Duration) (*stream.Reader, error) {
	n, err := stream.WaitLength(ctx, c.sw, c.s, timeout)
	if err != nil {
		return nil, err
	}
	return stream.NewReader(ctx, c.sw, c.s, n, timeout), nil
}

// Close leaves the swarm and closes everything the client opened.
func (c *Client) Close() error {
	c.cleanup()
	return nil
}

func (c *Client) cleanup() {
	c.cancel()
	if c.s != nil {
		c.s.Close()
	}
	if c.rtc != nil {
		c.rtc.Close()
	}
	if c.sig != nil {
		c.sig.Close()
	}
	c.wg.Wait()
	if c.sw != nil {
		c.sw.Close()
	}
	if c.ownSt != nil {
		c.ownSt.Close()
	}
}
