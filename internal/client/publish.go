package client

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/swarmgate/swarmgate/internal/rtc"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/swarm"
	"github.com/swarmgate/swarmgate/signaling"
)

// PublishConfig configures a Publisher. Zero values pick the defaults.
type PublishConfig struct {
	// SignalURL is the gateway's signaling endpoint. Required.
	SignalURL string
	// Content is the complete, hashed content (swarm.Import, or a store
	// whose tree and chunks are all present). Required. The Publisher does
	// not close it.
	Content store.Swarm
	// Copies is how many boosters (the gateway's embedded one counts) must
	// hold a full copy before the content is safe to close. Default 1.
	Copies int
	// Poll is how often the publisher asks the broker for peers while not
	// safe: it never announces itself, it looks (reverse peer discovery,
	// thesis ch. 11 §IV-A). Default 3 s.
	Poll time.Duration
	// MaxPeers bounds the boosters connected to. Default 4.
	MaxPeers int
	// RTC configures the WebRTC transport; ID, Signaler and Accept are
	// filled in (a source accepts no connection: it connects out).
	RTC rtc.Config
	// Signal configures the signaling session; Role is filled in.
	Signal signaling.ClientConfig
	// Logger receives the publisher's logs. Default: discarded.
	Logger *slog.Logger
}

// Publisher is a source (a phone that publishes a video): it joins the
// swarm at the gateway as a source, which the broker never lists, asks for
// the boosters every Poll, connects out to them and uploads what they
// request, until Copies of them hold a full copy; then it is Safe and
// closes every connection, and the page may close.
type Publisher struct {
	cfg    PublishConfig
	log    *slog.Logger
	sig    *signaling.Client
	rtc    *rtc.Transport
	engine *swarm.Engine
	s      *swarm.Swarm
	root   string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	safe   chan struct{}

	mu        sync.Mutex
	connected map[string]signaling.Role
	holders   map[string]bool // boosters seen with a full copy
	quiet     bool
}

// PublishStatus is a snapshot of a Publisher for the page.
type PublishStatus struct {
	Length   int64        `json:"length"`
	Uploaded uint64       `json:"uploaded"` // content bytes sent
	Peers    []PeerStatus `json:"peers"`
	// Holders counts boosters seen holding a full copy; Safe is
	// Holders >= Copies.
	Holders int  `json:"holders"`
	Copies  int  `json:"copies"`
	Safe    bool `json:"safe"`
	Quiet   bool `json:"quiet"`
	// What the upload beyond one copy went on (the engine's counters).
	Served        uint64 `json:"served"` // DATA messages sent, retransmissions included
	Retransmits   uint64 `json:"retransmits"`
	Timeouts      uint64 `json:"timeouts"`
	Spurious      uint64 `json:"spurious"` // timeouts undone: the original was acknowledged after all
	TimeoutLosses uint64 `json:"timeoutLosses"`
	Nacks         uint64 `json:"nacks"`
	NackProbes    uint64 `json:"nackProbes"`
	// The data channels' own: datagrams dropped on a full send buffer,
	// and received ones dropped (bad or over the inbox's bound).
	DropsSend uint64 `json:"dropsSend"`
	DropsRecv uint64 `json:"dropsRecv"`
}

