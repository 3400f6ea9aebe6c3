package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

const (
	swarmA = "0123456789abcdef0123456789abcdef01234567"
	swarmB = "89abcdef0123456789abcdef0123456789abcdef"
)

// wait is generous: tests run on a loaded 2-core CI machine.
const wait = 20 * time.Second

// rawSession is a test client speaking raw messages over a pipe.
type rawSession struct {
	t    *testing.T
	conn Conn
	done chan error
	id   string
}

func startBroker(t *testing.T, lim Limits) *Broker {
	t.Helper()
	b := NewBroker(Config{Limits: lim})
	t.Cleanup(func() { b.Close() })
	return b
}

// open starts a session on b without saying hello.
func open(t *testing.T, b *Broker, opts SessionOptions) *rawSession {
	t.Helper()
	client, server := Pipe()
	r := &rawSession{t: t, conn: client, done: make(chan error, 1)}
	go func() { r.done <- b.Serve(context.Background(), server, opts) }()
	t.Cleanup(func() { client.Close() })
	return r
}

// hello opens a session and completes the hello.
func hello(t *testing.T, b *Broker, role Role, opts SessionOptions) *rawSession {
	t.Helper()
	r := open(t, b, opts)
	r.send(Message{V: Version, Type: TypeHello, Role: role})
	w := r.expect(TypeWelcome)
	r.id = w.ID
	return r
}

func (r *rawSession) sendRaw(s string) {
	r.t.Helper()
	r.conn.SetWriteDeadline(time.Now().Add(wait))
	if err := r.conn.WriteMessage([]byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawSession) send(m Message) {
	r.t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sendRaw(string(data))
}

func (r *rawSession) recv() (Message, error) {
	r.conn.SetReadDeadline(time.Now().Add(wait))
	data, err := r.conn.ReadMessage()
	if err != nil {
		return Message{}, err
	}
	return Decode(data)
}

// expect reads the next message and checks its type (and code for errors:
// "error:code").
func (r *rawSession) expect(want string) Message {
	r.t.Helper()
	m, err := r.recv()
	if err != nil {
		r.t.Fatalf("waiting for %s: %v", want, err)
	}
	got := m.Type
	if m.Type == TypeError {
		got += ":" + m.Code
	}
	if got != want && !(want == TypeError && m.Type == TypeError) {
		r.t.Fatalf("got %s (%+v), want %s", got, m, want)
	}
	return m
}

// expectClosed reads until the conn closes (at most a few messages).
func (r *rawSession) expectClosed() {
	r.t.Helper()
	for i := 0; i < 10; i++ {
		if _, err := r.recv(); err != nil {
			if errors.Is(err, ErrClosed) {
				return
			}
			r.t.Fatalf("want a close, got %v", err)
		}
	}
	r.t.Fatal("session not closed")
}

func peerIDs(ps []PeerInfo) map[string]Role {
	out := map[string]Role{}
	for _, p := range ps {
		out[p.ID] = p.Role
	}
	return out
}

func TestHelloWelcome(t *testing.T) {
	b := startBroker(t, Limits{})
	r := open(t, b, SessionOptions{})
	r.send(Message{V: Version, Type: TypeHello, Role: RolePeer})
	w := r.expect(TypeWelcome)
	if len(w.ID) != 22 || w.V != Version || w.Limits == nil || w.Limits.IdleMillis != DefaultIdleTimeout.Milliseconds() {
		t.Fatalf("welcome %+v", w)
	}
	r.send(Message{Type: TypePing})
	r.expect(TypePong)

	// A proposed ID is taken if free and refused when in use.
	p := open(t, b, SessionOptions{})
	p.send(Message{V: Version, Type: TypeHello, Role: RoleBooster, ID: "booster-0123456789"})
	if w := p.expect(TypeWelcome); w.ID != "booster-0123456789" {
		t.Fatalf("proposed id not taken: %+v", w)
	}
	q := open(t, b, SessionOptions{})
	q.send(Message{V: Version, Type: TypeHello, Role: RoleBooster, ID: "booster-0123456789"})
	q.expect("error:" + CodeIDTaken)
	q.expectClosed()
}

func TestHelloRefused(t *testing.T) {
	cases := []struct {
		name, msg, code string
		trusted         bool
	}{
		{"not json", `{"v":1,"type":"hello"`, CodeBadMessage, false},
		{"join first", `{"type":"join","swarm":"` + swarmA + `"}`, CodeHelloFirst, false},
		{"no version", `{"type":"hello","role":"peer"}`, CodeBadMessage, false},
		{"future version", `{"v":2,"type":"hello","role":"peer"}`, CodeVersion, false},
		{"unknown role", `{"v":1,"type":"hello","role":"admin"}`, CodeBadMessage, false},
		{"gateway untrusted", `{"v":1,"type":"hello","role":"gateway"}`, CodeBadRole, false},
		{"short id", `{"v":1,"type":"hello","role":"peer","id":"abc"}`, CodeBadMessage, false},
		{"id with slash", `{"v":1,"type":"hello","role":"peer","id":"abcdefgh/ijklmnopq"}`, CodeBadMessage, false},
		{"oversized", `{"v":1,"type":"hello","role":"peer","x":"` + strings.Repeat("x", 20000) + `"}`, CodeTooLarge, false},
	}
	b := startBroker(t, Limits{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := open(t, b, SessionOptions{Trusted: c.trusted})
			r.sendRaw(c.msg)
			r.expect("error:" + c.code)
			r.expectClosed()
		})
	}
	t.Run("gateway trusted", func(t *testing.T) {
		hello(t, b, RoleGateway, SessionOptions{Trusted: true})
	})
}

