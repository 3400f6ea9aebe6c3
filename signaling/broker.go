package signaling

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	xrate "golang.org/x/time/rate"
)

// Config configures a Broker. The zero value works.
type Config struct {
	// Limits bound sessions, messages and swarms; zero fields take their
	// defaults (see Limits).
	Limits Limits
	// Logger receives per-session debug events. Default: discard.
	Logger *slog.Logger
	// Now is the clock of the rate limiters. Default time.Now.
	Now func() time.Time
	// Rand is the source of assigned peer IDs. Default crypto/rand.
	Rand io.Reader
	// OnJoin, when set, is called after an untrusted session joins a swarm
	// (not on a repeated join), outside the broker's lock: the gateway's
	// policy hook to join the swarm too. It must not block.
	OnJoin func(swarm string, role Role)
}

// SessionOptions describe one session to Serve.
type SessionOptions struct {
	// RemoteIP is the client's address, counted against MaxSessionsPerIP
	// (IPv6 by /64). Empty: not counted (in-process sessions).
	RemoteIP string
	// Trusted marks the gateway's own session: it may take the gateway
	// role and is exempt from the message rate and swarms-per-session limits.
	Trusted bool
}

// Errors Serve returns when it refuses a session.
var (
	ErrFull     = errors.New("signaling: too many sessions")
	ErrIPLimit  = errors.New("signaling: too many sessions from this address")
	ErrShutdown = errors.New("signaling: broker closed")
)

// Broker relays signaling between sessions in rooms, one room per swarm
// (docs/signaling.md). All room and session state has one owner: the
// broker's lock. A session's outgoing messages wait in a bounded queue that
// a short-lived writer goroutine drains, so no session can stall another.
type Broker struct {
	lim   Limits
	log   *slog.Logger
	now   func() time.Time
	rand  io.Reader
	serve sync.WaitGroup
	// onJoin is Config.OnJoin.
	onJoin func(swarm string, role Role)

	mu       sync.Mutex
	closed   bool
	total    int
	perIP    map[string]int
	all      map[*session]struct{} // every session being served
	sessions map[string]*session   // sessions past hello, by peer ID
	rooms    map[string]*room

	relayed, refused atomic.Uint64
}

// room is a swarm's members. reachable ⊆ members holds the listed roles,
// gateways ⊆ reachable the gateways (listed first), hungry ⊆ members the
// sessions told about fewer than PeersPerReply peers of the swarm.
type room struct {
	members, reachable, gateways, hungry map[*session]struct{}
}

// membership is one session's state in one swarm: whom it was told about
// and who was told about it, so that a leave reaches exactly those.
type membership struct {
	known, knownBy map[*session]struct{}
}

type session struct {
	b       *Broker
	conn    Conn
	ipKey   string
	trusted bool

	// Under b.mu.
	id     string
	role   Role
	swarms map[string]*membership

	// Reader goroutine only.
	rate, joins, errs *xrate.Limiter

	// Outgoing queue, under qmu.
	qmu     sync.Mutex
	queue   [][]byte
	writing bool // a flush goroutine runs
	closing bool // nothing more is queued
	drained bool // close the conn once the queue is empty
	writers sync.WaitGroup
}

// NewBroker returns a broker with cfg's limits.
func NewBroker(cfg Config) *Broker {
	b := &Broker{
		lim:      cfg.Limits.withDefaults(),
		log:      cfg.Logger,
		now:      cfg.Now,
		rand:     cfg.Rand,
		onJoin:   cfg.OnJoin,
		perIP:    map[string]int{},
		all:      map[*session]struct{}{},
		sessions: map[string]*session{},
		rooms:    map[string]*room{},
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.rand == nil {
		b.rand = rand.Reader
	}
	return b
}

// Limits returns the limits in force (defaults filled in).
func (b *Broker) Limits() Limits { return b.lim }

// Stats are the broker's counters, for metrics.
type Stats struct {
	Sessions int    // sessions being served (including those before hello)
	Swarms   int    // rooms with at least one member
	Relayed  uint64 // offers, answers and candidates delivered to a queue
	Refused  uint64 // messages answered with an error
}

// Stats returns the current counters.
func (b *Broker) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stats{Sessions: b.total, Swarms: len(b.rooms), Relayed: b.relayed.Load(), Refused: b.refused.Load()}
}

