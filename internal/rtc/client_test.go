package rtc

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/signaling"
)

// TestOverSignaling: two transports set up their connection through a
// real signaling broker (in process, over signaling.Pipe) and swap a PPSP
// transfer; broker messages that are not for the transport reach Other.
func TestOverSignaling(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := signaling.NewBroker(signaling.Config{})
	const swarmID = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
	client := func(role signaling.Role) (*signaling.Client, chan signaling.Message) {
		cc, sc := signaling.Pipe()
		go b.Serve(ctx, sc, signaling.SessionOptions{Trusted: role == signaling.RoleGateway})
		c, err := signaling.NewClient(ctx, cc, signaling.ClientConfig{Role: role})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, make(chan signaling.Message, 64)
	}
	run := func(c *signaling.Client, other chan signaling.Message) *Transport {
		tr, err := New(Config{ID: c.ID(), LoopbackOnly: true, Signaler: &ClientSignaler{Client: c, Other: func(m signaling.Message) {
			select {
			case other <- m:
			default:
			}
		}}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- tr.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Error("transport did not stop")
			}
		})
		return tr
	}
	gc, gother := client(signaling.RoleGateway)
	pc, pother := client(signaling.RolePeer)
	gt, pt := run(gc, gother), run(pc, pother)
	if err := gc.Join(swarmID); err != nil {
		t.Fatal(err)
	}
	waitType(t, gother, signaling.TypePeers)
	if err := pc.Join(swarmID); err != nil {
		t.Fatal(err)
	}
	waitType(t, pother, signaling.TypePeers)
	// The peer was listed the gateway: that one is its peer of last
	// resort (swarm.LastResorter); nothing else is.
	if !pt.LastResort(Addr{ID: gc.ID()}) {
		t.Error("the gateway, listed with its role, is not the peer's last resort")
	}
	if pt.LastResort(Addr{ID: pc.ID()}) || pt.LastResort(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}) || gt.LastResort(Addr{ID: pc.ID()}) {
		t.Error("a peer that is no gateway is taken for a last resort")
	}

	ge, pe := startEngine(t, gt), startEngine(t, pt)
	data := randomContent(1<<20+77, 11)
	src := seed(t, ge, data)
	dst, sw := leech(t, pe, src.ID())
	if err := dst.Connect(Addr{ID: gc.ID()}); err != nil {
		t.Fatal(err)
	}
	waitDone(t, dst, 60*time.Second)
	checkContent(t, sw, data)
	if s := pt.Stats(); s.Opened != 1 {
		t.Fatalf("%+v", s)
	}
}

func waitType(t *testing.T, ch chan signaling.Message, typ string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-ch:
			if m.Type == typ {
				return
			}
		case <-timeout:
			t.Fatalf("no %q message", typ)
		}
	}
}
