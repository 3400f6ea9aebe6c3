package rtc

import (
	"net"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/swarm"
)

func listenUDP(t testing.TB) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	swarm.TuneSocket(c, 8<<20)
	t.Cleanup(func() { c.Close() })
	return c
}

func startMux(t testing.TB, hub *Hub, id string) *Mux {
	t.Helper()
	tr := startTransport(t, hub, id, nil)
	m := NewMux(listenUDP(t), tr, 0)
	t.Cleanup(func() { m.Close() })
	return m
}

// TestMuxServesBoth: one engine on a Mux seeds to a UDP leecher and a
// WebRTC leecher at once.
func TestMuxServesBoth(t *testing.T) {
	hub := NewHub()
	gw := startEngine(t, startMux(t, hub, "gateway"))
	data := randomContent(3<<20+17, 3)
	src := seed(t, gw, data)

	udpPeer := startEngine(t, listenUDP(t))
	rtcPeer := startEngine(t, startTransport(t, hub, "browser", nil))
	du, su := leech(t, udpPeer, src.ID())
	dr, sr := leech(t, rtcPeer, src.ID())
	if err := du.Connect(gw.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if err := dr.Connect(Addr{ID: "gateway"}); err != nil {
		t.Fatal(err)
	}
	waitDone(t, du, 60*time.Second)
	waitDone(t, dr, 60*time.Second)
	checkContent(t, su, data)
	checkContent(t, sr, data)
}

// TestMuxRelays: the bridge's shape. A UDP seeder holds the content; an
// engine on a Mux fetches it over UDP and serves it, as it verifies, to a
// WebRTC leecher that has no other peer.
func TestMuxRelays(t *testing.T) {
	hub := NewHub()
	data := randomContent(3<<20+5, 5)
	seeder := startEngine(t, listenUDP(t))
	src := seed(t, seeder, data)

	gw := startEngine(t, startMux(t, hub, "gateway"))
	sw, err := (&memStore{}).open(src.ID())
	if err != nil {
		t.Fatal(err)
	}
	relay, err := gw.Add(swarm.SwarmConfig{Store: sw}) // peer mode: it serves what it verifies
	if err != nil {
		t.Fatal(err)
	}
	browser := startEngine(t, startTransport(t, hub, "browser", nil))
	dst, st := leech(t, browser, src.ID())
	if err := dst.Connect(Addr{ID: "gateway"}); err != nil {
		t.Fatal(err)
	}
	if err := relay.Connect(seeder.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	waitDone(t, dst, 60*time.Second)
	checkContent(t, st, data)
	waitDone(t, relay, 60*time.Second)
	checkContent(t, sw, data)
}
