package rtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Transport is a net.PacketConn over WebRTC data channels whose addresses
// are peer IDs (Addr). Writing to a peer without a connection dials it
// through the Signaler; datagrams wait (bounded) until its channel opens.
// Run must be running for connections to be set up and timed out.
type Transport struct {
	cfg  Config
	log  *slog.Logger
	self Addr
	fac  *connFactory

	own *inbox                // our inbox
	in  atomic.Pointer[inbox] // where messages go: own, or a Mux's

	mu       sync.Mutex
	peers    map[string]*peer
	redial   map[string]time.Time // peer ID -> no dial before
	closed   bool
	closedCh chan struct{}
	live     sync.WaitGroup // one per peer until its connection is closed

	tasks tasks
	stats stats
}

var (
	_ net.PacketConn = (*Transport)(nil)
)

// New returns a Transport. Call Run to drive it.
func New(cfg Config) (*Transport, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	fac, err := newConnFactory(&cfg)
	if err != nil {
		return nil, err
	}
	t := &Transport{
		cfg: cfg, log: cfg.Logger, self: Addr{ID: cfg.ID}, fac: fac,
		own:      newInbox(cfg.RecvBuffer),
		peers:    make(map[string]*peer),
		redial:   make(map[string]time.Time),
		closedCh: make(chan struct{}),
		tasks:    tasks{wake: make(chan struct{}, 1)},
	}
	t.in.Store(t.own)
	return t, nil
}

// Stats are the transport's counters.
type Stats struct {
	Dials, Accepts  uint64 // connections we offered / answered
	Adopted         uint64 // of the dials, connections set up outside and handed over (AdoptBrowser)
	Opened          uint64 // data channels that opened
	SetupFailed     uint64 // connections that never opened (timeout, ICE, signaling)
	IdleClosed      uint64 // open connections closed for silence
	Closed          uint64 // connections closed for any reason
	Open            int    // connections open or being set up now
	MsgsSent        uint64
	MsgsRecv        uint64
	BytesSent       uint64
	BytesRecv       uint64
	DropsSendBuffer uint64 // datagrams dropped: data channel send buffer full
	DropsPending    uint64 // datagrams dropped: connecting, pending queue full, or no dial allowed
	DropsRecv       uint64 // messages dropped: receive queue full, text or empty
	SignalsDropped  uint64 // signals ignored: unknown peer, wrong state, oversized, refused
}

type stats struct {
	dials, accepts, adopted, opened, setupFailed, idleClosed, closed atomic.Uint64
	msgsSent, msgsRecv, bytesSent, bytesRecv                         atomic.Uint64
	dropsSend, dropsPending, dropsRecv, signalsDropped               atomic.Uint64
}

// Stats returns the counters.
func (t *Transport) Stats() Stats {
	s := &t.stats
	t.mu.Lock()
	open := len(t.peers)
	t.mu.Unlock()
	return Stats{
		Dials: s.dials.Load(), Accepts: s.accepts.Load(), Adopted: s.adopted.Load(), Opened: s.opened.Load(),
		SetupFailed: s.setupFailed.Load(), IdleClosed: s.idleClosed.Load(), Closed: s.closed.Load(),
		Open: open, MsgsSent: s.msgsSent.Load(), MsgsRecv: s.msgsRecv.Load(),
		BytesSent: s.bytesSent.Load(), BytesRecv: s.bytesRecv.Load(),
		DropsSendBuffer: s.dropsSend.Load(), DropsPending: s.dropsPending.Load(),
		DropsRecv: s.dropsRecv.Load(), SignalsDropped: s.signalsDropped.Load(),
	}
}

// ReadFrom returns the next datagram and the Addr of the peer that sent
// it. A Transport joined to a Mux delivers to the Mux instead.
func (t *Transport) ReadFrom(b []byte) (int, net.Addr, error) { return t.own.read(b) }

