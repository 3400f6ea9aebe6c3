package dhtnet

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func TestPeerStoreKeyedByIPPort(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := &PeerStore{TTL: time.Minute, Now: clk.Now}
	var sw [20]byte
	a := netip.MustParseAddrPort("127.0.0.1:1000")
	b := netip.MustParseAddrPort("127.0.0.1:1001")
	s.Add(sw, a)
	s.Add(sw, b)
	s.Add(sw, a) // refresh, not a duplicate
	got := s.Get(sw, 0)
	slices.SortFunc(got, netip.AddrPort.Compare)
	if want := []netip.AddrPort{a, b}; !slices.Equal(got, want) {
		t.Fatalf("Get = %v, want %v (two peers sharing an IP)", got, want)
	}
	// Through anacrolix's interface too.
	if ps := s.GetPeers(sw); len(ps) != 2 {
		t.Fatalf("GetPeers = %v", ps)
	}
	s.AddPeer(sw, krpc.NodeAddr{IP: []byte{127, 0, 0, 1}, Port: 0}) // no port: ignored
	s.AddPeer(sw, krpc.NodeAddr{IP: []byte{0, 0, 0, 0}, Port: 5})   // unspecified: ignored
	if s.Len() != 2 {
		t.Fatalf("Len = %d after bogus adds", s.Len())
	}
	var other [20]byte
	other[0] = 1
	if ps := s.Get(other, 0); len(ps) != 0 {
		t.Fatalf("other swarm has %v", ps)
	}
}

func TestPeerStoreExpiry(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := &PeerStore{TTL: time.Minute, Now: clk.Now}
	var sw [20]byte
	a := netip.MustParseAddrPort("10.0.0.1:1")
	b := netip.MustParseAddrPort("10.0.0.2:2")
	s.Add(sw, a)
	clk.Advance(40 * time.Second)
	s.Add(sw, b)
	clk.Advance(30 * time.Second) // a expired, b live
	if got := s.Get(sw, 0); !slices.Equal(got, []netip.AddrPort{b}) {
		t.Fatalf("after 70 s: %v, want [%v]", got, b)
	}
	clk.Advance(time.Minute)
	if got := s.Get(sw, 0); len(got) != 0 || s.Len() != 0 {
		t.Fatalf("after expiry: %v, len %d", got, s.Len())
	}
}

func TestPeerStoreBounds(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := &PeerStore{TTL: time.Hour, Now: clk.Now, MaxPerSwarm: 3, MaxSwarms: 2}
	var sw [20]byte
	for i := range 10 {
		clk.Advance(time.Second)
		s.Add(sw, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 1))
	}
	got := s.Get(sw, 0)
	if len(got) != 3 {
		t.Fatalf("kept %d peers, want 3", len(got))
	}
	for _, p := range got {
		if p.Addr().As4()[3] < 8 {
			t.Fatalf("kept old peer %v; the newest must win", p)
		}
	}
	if got := s.Get(sw, 2); len(got) != 2 {
		t.Fatalf("Get max 2 returned %d", len(got))
	}
	s.Add([20]byte{1}, netip.MustParseAddrPort("10.1.0.1:1"))
	s.Add([20]byte{2}, netip.MustParseAddrPort("10.1.0.2:1")) // third swarm: refused
	if got := s.Get([20]byte{2}, 0); len(got) != 0 {
		t.Fatalf("swarm beyond MaxSwarms stored: %v", got)
	}
}