func TestHelloTimeout(t *testing.T) {
	b := startBroker(t, Limits{HelloTimeout: 200 * time.Millisecond})
	r := open(t, b, SessionOptions{})
	r.expect("error:" + CodeHelloTimeout)
	r.expectClosed()
	// Idle after hello: closed with "idle".
	b = startBroker(t, Limits{IdleTimeout: 300 * time.Millisecond})
	p := hello(t, b, RolePeer, SessionOptions{})
	p.expect("error:" + CodeIdle)
	p.expectClosed()
}

func TestPeerListsAndUpdates(t *testing.T) {
	b := startBroker(t, Limits{})
	gw := hello(t, b, RoleGateway, SessionOptions{Trusted: true})
	gw.send(Message{Type: TypeJoin, Swarm: swarmA})
	if m := gw.expect(TypePeers); len(m.Peers) != 0 || m.Swarm != swarmA {
		t.Fatalf("first member's list: %+v", m)
	}
	boost := hello(t, b, RoleBooster, SessionOptions{})
	boost.send(Message{Type: TypeJoin, Swarm: strings.ToUpper(swarmA)}) // normalized
	if m := boost.expect(TypePeers); len(m.Peers) != 1 || m.Peers[0] != (PeerInfo{gw.id, RoleGateway}) {
		t.Fatalf("booster's list: %+v", m)
	}
	if m := gw.expect(TypeJoined); *m.Peer != (PeerInfo{boost.id, RoleBooster}) {
		t.Fatalf("gateway's update: %+v", m)
	}
	// A leecher and a source get lists but are never listed or announced.
	leech := hello(t, b, RoleLeecher, SessionOptions{})
	leech.send(Message{Type: TypeJoin, Swarm: swarmA})
	lm := leech.expect(TypePeers)
	if got := peerIDs(lm.Peers); len(got) != 2 || got[gw.id] != RoleGateway || got[boost.id] != RoleBooster || lm.Peers[0].ID != gw.id {
		t.Fatalf("leecher's list (gateway first): %+v", lm)
	}
	src := hello(t, b, RoleSource, SessionOptions{})
	src.send(Message{Type: TypeJoin, Swarm: swarmA})
	src.expect(TypePeers)
	peer := hello(t, b, RolePeer, SessionOptions{})
	peer.send(Message{Type: TypeJoin, Swarm: swarmA})
	if got := peerIDs(peer.expect(TypePeers).Peers); len(got) != 2 {
		t.Fatalf("peer's list holds a leecher or source: %v", got)
	}
	// Everyone already in hears of the browser peer, nobody of the leecher or source.
	for _, r := range []*rawSession{gw, boost, leech, src} {
		if m := r.expect(TypeJoined); m.Peer.ID != peer.id {
			t.Fatalf("update %+v, want the peer", m)
		}
	}
	// Leaving: those told about the booster hear it left.
	boost.send(Message{Type: TypeLeave, Swarm: swarmA})
	for _, r := range []*rawSession{gw, leech, src, peer} {
		if m := r.expect(TypeLeft); m.Peer.ID != boost.id {
			t.Fatalf("left %+v", m)
		}
	}
	// A session that ends leaves every swarm.
	peer.conn.Close()
	for _, r := range []*rawSession{gw, leech, src} {
		if m := r.expect(TypeLeft); m.Peer.ID != peer.id {
			t.Fatalf("left %+v", m)
		}
	}
	// Leave of a swarm one is not in; peers request refreshes the list.
	boost.send(Message{Type: TypeLeave, Swarm: swarmA})
	boost.expect("error:" + CodeNotJoined)
	leech.send(Message{Type: TypePeers, Swarm: swarmA})
	if got := peerIDs(leech.expect(TypePeers).Peers); len(got) != 1 || got[gw.id] == "" {
		t.Fatalf("refreshed list %v", got)
	}
}