// WriteTo sends b as one message to the peer addr (an Addr). It never
// blocks: without an open data channel b is queued while the connection is
// set up, and datagrams the transport cannot take are dropped, like UDP's.
func (t *Transport) WriteTo(b []byte, addr net.Addr) (int, error) {
	a, ok := asAddr(addr)
	if !ok {
		return 0, fmt.Errorf("rtc: %v is not a WebRTC address", addr)
	}
	if len(b) > t.cfg.MaxMessage {
		return 0, fmt.Errorf("rtc: datagram of %d bytes exceeds %d", len(b), t.cfg.MaxMessage)
	}
	if a.ID == "" || len(a.ID) > maxPeerID || a.ID == t.self.ID {
		return 0, fmt.Errorf("rtc: bad peer ID %q", a.ID)
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return 0, net.ErrClosed
	}
	p := t.peers[a.ID]
	if p == nil {
		if until, ok := t.redial[a.ID]; (ok && t.cfg.Now().Before(until)) || len(t.peers) >= t.cfg.MaxPeers {
			t.mu.Unlock()
			t.stats.dropsPending.Add(1)
			return len(b), nil
		}
		p = t.addPeerLocked(a.ID, true)
		t.tasks.push(func(ctx context.Context) { t.dial(ctx, p) })
	}
	t.mu.Unlock()
	t.write(p, b)
	return len(b), nil
}

// write sends b to p, or queues it while p connects.
func (t *Transport) write(p *peer, b []byte) {
	if p.state.Load() == stateOpen {
		p.mu.Lock()
		c := p.c
		p.mu.Unlock()
		t.send(c, b)
		return
	}
	p.mu.Lock()
	if p.state.Load() == stateConnecting && p.queued+len(b) <= t.cfg.PendingBuffer {
		p.queue = append(p.queue, append([]byte(nil), b...))
		p.queued += len(b)
		p.mu.Unlock()
		return
	}
	open := p.state.Load() == stateOpen
	c := p.c
	p.mu.Unlock()
	if open {
		t.send(c, b)
		return
	}
	t.stats.dropsPending.Add(1)
}

// send writes one message on c's data channel unless its send buffer is
// full.
func (t *Transport) send(c conn, b []byte) {
	if c.buffered() > uint64(t.cfg.SendBuffer) {
		t.stats.dropsSend.Add(1)
		return
	}
	if err := c.send(b); err != nil {
		t.stats.dropsSend.Add(1)
		return
	}
	t.stats.msgsSent.Add(1)
	t.stats.bytesSent.Add(uint64(len(b)))
}

// Blocked implements swarm.PathBlocker: true while the data channel to
// addr holds so much that one more datagram of DatagramSize might not fit
// in SendBuffer (and would be dropped). A peer still connecting is not
// blocked: its datagrams queue up to PendingBuffer.
func (t *Transport) Blocked(addr net.Addr) bool {
	a, ok := asAddr(addr)
	if !ok {
		return false
	}
	t.mu.Lock()
	p := t.peers[a.ID]
	t.mu.Unlock()
	if p == nil || p.state.Load() != stateOpen {
		return false
	}
	p.mu.Lock()
	c := p.c
	p.mu.Unlock()
	return c != nil && c.buffered()+uint64(t.cfg.DatagramSize) > uint64(t.cfg.SendBuffer)
}

// LastResort implements swarm.LastResorter: the peers the Signaler knows
// to be gateways (ClientSignaler: listed with the gateway role) are asked
// only for what the other peers do not deliver.
func (t *Transport) LastResort(addr net.Addr) bool {
	a, ok := asAddr(addr)
	if !ok {
		return false
	}
	r, ok := t.cfg.Signaler.(interface{ LastResort(id string) bool })
	return ok && r.LastResort(a.ID)
}

// DatagramSize implements swarm.PathSizer: data-channel peers get
// Config.DatagramSize.
func (t *Transport) DatagramSize(addr net.Addr) int {
	if _, ok := asAddr(addr); ok {
		return t.cfg.DatagramSize
	}
	return 0
}

// LocalAddr is our own peer ID.
func (t *Transport) LocalAddr() net.Addr { return t.self }

// SetDeadline sets the read deadline (writes never block).
func (t *Transport) SetDeadline(d time.Time) error { return t.SetReadDeadline(d) }

// SetReadDeadline implements net.PacketConn.
func (t *Transport) SetReadDeadline(d time.Time) error { t.own.setDeadline(d); return nil }

// SetWriteDeadline is a no-op: writes never block.
func (t *Transport) SetWriteDeadline(time.Time) error { return nil }

// Close closes every peer connection and waits until pion has released
// them. ReadFrom and WriteTo then return net.ErrClosed.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		t.live.Wait()
		return nil
	}
	t.closed = true
	close(t.closedCh)
	ps := make([]*peer, 0, len(t.peers))
	for _, p := range t.peers {
		ps = append(ps, p)
	}
	t.mu.Unlock()
	for _, p := range ps {
		t.closePeer(p, "transport closed", false)
	}
	t.live.Wait()
	t.own.close()
	return nil
}

