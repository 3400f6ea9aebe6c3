package swarm

import (
	"net"
	"sync"
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
	drop := &tailDropConn{from: 236, to: 256}
	ss, _ := transferThrough(t, randomContent(4<<20, 31), func(c net.PacketConn) net.PacketConn { drop.PacketConn = c; return drop }) // 4096 chunks: 256 datagrams of 16
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

// holdConn holds, once, every datagram written for a while after the
// from-th DATA datagram, then sends them all in order: a path (a data
// channel's send queue, a stalled receiver) that delays past the
// retransmission timeout and loses nothing.
type holdConn struct {
	net.PacketConn
	from    int64
	hold    time.Duration
	big     atomic.Int64
	mu      sync.Mutex
	holding bool
	held    []heldDatagram
	total   int
}

type heldDatagram struct {
	b    []byte
	addr net.Addr
}

func (c *holdConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(b) > 8<<10 && c.big.Add(1)-1 == c.from {
		c.holding = true
		time.AfterFunc(c.hold, c.release)
	}
	if c.holding {
		c.held = append(c.held, heldDatagram{append([]byte(nil), b...), addr})
		c.total++
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

func (c *holdConn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.held {
		c.PacketConn.WriteTo(d.b, d.addr)
	}
	c.held, c.holding = nil, false
}

// TestDelayedNotLostIsSpurious delays the seeder's datagrams past the
// retransmission timeout without losing any. The acknowledgement after the
// timeout is for the probe's chunks but may be (and here is) their
// original's; the originals' acknowledgements that follow prove the
// timeout spurious. Taking the first one as proof of loss resent
// everything in flight: a publisher on a data channel uploaded 1.09
// copies instead of one (CI, stop 18).
func TestDelayedNotLostIsSpurious(t *testing.T) {
	hold := &holdConn{from: 100, hold: 700 * time.Millisecond}
	ss, _ := transferThrough(t, randomContent(4<<20, 32), func(c net.PacketConn) net.PacketConn { hold.PacketConn = c; return hold })
	hold.mu.Lock()
	held := hold.total
	hold.mu.Unlock()
	t.Logf("held %d datagrams for %v; seeder %+v", held, hold.hold, ss)
	if ss.Timeouts == 0 || held < 10 {
		t.Fatalf("%d timeouts, %d datagrams held: the test tests nothing", ss.Timeouts, held)
	}
	if ss.SpuriousTimeouts == 0 {
		t.Errorf("no timeout found spurious")
	}
	// The probes (one per timeout, backed off) are the only resends.
	if ss.TimeoutLosses > 0 || ss.Retransmits > 16*ss.Timeouts {
		t.Errorf("%d chunks resent, %d flights declared lost after %d timeouts on a path that lost nothing", ss.Retransmits, ss.TimeoutLosses, ss.Timeouts)
	}
}

// TestLostUnclesProbed loses one DATA datagram in mid-transfer. It
// carried uncle hashes the next ones skip, so nothing after it verifies
// and nothing is acknowledged: only the receiver's repeated REQUEST tells
// the sender. With nothing later acknowledged, the sender cannot tell
// that loss from a stall; it resends the oldest datagram alone as a
// probe, whose arrival lets the receiver verify all it held, and their
// acknowledgements show that nothing else needs to go again.
func TestLostUnclesProbed(t *testing.T) {
	drop := &tailDropConn{from: 64, to: 65}
	ss, ds := transferThrough(t, randomContent(4<<20, 33), func(c net.PacketConn) net.PacketConn { drop.PacketConn = c; return drop })
	t.Logf("dropped %d; seeder %+v; leecher held %d unverified", drop.dropped.Load(), ss, ds.Unverifiable)
	if drop.dropped.Load() != 1 {
		t.Fatalf("%d datagrams dropped, want 1", drop.dropped.Load())
	}
	if ss.Retransmits > 48 {
		t.Errorf("%d chunks resent for one lost datagram of 16", ss.Retransmits)
	}
}

// transferThrough sends data from a seeder whose socket is wrap(udp) to a
// fresh leecher over loopback, checks what arrived and returns both
// swarms' counters.
func transferThrough(t *testing.T, data []byte, wrap func(net.PacketConn) net.PacketConn) (seeder, leecher SwarmStats) {
	t.Helper()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	src := startEngine(t, wrap(udp), nil)
	seed := seedContent(t, src, data, 1024)
	l := startEngine(t, nil, nil)
	dst, sw := leechSwarm(t, l, seed.ID(), 1024, ModeLeech)
	dst.Connect(src.conn.LocalAddr())
	waitDone(t, dst, time.Minute)
	checkContent(t, sw, data)
	return seed.Stats(), dst.Stats()
}
