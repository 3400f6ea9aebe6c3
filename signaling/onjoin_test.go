package signaling

import (
	"strings"
	"testing"
	"time"
)

// TestOnJoin: the gateway's hook hears each untrusted session's first join
// of a swarm, with its role, and never the trusted session's own joins.
func TestOnJoin(t *testing.T) {
	type join struct {
		swarm string
		role  Role
	}
	got := make(chan join, 8)
	b := NewBroker(Config{OnJoin: func(swarm string, role Role) { got <- join{swarm, role} }})
	t.Cleanup(func() { b.Close() })
	swarm := strings.Repeat("ab", 20)
	gw := hello(t, b, RoleGateway, SessionOptions{Trusted: true})
	gw.send(Message{Type: TypeJoin, Swarm: swarm})
	gw.expect(TypePeers)
	l := hello(t, b, RoleLeecher, SessionOptions{})
	l.send(Message{Type: TypeJoin, Swarm: swarm})
	l.expect(TypePeers)
	l.send(Message{Type: TypeJoin, Swarm: swarm}) // a repeat only refreshes
	l.expect(TypePeers)
	select {
	case j := <-got:
		if j.swarm != swarm || j.role != RoleLeecher {
			t.Fatalf("OnJoin(%q, %q), want the leecher's join", j.swarm, j.role)
		}
	case <-time.After(wait):
		t.Fatal("OnJoin was not called")
	}
	select {
	case j := <-got:
		t.Fatalf("unexpected OnJoin %+v", j)
	case <-time.After(100 * time.Millisecond):
	}
}