// Close stops accepting sessions, closes every session with a shutdown
// error and waits for them to end.
func (b *Broker) Close() error {
	b.mu.Lock()
	b.closed = true
	var all []*session
	for s := range b.all {
		all = append(all, s)
	}
	b.mu.Unlock()
	msg := encodeError(CodeShutdown, "the broker is stopping", "")
	for _, s := range all {
		s.send(msg)
		s.finish()
	}
	b.serve.Wait()
	return nil
}

// Serve runs one session over conn until the client leaves, breaks a
// rule that closes it, ctx ends or the broker closes. It closes conn. The
// error says why the session ended (nil when the client closed it).
func (b *Broker) Serve(ctx context.Context, conn Conn, opts SessionOptions) error {
	key := ipKey(opts.RemoteIP)
	if err := b.admit(key); err != nil {
		refuseConn(conn, err, b.lim.WriteTimeout)
		return err
	}
	return b.serveAdmitted(ctx, conn, opts.Trusted, key)
}

// admit counts a new session from ipKey, or refuses it.
func (b *Broker) admit(key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrShutdown
	case b.total >= b.lim.MaxSessions:
		return ErrFull
	case key != "" && b.perIP[key] >= b.lim.MaxSessionsPerIP:
		return ErrIPLimit
	}
	b.total++
	if key != "" {
		b.perIP[key]++
	}
	b.serve.Add(1)
	return nil
}

// release undoes admit.
func (b *Broker) release(key string) {
	b.mu.Lock()
	b.total--
	if key != "" {
		if b.perIP[key]--; b.perIP[key] <= 0 {
			delete(b.perIP, key)
		}
	}
	b.mu.Unlock()
	b.serve.Done()
}

// refuseConn tells a refused client why and closes its conn.
func refuseConn(conn Conn, err error, timeout time.Duration) {
	code := CodeFull
	switch err {
	case ErrIPLimit:
		code = CodeIPLimit
	case ErrShutdown:
		code = CodeShutdown
	}
	conn.SetWriteDeadline(time.Now().Add(timeout))
	conn.WriteMessage(encodeError(code, err.Error(), ""))
	conn.Close()
}

// errClose is a rule violation that ends a session after its error
// message is sent.
type errClose struct{ code, msg string }

func (e *errClose) Error() string { return "signaling: " + e.code + ": " + e.msg }

func (b *Broker) serveAdmitted(ctx context.Context, conn Conn, trusted bool, key string) (err error) {
	defer b.release(key)
	s := &session{
		b: b, conn: conn, ipKey: key, trusted: trusted,
		rate:  xrate.NewLimiter(xrate.Limit(b.lim.MessagesPerSecond), b.lim.MessageBurst),
		joins: xrate.NewLimiter(xrate.Limit(b.lim.JoinsPerSecond), 2*b.lim.MaxSwarmsPerSession),
		errs:  xrate.NewLimiter(xrate.Limit(float64(b.lim.MaxErrors)/60), b.lim.MaxErrors),
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		refuseConn(conn, ErrShutdown, b.lim.WriteTimeout)
		return ErrShutdown
	}
	b.all[s] = struct{}{}
	b.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		stop()
		b.drop(s)
		s.finish()
		s.writers.Wait()
		conn.Close()
		var ec *errClose
		if errors.As(err, &ec) {
			b.log.Debug("signaling: session closed", "id", s.id, "code", ec.code, "reason", ec.msg)
		}
	}()
	err = s.run(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ec *errClose
	if errors.As(err, &ec) {
		b.refused.Add(1)
		s.send(encodeError(ec.code, ec.msg, ""))
	}
	return err
}