func TestPeersPerReplyBound(t *testing.T) {
	const k = 3
	b := startBroker(t, Limits{PeersPerReply: k})
	var rs []*rawSession
	for i := 0; i < 6; i++ {
		r := hello(t, b, RolePeer, SessionOptions{})
		r.send(Message{Type: TypeJoin, Swarm: swarmA})
		if n := len(r.expect(TypePeers).Peers); n != min(i, k) {
			t.Fatalf("session %d got %d peers, want %d", i, n, min(i, k))
		}
		rs = append(rs, r)
	}
	// Session 0 was told about 1, 2, 3 only; when 1 leaves it hears so and
	// is told about a replacement it did not know (4 or 5).
	told := map[string]bool{}
	for i := 0; i < k; i++ {
		told[rs[0].expect(TypeJoined).Peer.ID] = true
	}
	if !told[rs[1].id] || !told[rs[2].id] || !told[rs[3].id] {
		t.Fatalf("session 0 told about %v", told)
	}
	rs[1].send(Message{Type: TypeLeave, Swarm: swarmA})
	if m := rs[0].expect(TypeLeft); m.Peer.ID != rs[1].id {
		t.Fatalf("%+v", m)
	}
	if m := rs[0].expect(TypeJoined); m.Peer.ID != rs[4].id && m.Peer.ID != rs[5].id {
		t.Fatalf("replacement %+v", m)
	}
}

