package swarm

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/netsim"
)

// TestInternetPathRandomLoss moves content between two engines through an
// emulated path (netsim relay: 10 ms each way, 1% random loss each way, a
// 40 Mbit/s bottleneck, one chunk per 1472-byte datagram). Every chunk
// must verify, and the loss must cost about its own share: before the
// fixes of decision 7, the acknowledgement of a spurious retransmission
// declared the whole window lost, and chunks after a lost uncle hash were
// sent again, so most of the content arrived twice.
func TestInternetPathRandomLoss(t *testing.T) {
	data := randomContent(4<<20, 21)
	small := func(c *Config) { c.LoopbackDatagram = 1472 }
	src := startEngine(t, nil, small)
	seed := seedContent(t, src, data, 1024)
	up := netsim.NewLink(netsim.LinkConfig{Delay: 10 * time.Millisecond, Loss: 0.01, MTU: 1472, Seed: 1})
	down := netsim.NewLink(netsim.LinkConfig{Delay: 10 * time.Millisecond, Loss: 0.01, Rate: 40_000_000, MTU: 1472, Seed: 2})
	t.Cleanup(up.Close)
	t.Cleanup(down.Close)
	listen := func() (net.PacketConn, error) {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err == nil {
			TuneSocket(c, 8<<20)
		}
		return c, err
	}
	front, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	relay, err := netsim.NewRelay(netsim.RelayConfig{Conn: front, Target: src.conn.LocalAddr(), Listen: listen, Up: up, Down: down, Flow: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; front.Close() })

	l := startEngine(t, nil, small)
	dst, sw := leechSwarm(t, l, seed.ID(), 1024, ModeLeech)
	dst.Connect(front.LocalAddr())
	waitDone(t, dst, 2*time.Minute)
	checkContent(t, sw, data)
	chunks := uint64(len(data) / 1024)
	st, ss := dst.Stats(), seed.Stats()
	t.Logf("retransmitted %d, duplicates %d, held %d of %d chunks; down link %+v", ss.Retransmits, st.Duplicates, st.Unverifiable, chunks, down.Stats())
	if ls := down.Stats(); ls.RandomLoss == 0 {
		t.Fatal("the path lost nothing: the test tests nothing")
	}
	// 1% down plus 1% of the acknowledgements up, and timeouts on a
	// loaded machine: generous, yet far below "most of it twice".
	if st.Duplicates > chunks/4 {
		t.Errorf("%d of %d chunks arrived twice", st.Duplicates, chunks)
	}
}