// run reads and handles the session's messages.
func (s *session) run(ctx context.Context) error {
	b := s.b
	conn := s.conn
	conn.SetReadDeadline(time.Now().Add(b.lim.HelloTimeout))
	data, err := conn.ReadMessage()
	if err != nil {
		if isTimeout(err) && ctx.Err() == nil {
			return &errClose{CodeHelloTimeout, "no hello within " + b.lim.HelloTimeout.String()}
		}
		if errors.Is(err, ErrTooLarge) {
			return &errClose{CodeTooLarge, fmt.Sprintf("message over %d bytes", b.lim.MaxMessageBytes)}
		}
		return quietEnd(err)
	}
	if err := s.hello(data); err != nil {
		return err
	}
	for {
		conn.SetReadDeadline(time.Now().Add(b.lim.IdleTimeout))
		data, err := conn.ReadMessage()
		if err != nil {
			if isTimeout(err) && ctx.Err() == nil {
				return &errClose{CodeIdle, "silent for " + b.lim.IdleTimeout.String()}
			}
			if errors.Is(err, ErrTooLarge) {
				return &errClose{CodeTooLarge, fmt.Sprintf("message over %d bytes", b.lim.MaxMessageBytes)}
			}
			return quietEnd(err)
		}
		if len(data) > b.lim.MaxMessageBytes {
			return &errClose{CodeTooLarge, fmt.Sprintf("message of %d bytes, limit %d", len(data), b.lim.MaxMessageBytes)}
		}
		if !s.trusted && !s.rate.AllowN(b.now(), 1) {
			if err := s.refuse(CodeRateLimited, "over the message rate; message dropped", ""); err != nil {
				return err
			}
			continue
		}
		m, err := Decode(data)
		if err != nil {
			if err := s.refuse(CodeBadMessage, err.Error(), ""); err != nil {
				return err
			}
			continue
		}
		if m.V != 0 && m.V != Version {
			return &errClose{CodeVersion, fmt.Sprintf("protocol version %d, this broker speaks %d", m.V, Version)}
		}
		switch m.Type {
		case TypeJoin, TypeLeave, TypePeers:
			if !s.trusted && !s.joins.AllowN(b.now(), 1) {
				if err := s.refuse(CodeRateLimited, "over the join rate; message dropped", m.Type); err != nil {
					return err
				}
				continue
			}
		}
		if err := s.handle(m); err != nil {
			return err
		}
	}
}