// Publish starts publishing cfg.Content through the gateway.
func Publish(ctx context.Context, cfg PublishConfig) (*Publisher, error) {
	if cfg.SignalURL == "" || cfg.Content == nil {
		return nil, errors.New("client: publish needs a signaling URL and the content")
	}
	info := cfg.Content.Info()
	if info.Length < 0 {
		return nil, errors.New("client: publish: the content's length is unknown")
	}
	if cfg.Copies <= 0 {
		cfg.Copies = 1
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 3 * time.Second
	}
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{cfg: cfg, log: cfg.Logger, root: hex.EncodeToString(info.SwarmID), safe: make(chan struct{}),
		connected: map[string]signaling.Role{}, holders: map[string]bool{}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	sc := cfg.Signal
	sc.Role = signaling.RoleSource
	if sc.Logger == nil {
		sc.Logger = cfg.Logger
	}
	var err error
	if p.sig, err = signaling.Dial(ctx, cfg.SignalURL, sc); err != nil {
		p.cleanup()
		return nil, fmt.Errorf("client: signaling: %w", err)
	}
	rc := cfg.RTC
	rc.ID, rc.Signaler = p.sig.ID(), &rtc.ClientSignaler{Client: p.sig, Other: p.onSignal}
	rc.Accept = func(string) bool { return false } // a source is never contacted
	if rc.Logger == nil {
		rc.Logger = cfg.Logger
	}
	if p.rtc, err = rtc.New(rc); err != nil {
		p.cleanup()
		return nil, err
	}
	if p.engine, err = swarm.New(swarm.Config{Conn: p.rtc, Logger: cfg.Logger}); err != nil {
		p.cleanup()
		return nil, err
	}
	if p.s, err = p.engine.Add(swarm.SwarmConfig{Store: cfg.Content, Mode: swarm.ModePeer, SuperSeed: true}); err != nil {
		p.cleanup()
		return nil, err
	}
	p.run(func() { p.rtc.Run(p.ctx) })
	p.run(func() { p.engine.Run(p.ctx) })
	if err := p.sig.Join(p.root); err != nil {
		p.cleanup()
		return nil, err
	}
	p.run(p.watch)
	return p, nil
}

func (p *Publisher) run(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// onSignal connects out to the boosters the broker lists (the gateway
// first), up to MaxPeers. It runs on the signaling reader: no waiting.
func (p *Publisher) onSignal(m signaling.Message) {
	if m.Type == signaling.TypeError {
		p.log.Warn("signaling error", "code", m.Code, "message", m.Reason)
		return
	}
	peers := m.ListedPeers()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.quiet || p.s == nil {
		return
	}
	for _, peer := range peers {
		if len(p.connected) >= p.cfg.MaxPeers {
			return
		}
		// Boosters keep copies; peer-mode browsers are watchers.
		if peer.Role != signaling.RoleGateway && peer.Role != signaling.RoleBooster {
			continue
		}
		if _, ok := p.connected[peer.ID]; ok || peer.ID == p.sig.ID() {
			continue
		}
		p.connected[peer.ID] = peer.Role
		p.s.Connect(rtc.Addr{ID: peer.ID})
	}
}

// watch asks for peers every Poll and counts the boosters that hold a
// full copy; at Copies it is safe, and it closes the network side.
func (p *Publisher) watch() {
	poll := time.NewTicker(p.cfg.Poll)
	defer poll.Stop()
	check := time.NewTicker(100 * time.Millisecond)
	defer check.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-poll.C:
			p.sig.RequestPeers(p.root)
		case <-check.C:
			if p.countHolders() < p.cfg.Copies {
				continue
			}
			p.mu.Lock()
			p.quiet = true
			p.mu.Unlock()
			close(p.safe)
			p.log.Info("published: safe to close", "swarm", p.root, "holders", p.cfg.Copies)
			// The last ACKs are in; say goodbye (explicit close) and end.
			p.s.Close()
			t := time.NewTimer(200 * time.Millisecond)
			select {
			case <-p.ctx.Done():
			case <-t.C:
			}
			t.Stop()
			p.rtc.Close()
			p.sig.Close()
			return
		}
	}
}

// countHolders counts the connected boosters that have every chunk, by
// their HAVE and ACK messages; a holder stays counted after it closes.
func (p *Publisher) countHolders() int {
	peers := p.s.Peers()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pi := range peers {
		a, ok := pi.Addr.(rtc.Addr)
		if !ok || !pi.Seeder {
			continue
		}
		if _, ok := p.connected[a.ID]; ok {
			p.holders[a.ID] = true
		}
	}
	return len(p.holders)
}

// Safe is closed once Copies boosters hold a full copy.
func (p *Publisher) Safe() <-chan struct{} { return p.safe }

// Status reports the upload and the boosters.
func (p *Publisher) Status() PublishStatus {
	holders := p.countHolders()
	es := p.s.Stats()
	st := PublishStatus{Length: p.cfg.Content.Info().Length, Uploaded: es.BytesUploaded, Peers: []PeerStatus{},
		Holders: holders, Copies: p.cfg.Copies, Safe: holders >= p.cfg.Copies,
		Served: es.ChunksServed, Retransmits: es.Retransmits, Timeouts: es.Timeouts, Spurious: es.SpuriousTimeouts,
		TimeoutLosses: es.TimeoutLosses, Nacks: es.Nacks, NackProbes: es.NackProbes}
	if p.rtc != nil {
		ts := p.rtc.Stats()
		st.DropsSend, st.DropsRecv = ts.DropsSendBuffer, ts.DropsRecv
	}
	p.mu.Lock()
	st.Quiet = p.quiet
	roles := make(map[string]signaling.Role, len(p.connected))
	for id, r := range p.connected {
		roles[id] = r
	}
	p.mu.Unlock()
	for _, pi := range p.s.Peers() {
		a, ok := pi.Addr.(rtc.Addr)
		if !ok {
			continue
		}
		st.Peers = append(st.Peers, PeerStatus{ID: a.ID, Kind: roles[a.ID], Open: pi.Open, Seeder: pi.Seeder, Uploaded: pi.Uploaded})
	}
	return st
}

// SwarmStats are the publisher's engine counters (retransmissions,
// timeouts): what its upload beyond one copy went on.
func (p *Publisher) SwarmStats() swarm.SwarmStats { return p.s.Stats() }

// Transport is the publisher's WebRTC transport (byte counters).
func (p *Publisher) Transport() *rtc.Transport { return p.rtc }

// Close stops publishing and closes everything Publish opened (not the
// content).
func (p *Publisher) Close() error {
	p.cleanup()
	return nil
}

func (p *Publisher) cleanup() {
	p.cancel()
	if p.s != nil {
		p.s.Close()
	}
	if p.rtc != nil {
		p.rtc.Close()
	}
	if p.sig != nil {
		p.sig.Close()
	}
	p.wg.Wait()
}