// Run sets up and answers connections through the Signaler and times out
// failed and idle ones, until ctx is done, Close is called or the
// Signaler's Recv fails. It closes the Transport before it returns.
func (t *Transport) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recvErr := make(chan error, 1)
	go func() {
		for {
			from, s, err := t.cfg.Signaler.Recv(ctx)
			if err != nil {
				recvErr <- err
				return
			}
			t.tasks.push(func(ctx context.Context) { t.onSignal(ctx, from, s) })
		}
	}()
	period := min(t.cfg.SetupTimeout, t.cfg.IdleTimeout) / 4
	tick := time.NewTicker(min(max(period, 10*time.Millisecond), time.Second))
	defer tick.Stop()
	var err error
	gotRecv := false
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.closedCh:
			break loop
		case e := <-recvErr:
			gotRecv = true
			if ctx.Err() == nil {
				err = fmt.Errorf("rtc: signaling: %w", e)
			}
			break loop
		case <-t.tasks.wake:
			for _, f := range t.tasks.take() {
				f(ctx)
			}
		case <-tick.C:
			t.housekeep()
		}
	}
	cancel()
	t.Close()
	if !gotRecv {
		<-recvErr
	}
	return err
}

// addPeerLocked registers a new peer (t.mu held, not closed).
func (t *Transport) addPeerLocked(id string, offerer bool) *peer {
	p := newPeer(id, offerer, t.cfg.Now())
	t.peers[id] = p
	t.live.Add(1)
	if offerer {
		t.stats.dials.Add(1)
	} else {
		t.stats.accepts.Add(1)
	}
	return p
}

// closePeer closes p once: it leaves the map, its queue is freed and its
// connection closed in the background. With failed, the peer is not dialled
// again for RedialDelay.
func (t *Transport) closePeer(p *peer, reason string, failed bool) {
	p.mu.Lock()
	prev := p.state.Swap(stateClosed)
	if prev == stateClosed {
		p.mu.Unlock()
		return
	}
	c := p.c
	p.queue, p.queued, p.cands = nil, 0, nil
	p.mu.Unlock()
	t.mu.Lock()
	if t.peers[p.id] == p {
		delete(t.peers, p.id)
	}
	if failed && p.offerer && !t.closed {
		if len(t.redial) >= 4*t.cfg.MaxPeers {
			clear(t.redial)
		}
		t.redial[p.id] = t.cfg.Now().Add(t.cfg.RedialDelay)
	}
	t.mu.Unlock()
	t.stats.closed.Add(1)
	if prev == stateConnecting {
		t.stats.setupFailed.Add(1)
	}
	t.log.Debug("peer connection closed", "peer", p.id, "reason", reason, "was", map[int32]string{stateConnecting: "connecting", stateOpen: "open"}[prev])
	if c == nil {
		t.live.Done()
		return
	}
	go func() {
		defer t.live.Done()
		if err := c.close(); err != nil {
			t.log.Debug("close peer connection", "peer", p.id, "err", err)
		}
	}()
}

// housekeep closes connections that took too long to open or went silent.
func (t *Transport) housekeep() {
	now := t.cfg.Now()
	t.mu.Lock()
	ps := make([]*peer, 0, len(t.peers))
	for _, p := range t.peers {
		ps = append(ps, p)
	}
	for id, until := range t.redial {
		if !now.Before(until) {
			delete(t.redial, id)
		}
	}
	t.mu.Unlock()
	for _, p := range ps {
		switch p.state.Load() {
		case stateConnecting:
			if now.Sub(p.created) > t.cfg.SetupTimeout {
				t.closePeer(p, "setup timeout", true)
			}
		case stateOpen:
			if now.Sub(time.Unix(0, p.lastRecv.Load())) > t.cfg.IdleTimeout {
				t.stats.idleClosed.Add(1)
				t.closePeer(p, "idle", false)
			}
		}
	}
}

// newPC creates p's peer connection and data channel and wires their
// events. It runs on the Run goroutine.
func (t *Transport) newPC(p *peer) error {
	c, err := t.fac.newConn(t.events(p))
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.state.Load() == stateClosed {
		p.mu.Unlock()
		c.close()
		return errors.New("rtc: peer closed during setup")
	}
	p.c = c
	p.mu.Unlock()
	return nil
}