// isTimeout reports whether err is a passed deadline.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// quietEnd turns a read error into Serve's result: nil for a client that
// went away or a conn closed by the broker.
func quietEnd(err error) error {
	if errors.Is(err, ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// refuse answers a refused message with an error; too many refusals
// close the session.
func (s *session) refuse(code, msg, ref string) error {
	s.b.refused.Add(1)
	if !s.errs.AllowN(s.b.now(), 1) {
		return &errClose{CodeTooManyErrors, "too many refused messages"}
	}
	s.send(encodeError(code, msg, ref))
	return nil
}

// hello handles the first message: role and peer ID.
func (s *session) hello(data []byte) error {
	b := s.b
	if len(data) > b.lim.MaxMessageBytes {
		return &errClose{CodeTooLarge, fmt.Sprintf("message of %d bytes, limit %d", len(data), b.lim.MaxMessageBytes)}
	}
	m, err := Decode(data)
	if err != nil {
		return &errClose{CodeBadMessage, err.Error()}
	}
	if m.Type != TypeHello {
		return &errClose{CodeHelloFirst, "the first message must be hello"}
	}
	if m.V != Version {
		return &errClose{CodeVersion, fmt.Sprintf("protocol version %d, this broker speaks %d", m.V, Version)}
	}
	if m.Role == RoleGateway && !s.trusted {
		return &errClose{CodeBadRole, "only the gateway's own session takes the gateway role"}
	}
	id := m.ID
	if id == "" {
		var raw [16]byte
		if _, err := io.ReadFull(b.rand, raw[:]); err != nil {
			return fmt.Errorf("signaling: peer ID: %w", err)
		}
		id = base64.RawURLEncoding.EncodeToString(raw[:])
	}
	b.mu.Lock()
	if _, taken := b.sessions[id]; taken {
		b.mu.Unlock()
		return &errClose{CodeIDTaken, "peer ID in use"}
	}
	s.id, s.role = id, m.Role
	b.sessions[id] = s
	b.mu.Unlock()
	w := Message{V: Version, Type: TypeWelcome, ID: id, Limits: &WelcomeLimits{
		MaxMessageBytes:     b.lim.MaxMessageBytes,
		MessagesPerSecond:   b.lim.MessagesPerSecond,
		MaxSwarmsPerSession: b.lim.MaxSwarmsPerSession,
		JoinsPerSecond:      b.lim.JoinsPerSecond,
		PeersPerReply:       b.lim.PeersPerReply,
		IdleMillis:          b.lim.IdleTimeout.Milliseconds(),
	}}
	s.send(mustEncode(w))
	return nil
}

// handle acts on one message after hello.
func (s *session) handle(m Message) error {
	switch m.Type {
	case TypeHello:
		return &errClose{CodeHelloFirst, "hello was already sent"}
	case TypePing:
		s.send(pongMsg)
		return nil
	case TypeJoin:
		return s.join(m.Swarm)
	case TypeLeave:
		b := s.b
		b.mu.Lock()
		ok := s.swarms[m.Swarm] != nil
		if ok {
			b.leave(s, m.Swarm)
		}
		b.mu.Unlock()
		if !ok {
			return s.refuse(CodeNotJoined, "not in this swarm", TypeLeave)
		}
		return nil
	case TypePeers:
		b := s.b
		b.mu.Lock()
		ok := s.swarms[m.Swarm] != nil
		if ok {
			b.refresh(s, m.Swarm)
		}
		b.mu.Unlock()
		if !ok {
			return s.refuse(CodeNotJoined, "not in this swarm", TypePeers)
		}
		return nil
	case TypeOffer, TypeAnswer, TypeCandidate:
		return s.relay(m)
	}
	return s.refuse(CodeBadMessage, "not a client message: "+m.Type, m.Type)
}

func (s *session) join(swarm string) error {
	b := s.b
	b.mu.Lock()
	if s.swarms[swarm] != nil { // a second join refreshes the list
		b.refresh(s, swarm)
		b.mu.Unlock()
		return nil
	}
	if !s.trusted && len(s.swarms) >= b.lim.MaxSwarmsPerSession {
		b.mu.Unlock()
		return s.refuse(CodeTooManySwarms, fmt.Sprintf("in %d swarms already", len(s.swarms)), TypeJoin)
	}
	r := b.rooms[swarm]
	if r == nil {
		r = &room{members: map[*session]struct{}{}, reachable: map[*session]struct{}{},
			gateways: map[*session]struct{}{}, hungry: map[*session]struct{}{}}
		b.rooms[swarm] = r
	}
	if s.swarms == nil {
		s.swarms = map[string]*membership{}
	}
	mem := &membership{known: map[*session]struct{}{}, knownBy: map[*session]struct{}{}}
	s.swarms[swarm] = mem
	r.members[s] = struct{}{}
	r.hungry[s] = struct{}{}
	b.topUp(r, swarm, s, false)
	b.sendList(s, swarm, mem)
	if s.role.Reachable() {
		r.reachable[s] = struct{}{}
		if s.role == RoleGateway {
			r.gateways[s] = struct{}{}
		}
		var note []byte
		told := 0
		for h := range r.hungry {
			if h == s {
				continue
			}
			if told >= b.lim.PeersPerReply {
				break // bounded fan-out: a join costs at most PeersPerReply notes
			}
			told++
			hm := h.swarms[swarm]
			if _, ok := hm.known[s]; ok {
				continue
			}
			hm.known[s] = struct{}{}
			mem.knownBy[h] = struct{}{}
			if note == nil {
				note = mustEncode(Message{Type: TypeJoined, Swarm: swarm, Peer: &PeerInfo{ID: s.id, Role: s.role}})
			}
			h.send(note)
			if len(hm.known) >= b.lim.PeersPerReply {
				delete(r.hungry, h)
			}
		}
	}
	b.mu.Unlock()
	if b.onJoin != nil && !s.trusted {
		b.onJoin(swarm, s.role)
	}
	return nil
}

// topUp tells s about reachable peers of the swarm it does not know yet,
// gateways first, until it knows PeersPerReply. With notify, each is sent
// as a joined message; otherwise the caller sends the list. Under b.mu.
func (b *Broker) topUp(r *room, swarm string, s *session, notify bool) {
	mem := s.swarms[swarm]
	add := func(p *session) bool {
		if len(mem.known) >= b.lim.PeersPerReply {
			return false
		}
		if _, ok := mem.known[p]; ok || p == s {
			return true
		}
		mem.known[p] = struct{}{}
		p.swarms[swarm].knownBy[s] = struct{}{}
		if notify {
			s.send(mustEncode(Message{Type: TypeJoined, Swarm: swarm, Peer: &PeerInfo{ID: p.id, Role: p.role}}))
		}
		return true
	}
	for p := range r.gateways {
		if !add(p) {
			break
		}
	}
	for p := range r.reachable {
		if !add(p) {
			break
		}
	}
	if len(mem.known) >= b.lim.PeersPerReply {
		delete(r.hungry, s)
	} else {
		r.hungry[s] = struct{}{}
	}
}

// sendList sends s the peers it knows in a swarm, gateways first. Under b.mu.
func (b *Broker) sendList(s *session, swarm string, mem *membership) {
	peers := make([]PeerInfo, 0, len(mem.known))
	for p := range mem.known {
		if p.role == RoleGateway {
			peers = append(peers, PeerInfo{ID: p.id, Role: p.role})
		}
	}
	for p := range mem.known {
		if p.role != RoleGateway {
			peers = append(peers, PeerInfo{ID: p.id, Role: p.role})
		}
	}
	s.send(mustEncode(Message{Type: TypePeers, Swarm: swarm, Peers: peers}))
}

// refresh replaces the peers s knows in a swarm by a fresh sample and
// sends the list. Under b.mu.
func (b *Broker) refresh(s *session, swarm string) {
	mem := s.swarms[swarm]
	for p := range mem.known {
		delete(p.swarms[swarm].knownBy, s)
	}
	clear(mem.known)
	b.topUp(b.rooms[swarm], swarm, s, false)
	b.sendList(s, swarm, mem)
}

// leave removes s from a swarm; sessions told about it hear it left and
// get a replacement. Under b.mu.
func (b *Broker) leave(s *session, swarm string) {
	mem := s.swarms[swarm]
	delete(s.swarms, swarm)
	r := b.rooms[swarm]
	delete(r.members, s)
	delete(r.reachable, s)
	delete(r.gateways, s)
	delete(r.hungry, s)
	for p := range mem.known {
		delete(p.swarms[swarm].knownBy, s)
	}
	if len(mem.knownBy) > 0 {
		note := mustEncode(Message{Type: TypeLeft, Swarm: swarm, Peer: &PeerInfo{ID: s.id, Role: s.role}})
		for x := range mem.knownBy {
			delete(x.swarms[swarm].known, s)
			x.send(note)
			b.topUp(r, swarm, x, true)
		}
	}
	if len(r.members) == 0 {
		delete(b.rooms, swarm)
	}
}

// drop removes an ending session from every swarm and map.
func (b *Broker) drop(s *session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for swarm := range s.swarms {
		b.leave(s, swarm)
	}
	if s.id != "" && b.sessions[s.id] == s {
		delete(b.sessions, s.id)
	}
	delete(b.all, s)
}

// relay forwards an offer, answer or candidate to the named peer if it
// shares a swarm with the sender (docs/signaling.md §Relay).
func (s *session) relay(m Message) error {
	b := s.b
	if m.To == "" {
		return s.refuse(CodeBadMessage, `relay without "to"`, m.Type)
	}
	if m.To == s.id {
		return s.refuse(CodeSelf, "addressed to oneself", m.Type)
	}
	// Encoded outside the lock (an SDP is up to MaxMessageBytes); s.id is
	// fixed since hello.
	out := mustEncode(Message{Type: m.Type, From: s.id, SDP: m.SDP, Candidate: m.Candidate})
	b.mu.Lock()
	t := b.sessions[m.To]
	shared := t != nil && sharesSwarm(s, t)
	reachable := t != nil && t.role.Reachable()
	if shared && (reachable || m.Type != TypeOffer) {
		t.send(out)
		b.relayed.Add(1)
	}
	b.mu.Unlock()
	switch {
	case !shared:
		return s.refuse(CodeUnknownPeer, "no such peer in your swarms", m.Type)
	case !reachable && m.Type == TypeOffer:
		return s.refuse(CodeNotReachable, "leechers and sources take no offers", m.Type)
	}
	return nil
}

// sharesSwarm reports whether a and b are in a common swarm. Under b.mu.
func sharesSwarm(a, b *session) bool {
	if len(a.swarms) > len(b.swarms) {
		a, b = b, a
	}
	for sw := range a.swarms {
		if b.swarms[sw] != nil {
			return true
		}
	}
	return false
}

// send queues an encoded message for the session. A session whose queue
// is full does not read: it is closed. Never blocks.
func (s *session) send(msg []byte) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closing || msg == nil {
		return
	}
	limit := s.b.lim.SendQueue
	if s.trusted {
		limit *= trustedQueueFactor // the gateway hears every browser's offer
	}
	if len(s.queue) >= limit {
		s.closing = true
		s.queue = nil
		s.conn.Close()
		return
	}
	s.queue = append(s.queue, msg)
	if !s.writing {
		s.writing = true
		s.writers.Add(1)
		go s.flush()
	}
}

// flush writes queued messages until the queue is empty, then exits.
func (s *session) flush() {
	defer s.writers.Done()
	for {
		s.qmu.Lock()
		if len(s.queue) == 0 {
			s.writing = false
			if s.drained {
				s.conn.Close()
			}
			s.qmu.Unlock()
			return
		}
		msg := s.queue[0]
		s.queue[0] = nil
		if s.queue = s.queue[1:]; len(s.queue) == 0 {
			s.queue = nil
		}
		s.qmu.Unlock()
		s.conn.SetWriteDeadline(time.Now().Add(s.b.lim.WriteTimeout))
		if err := s.conn.WriteMessage(msg); err != nil {
			s.qmu.Lock()
			s.closing = true
			s.queue = nil
			s.writing = false
			s.qmu.Unlock()
			s.conn.Close()
			return
		}
	}
}

// finish stops queueing and closes the conn once what is queued is
// written (at once when nothing is).
func (s *session) finish() {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	s.closing = true
	s.drained = true
	if !s.writing {
		s.conn.Close()
	}
}

// trustedQueueFactor multiplies SendQueue for the trusted (gateway)
// session, which receives an offer from every browser that joins.
const trustedQueueFactor = 64

var pongMsg = mustEncode(Message{Type: TypePong})

func encodeError(code, msg, ref string) []byte {
	return mustEncode(Message{Type: TypeError, Code: code, Reason: msg, Ref: ref})
}

// mustEncode marshals a message the broker built from validated parts;
// it cannot fail, and if it did the message is dropped (send ignores nil).
func mustEncode(m Message) []byte {
	b, err := Encode(m)
	if err != nil {
		return nil
	}
	return b
}

// ipKey is the per-address counting key: the IPv4 address, or the IPv6 /64.
func ipKey(ip string) string {
	if ip == "" {
		return ""
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		if ap, err2 := netip.ParseAddrPort(ip); err2 == nil {
			a = ap.Addr()
		} else {
			return ip
		}
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