func TestRelay(t *testing.T) {
	b := startBroker(t, Limits{})
	a := hello(t, b, RolePeer, SessionOptions{})
	c := hello(t, b, RoleBooster, SessionOptions{})
	leech := hello(t, b, RoleLeecher, SessionOptions{})
	other := hello(t, b, RolePeer, SessionOptions{})
	for _, r := range []*rawSession{a, c, leech} {
		r.send(Message{Type: TypeJoin, Swarm: swarmA})
		r.expect(TypePeers)
	}
	other.send(Message{Type: TypeJoin, Swarm: swarmB})
	other.expect(TypePeers)
	a.expect(TypeJoined) // c
	leech.send(Message{Type: TypeOffer, To: c.id, SDP: "v=0 leech"})
	// c hears nothing of the leecher's join; the next message is its offer.
	if m := c.expect(TypeOffer); m.From != leech.id || m.SDP != "v=0 leech" || m.To != "" {
		t.Fatalf("relayed offer %+v", m)
	}
	c.send(Message{Type: TypeAnswer, To: leech.id, SDP: "v=0 answer"})
	if m := leech.expect(TypeAnswer); m.From != c.id || m.SDP != "v=0 answer" {
		t.Fatalf("relayed answer %+v", m)
	}
	mid := "0"
	idx := uint16(0)
	c.send(Message{Type: TypeCandidate, To: leech.id, Candidate: &Candidate{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", SDPMid: &mid, SDPMLineIndex: &idx}})
	if m := leech.expect(TypeCandidate); m.From != c.id || m.Candidate == nil || *m.Candidate.SDPMid != "0" || !strings.Contains(m.Candidate.Candidate, "127.0.0.1") {
		t.Fatalf("relayed candidate %+v", m)
	}
	c.send(Message{Type: TypeCandidate, To: leech.id, Candidate: &Candidate{}}) // end of candidates
	if m := leech.expect(TypeCandidate); m.Candidate.Candidate != "" {
		t.Fatalf("end of candidates %+v", m)
	}
	// Refused relays.
	a.send(Message{Type: TypeOffer, To: a.id, SDP: "x"})
	a.expect("error:" + CodeSelf)
	a.send(Message{Type: TypeOffer, To: other.id, SDP: "x"}) // no shared swarm
	a.expect("error:" + CodeUnknownPeer)
	a.send(Message{Type: TypeOffer, To: "nobody-at-all-here", SDP: "x"})
	a.expect("error:" + CodeUnknownPeer)
	a.send(Message{Type: TypeOffer, To: leech.id, SDP: "x"})
	a.expect("error:" + CodeNotReachable)
	a.sendRaw(`{"type":"offer","sdp":"x"}`)
	a.expect("error:" + CodeBadMessage)
	a.sendRaw(`{"type":"offer","from":"` + c.id + `","sdp":"x"}`) // spoofed from, no to
	a.expect("error:" + CodeBadMessage)
	// A relay carries the sender's ID whatever "from" says.
	a.sendRaw(`{"type":"offer","to":"` + c.id + `","from":"` + leech.id + `","sdp":"x"}`)
	if m := c.expect(TypeOffer); m.From != a.id {
		t.Fatalf("spoofed from relayed: %+v", m)
	}
	// After the leecher leaves the swarm, nothing reaches it.
	leech.send(Message{Type: TypeLeave, Swarm: swarmA})
	leech.send(Message{Type: TypePing})
	leech.expect(TypePong) // the leave is done
	c.send(Message{Type: TypeAnswer, To: leech.id, SDP: "late"})
	c.expect("error:" + CodeUnknownPeer)
}

func TestBadMessagesAfterHello(t *testing.T) {
	b := startBroker(t, Limits{MaxErrors: 5})
	r := hello(t, b, RolePeer, SessionOptions{})
	bad := []string{
		`not json`,
		`{"type":"join","swarm":"xyz"}`,
		`{"type":"join"}`,
		`{"type":"welcome","id":"abc"}`,
		`{"type":"frobnicate"}`,
	}
	for _, s := range bad {
		r.sendRaw(s)
		r.expect(TypeError)
	}
	// The sixth refusal within a minute closes the session.
	r.sendRaw(`[]`)
	r.expect("error:" + CodeTooManyErrors)
	r.expectClosed()

	s := hello(t, b, RolePeer, SessionOptions{})
	s.send(Message{V: 2, Type: TypePing})
	s.expect("error:" + CodeVersion)
	s.expectClosed()

	u := hello(t, b, RolePeer, SessionOptions{})
	u.send(Message{V: Version, Type: TypeHello, Role: RolePeer})
	u.expect("error:" + CodeHelloFirst)
	u.expectClosed()

	v := hello(t, b, RolePeer, SessionOptions{})
	v.sendRaw(`{"type":"ping","pad":"` + strings.Repeat("y", DefaultMaxMessageBytes) + `"}`)
	v.expect("error:" + CodeTooLarge)
	v.expectClosed()
}

func TestLimits(t *testing.T) {
	t.Run("rate", func(t *testing.T) {
		now := time.Unix(1e9, 0)
		b := NewBroker(Config{Limits: Limits{MessagesPerSecond: 1, MessageBurst: 3}, Now: func() time.Time { return now }})
		defer b.Close()
		r := hello(t, b, RolePeer, SessionOptions{})
		for i := 0; i < 3; i++ {
			r.send(Message{Type: TypePing})
			r.expect(TypePong)
		}
		r.send(Message{Type: TypePing})
		r.expect("error:" + CodeRateLimited)
		// A trusted session is not rate limited.
		g := hello(t, b, RoleGateway, SessionOptions{Trusted: true})
		for i := 0; i < 10; i++ {
			g.send(Message{Type: TypePing})
			g.expect(TypePong)
		}
	})
	t.Run("join rate", func(t *testing.T) {
		now := time.Unix(1e9, 0)
		b := NewBroker(Config{Limits: Limits{MaxSwarmsPerSession: 2, JoinsPerSecond: 1}, Now: func() time.Time { return now }})
		defer b.Close()
		r := hello(t, b, RolePeer, SessionOptions{})
		r.send(Message{Type: TypeJoin, Swarm: swarmA})
		r.expect(TypePeers)
		r.send(Message{Type: TypeJoin, Swarm: swarmB})
		r.expect(TypePeers)
		r.send(Message{Type: TypeLeave, Swarm: swarmA})
		r.send(Message{Type: TypeJoin, Swarm: swarmA})
		r.expect(TypePeers) // the burst (4) is spent
		r.send(Message{Type: TypeLeave, Swarm: swarmA})
		r.expect("error:" + CodeRateLimited)
		now = now.Add(time.Second)
		r.send(Message{Type: TypeLeave, Swarm: swarmA})
		r.send(Message{Type: TypePing})
		r.expect(TypePong) // the leave went through silently
	})
	t.Run("join fan-out", func(t *testing.T) {
		b := startBroker(t, Limits{PeersPerReply: 2})
		var leechers []*rawSession
		for i := 0; i < 5; i++ {
			l := hello(t, b, RoleLeecher, SessionOptions{})
			l.send(Message{Type: TypeJoin, Swarm: swarmA})
			l.expect(TypePeers)
			leechers = append(leechers, l)
		}
		p := hello(t, b, RolePeer, SessionOptions{})
		p.send(Message{Type: TypeJoin, Swarm: swarmA})
		p.expect(TypePeers)
		p.send(Message{Type: TypePing})
		p.expect(TypePong) // the join and its notes are done
		told := 0
		for _, l := range leechers {
			l.send(Message{Type: TypePing})
			m, err := l.recv()
			if err != nil {
				t.Fatal(err)
			}
			if m.Type == TypeJoined {
				told++
				l.expect(TypePong)
			} else if m.Type != TypePong {
				t.Fatalf("leecher got %+v", m)
			}
		}
		if told != 2 {
			t.Fatalf("a join was announced to %d sessions, limit 2", told)
		}
	})
	t.Run("swarms", func(t *testing.T) {
		b := startBroker(t, Limits{MaxSwarmsPerSession: 2})
		r := hello(t, b, RolePeer, SessionOptions{})
		for i := 0; i < 2; i++ {
			r.send(Message{Type: TypeJoin, Swarm: fmt.Sprintf("%040x", i)})
			r.expect(TypePeers)
		}
		r.send(Message{Type: TypeJoin, Swarm: fmt.Sprintf("%040x", 9)})
		r.expect("error:" + CodeTooManySwarms)
		r.send(Message{Type: TypeJoin, Swarm: fmt.Sprintf("%040x", 0)}) // rejoin: a fresh list
		r.expect(TypePeers)
		if s := b.Stats(); s.Swarms != 2 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("sessions", func(t *testing.T) {
		b := startBroker(t, Limits{MaxSessionsPerIP: 2, MaxSessions: 3})
		hello(t, b, RolePeer, SessionOptions{RemoteIP: "192.0.2.1"})
		hello(t, b, RolePeer, SessionOptions{RemoteIP: "192.0.2.1:4000"})
		r := open(t, b, SessionOptions{RemoteIP: "192.0.2.1"})
		r.expect("error:" + CodeIPLimit)
		r.expectClosed()
		if err := <-r.done; !errors.Is(err, ErrIPLimit) {
			t.Fatalf("Serve: %v", err)
		}
		// IPv6 counts by /64.
		hello(t, b, RolePeer, SessionOptions{RemoteIP: "2001:db8:1:2::1"})
		r = open(t, b, SessionOptions{RemoteIP: "2001:db8:1:3::1"})
		r.expect("error:" + CodeFull)
		r.expectClosed()
	})
}

func TestSlowSessionClosed(t *testing.T) {
	b := startBroker(t, Limits{SendQueue: 4, WriteTimeout: 200 * time.Millisecond})
	slow := hello(t, b, RolePeer, SessionOptions{})
	slow.send(Message{Type: TypeJoin, Swarm: swarmA})
	slow.expect(TypePeers)
	// slow stops reading; joins to its swarm pile up in the pipe (64), then
	// in its queue (4), then it is closed. The joiners are not slowed.
	start := time.Now()
	for i := 0; i < 80; i++ {
		r := hello(t, b, RolePeer, SessionOptions{})
		r.send(Message{Type: TypeJoin, Swarm: swarmA})
		r.expect(TypePeers)
		r.conn.Close()
	}
	select {
	case <-slow.done:
	case <-time.After(wait):
		t.Fatal("a session that does not read was not closed")
	}
	if d := time.Since(start); d > wait {
		t.Fatalf("joiners stalled %v", d)
	}
}

func TestCloseEndsSessions(t *testing.T) {
	b := NewBroker(Config{})
	r := hello(t, b, RolePeer, SessionOptions{})
	b.Close()
	r.expect("error:" + CodeShutdown)
	r.expectClosed()
	p := open(t, b, SessionOptions{})
	p.expect("error:" + CodeShutdown)
}

func TestServeContext(t *testing.T) {
	b := startBroker(t, Limits{})
	client, server := Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, server, SessionOptions{}) }()
	client.WriteMessage([]byte(`{"v":1,"type":"hello","role":"peer"}`))
	client.ReadMessage()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Serve did not end with its context")
	}
}

// TestGoroutinesReturn checks that sessions leave nothing behind.
func TestGoroutinesReturn(t *testing.T) {
	base := runtime.NumGoroutine()
	b := NewBroker(Config{})
	var rs []*rawSession
	for i := 0; i < 50; i++ {
		r := hello(t, b, []Role{RolePeer, RoleLeecher, RoleBooster}[i%3], SessionOptions{RemoteIP: "127.0.0.1"})
		r.send(Message{Type: TypeJoin, Swarm: swarmA})
		r.send(Message{Type: TypeJoin, Swarm: swarmB})
		rs = append(rs, r)
	}
	for _, r := range rs {
		r.expect(TypePeers)
		r.conn.Close()
		<-r.done
	}
	if s := b.Stats(); s.Sessions != 0 || s.Swarms != 0 {
		t.Fatalf("after all left: %+v", s)
	}
	b.Close()
	waitGoroutines(t, base)
}

func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, baseline %d:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
