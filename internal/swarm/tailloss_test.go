package swarm

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// tailDropConn drops, the first time they are sent, the DATA datagrams
// (the large ones) numbered from..to-1 in the order written: a burst lost
// at the end of a transfer, after which nothing new is sent whose
// acknowledgement could reveal it.
type tailDropConn struct {
	net.PacketConn
	from, to int64
	big      atomic.Int64
	dropped  atomic.Int64
}

func (c *tailDropConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if len(b) > 8<<10 {
		if n := c.big.Add(1) - 1; n >= c.from && n < c.to {
			c.dropped.Add(1)
			return len(b), nil
		}
	}
	return c.PacketConn.WriteTo(b, addr)
}

// TestTailBurstLossRecovers loses the last 20 DATA datagrams of a
// transfer. One retransmission timeout must recover them all: the first
// acknowledgement after it, for its probe, proves the rest lost. Before,
// that acknowledgement did not count as a later flight acknowledged (it
// may be the original's), so each lost datagram waited a timeout of its
// own: 20 timeouts, 4 s of a stalled download (seen on loopback as 100
// MiB taking 4-25 s instead of 0.6 s in about one run in six). The
// receiver's request again for the whole missing tail (over 256 chunks)
// used to be ignored too.
func TestTailBurstLossRecovers(t *testing.T) {
	data := randomContent(4<<20, 31) // 4096 chunks: 256 datagrams of 16
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	drop := &tailDropConn{PacketConn: udp, from: 236, to: 256}
	src := startEngine(t, drop, nil)
	seed := seedContent(t, src, data, 1024)
	l := startEngine(t, nil, nil)
	dst, sw := leechSwarm(t, l, seed.ID(), 1024, ModeLeech)
	dst.Connect(src.conn.LocalAddr())
	waitDone(t, dst, time.Minute)
	checkContent(t, sw, data)
	ss := seed.Stats()
	t.Logf("dropped %d of %d DATA datagrams; seeder %+v", drop.dropped.Load(), drop.big.Load(), ss)
	if drop.dropped.Load() < 10 {
		t.Fatalf("only %d datagrams dropped: the test tests nothing", drop.dropped.Load())
	}
	// One timeout (two on a loaded machine, whose first may be spurious)
	// recovers the burst; one per lost datagram is the bug.
	if ss.Timeouts > 3 {
		t.Errorf("%d retransmission timeouts for one burst of %d lost datagrams", ss.Timeouts, drop.dropped.Load())
	}
}