// adopt takes over a connection to peer id that we offered and that was
// set up outside the transport (conn_js.go: the one load.js opened while
// the module compiled): mk wires it to p's events. remote tells whether
// the answer is applied; open whether the data channel is open (if not,
// its opening is reported as usual). It fails if the peer is known.
func (t *Transport) adopt(id string, mk func(connEvents) (conn, error), remote, open bool) error {
	if id == "" || len(id) > maxPeerID || id == t.self.ID {
		return fmt.Errorf("rtc: bad peer ID %q", id)
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return net.ErrClosed
	}
	if t.peers[id] != nil || len(t.peers) >= t.cfg.MaxPeers {
		t.mu.Unlock()
		return fmt.Errorf("rtc: peer %q already connected, or too many peers", id)
	}
	p := t.addPeerLocked(id, true)
	t.stats.adopted.Add(1)
	t.mu.Unlock()
	c, err := mk(t.events(p))
	if err != nil {
		t.closePeer(p, "adopt: "+err.Error(), false)
		return err
	}
	p.mu.Lock()
	p.c, p.remoteSet = c, remote
	p.mu.Unlock()
	if open {
		t.opened(p)
	}
	return nil
}

// events are p's connection's reports, handed to the transport.
func (t *Transport) events(p *peer) connEvents {
	return connEvents{
		candidate: func(s Signal) {
			if p.state.Load() == stateClosed {
				return
			}
			t.tasks.push(func(ctx context.Context) {
				if p.state.Load() != stateClosed {
					t.signal(ctx, p, s)
				}
			})
		},
		failed: func() { t.closePeer(p, "connection failed", true) },
		closed: func(reason string) { t.closePeer(p, reason, false) },
		open:   func() { t.opened(p) },
		// Never block here: pion runs it on its SCTP reader, the browser
		// on its event loop.
		message: func(b []byte, isString bool) {
			if p.state.Load() == stateClosed {
				return
			}
			if isString || len(b) == 0 || len(b) > t.cfg.MaxMessage {
				t.stats.dropsRecv.Add(1)
				return
			}
			p.lastRecv.Store(t.cfg.Now().UnixNano())
			if !t.in.Load().push(b, p.addr) {
				t.stats.dropsRecv.Add(1)
				return
			}
			t.stats.msgsRecv.Add(1)
			t.stats.bytesRecv.Add(uint64(len(b)))
		},
	}
}

// opened moves p to open and sends what waited.
func (t *Transport) opened(p *peer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.state.CompareAndSwap(stateConnecting, stateOpen) {
		return
	}
	p.lastRecv.Store(t.cfg.Now().UnixNano())
	t.stats.opened.Add(1)
	for _, b := range p.queue {
		t.send(p.c, b)
	}
	p.queue, p.queued = nil, 0
	t.log.Debug("peer connection open", "peer", p.id, "offerer", p.offerer)
}

// dial offers a connection to p.
func (t *Transport) dial(ctx context.Context, p *peer) {
	if p.state.Load() == stateClosed {
		return
	}
	if err := t.newPC(p); err != nil {
		t.closePeer(p, err.Error(), true)
		return
	}
	offer, err := p.c.offer()
	if err != nil {
		t.closePeer(p, "offer: "+err.Error(), true)
		return
	}
	t.signal(ctx, p, Signal{Kind: Offer, SDP: offer})
}

// signal sends s to p; a failure closes p.
func (t *Transport) signal(ctx context.Context, p *peer, s Signal) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.SignalTimeout)
	defer cancel()
	if err := t.cfg.Signaler.Send(ctx, p.id, s); err != nil {
		t.closePeer(p, "signaling "+s.Kind.String()+": "+err.Error(), true)
	}
}

// onSignal handles one Signal from a remote peer: hostile input.
func (t *Transport) onSignal(ctx context.Context, from string, s Signal) {
	if from == "" || len(from) > maxPeerID || from == t.self.ID {
		t.stats.signalsDropped.Add(1)
		return
	}
	switch s.Kind {
	case Offer:
		t.onOffer(ctx, from, s.SDP)
	case Answer:
		t.onAnswer(from, s.SDP)
	case Candidate:
		t.onCandidate(from, s)
	default:
		t.stats.signalsDropped.Add(1)
	}
}

func (t *Transport) onOffer(ctx context.Context, from, sdp string) {
	if len(sdp) == 0 || len(sdp) > maxSDP {
		t.stats.signalsDropped.Add(1)
		return
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	old := t.peers[from]
	if old != nil && old.offerer && old.state.Load() == stateConnecting && !old.hasRemote() && t.self.ID < from {
		// Glare: both offered; the smaller ID's offer wins, and it is ours.
		t.mu.Unlock()
		t.stats.signalsDropped.Add(1)
		return
	}
	if old == nil && (len(t.peers) >= t.cfg.MaxPeers || (t.cfg.Accept != nil && !t.cfg.Accept(from))) {
		t.mu.Unlock()
		t.stats.signalsDropped.Add(1)
		return
	}
	// A new peer, or one that lost its connection (a fresh offer means it
	// has no other), or glare we yield: answer with a new connection and
	// keep what waited for the old one.
	p := t.addPeerLocked(from, false)
	t.mu.Unlock()
	if old != nil {
		old.mu.Lock()
		q, n := old.queue, old.queued
		old.queue, old.queued = nil, 0
		old.mu.Unlock()
		p.mu.Lock()
		if n+p.queued <= t.cfg.PendingBuffer {
			p.queue, p.queued = append(q, p.queue...), n+p.queued
		}
		p.mu.Unlock()
		t.closePeer(old, "replaced by a new offer", false)
	}
	if err := t.newPC(p); err != nil {
		t.closePeer(p, err.Error(), false)
		return
	}
	answer, err := p.c.answer(sdp)
	if err != nil {
		t.closePeer(p, err.Error(), false)
		return
	}
	t.remoteSet(p)
	t.signal(ctx, p, Signal{Kind: Answer, SDP: answer})
}

func (t *Transport) onAnswer(from, sdp string) {
	p := t.peer(from)
	if p == nil || !p.offerer || p.state.Load() != stateConnecting || p.hasRemote() || p.c == nil ||
		len(sdp) == 0 || len(sdp) > maxSDP {
		t.stats.signalsDropped.Add(1)
		return
	}
	if err := p.c.setAnswer(sdp); err != nil {
		t.closePeer(p, "bad answer: "+err.Error(), true)
		return
	}
	t.remoteSet(p)
}

func (t *Transport) onCandidate(from string, s Signal) {
	p := t.peer(from)
	if p == nil || p.state.Load() == stateClosed || len(s.Candidate) == 0 || len(s.Candidate) > maxCandidate || len(s.SDPMid) > 64 {
		t.stats.signalsDropped.Add(1)
		return
	}
	p.mu.Lock()
	if !p.remoteSet {
		if len(p.cands) < maxPendingCand {
			p.cands = append(p.cands, s)
		} else {
			t.stats.signalsDropped.Add(1)
		}
		p.mu.Unlock()
		return
	}
	c := p.c
	p.mu.Unlock()
	if err := c.addCandidate(s); err != nil {
		t.stats.signalsDropped.Add(1)
		t.log.Debug("bad candidate", "peer", from, "err", err)
	}
}

// remoteSet marks p's remote description applied and adds the candidates
// that came before it.
func (t *Transport) remoteSet(p *peer) {
	p.mu.Lock()
	p.remoteSet = true
	cs := p.cands
	p.cands = nil
	c := p.c
	p.mu.Unlock()
	for _, s := range cs {
		if err := c.addCandidate(s); err != nil {
			t.stats.signalsDropped.Add(1)
		}
	}
}

func (p *peer) hasRemote() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.remoteSet
}

func (t *Transport) peer(id string) *peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.peers[id]
}

// tasks is the Run goroutine's work queue: pushed from anywhere without
// blocking (pion and js callbacks), run in order.
type tasks struct {
	mu   sync.Mutex
	q    []func(context.Context)
	wake chan struct{}
}

// maxTasks bounds the queue; beyond it work is dropped (and the connections
// it concerned time out).
const maxTasks = 65536

func (q *tasks) push(f func(context.Context)) {
	q.mu.Lock()
	if len(q.q) < maxTasks {
		q.q = append(q.q, f)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *tasks) take() []func(context.Context) {
	q.mu.Lock()
	defer q.mu.Unlock()
	fs := q.q
	q.q = nil
	return fs
}
