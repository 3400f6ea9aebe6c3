package swarm

import (
	"testing"
	"time"
)

// delays feeds four one-way delay samples of base+q (µs offsets cancel:
// only differences count).
func delays(l *ledbat, now time.Time, q time.Duration) {
	for i := 0; i < 4; i++ {
		l.onDelay(now, 1000+int64(q/time.Microsecond))
	}
}

// TestLedbat checks the controller of decision 7: slow start while the
// queue is empty, closing the gap to the target delay in congestion
// avoidance (much faster than one MSS per round trip), shrinking above
// it, random loss costing the lost bytes only, congestion loss (a long
// queue, or a heavy loss) halving once per round trip, timeouts, and the
// MIN_CWND floor.
func TestLedbat(t *testing.T) {
	const mss = 1024
	now := time.Unix(1000, 0)
	l := newLedbat(mss)
	iw := ledbatInitBytes
	if got := l.window(); got != iw {
		t.Fatalf("initial window %d, want %d", got, iw)
	}
	if got := newLedbat(16 << 10).window(); got != ledbatInitCwnd*16<<10 {
		t.Fatalf("initial window of 16 KiB datagrams %d", got)
	}
	l.onRTT(80 * time.Millisecond)
	delays(l, now, 0)
	l.onAck(now, iw, iw)
	if got := l.window(); got != iw*5/2 {
		t.Fatalf("slow start: window %d, want %d (x2.5 per window acked)", got, iw*5/2)
	}
	// Random loss in slow start: the lost bytes, and slow start goes on.
	l.onLoss(now, mss)
	if got := l.window(); got != iw*5/2-mss || !l.slowStart {
		t.Fatalf("random loss in slow start: window %d, slow start %v", got, l.slowStart)
	}
	// A queue under the exit threshold: slow start goes on.
	delays(l, now, slowStartExit-time.Millisecond)
	for l.window() < 400*mss {
		w := l.window()
		l.onAck(now, w, w)
	}
	if !l.slowStart {
		t.Fatalf("slow start ended at a queue of %v", slowStartExit-time.Millisecond)
	}
	// Queueing delay above slowStartExit ends it.
	delays(l, now, slowStartExit+time.Millisecond)
	if l.onAck(now, mss, l.window()); l.slowStart {
		t.Fatalf("still in slow start at a queue of %v", slowStartExit+time.Millisecond)
	}
	delays(l, now, ledbatTarget)
	before := l.window()
	l.onAck(now, mss, before)
	if l.slowStart {
		t.Fatal("still in slow start with a full queue")
	}
	if got := l.window(); got > before {
		t.Fatalf("window grew from %d to %d at the target delay", before, got)
	}
	// Twice the target: the window shrinks, at most by half a window per
	// window acked.
	delays(l, now, 2*ledbatTarget)
	before = l.window()
	l.onAck(now, before, before)
	if got := l.window(); got >= before || got < before/2 {
		t.Fatalf("window %d from %d at twice the target", got, before)
	}
	// Empty queue: one window acked closes half the gap to the target,
	// 25 ms of an 80 ms round trip: about +15%, not +1 MSS.
	delays(l, now, 0)
	before = l.window()
	l.onAck(now, before, before)
	if got := l.window(); got < before*110/100 || got > before*120/100 {
		t.Fatalf("congestion avoidance: %d -> %d, want about +15%%", before, got)
	}
	// Random loss (no standing queue): the lost bytes only.
	before = l.window()
	l.onLoss(now, 2*mss)
	if got := l.window(); got != before-2*mss {
		t.Fatalf("random loss: %d -> %d", before, got)
	}
	// A queue beyond twice the target: congestion, halved once per round
	// trip.
	delays(l, now, 3*ledbatTarget)
	now = now.Add(time.Second)
	before = l.window()
	l.onLoss(now, mss)
	if got := l.window(); got != before/2 {
		t.Fatalf("congestion loss: %d -> %d", before, got)
	}
	after := l.window()
	l.onLoss(now.Add(time.Millisecond), mss)
	if l.window() != after {
		t.Fatal("halved twice in one round trip")
	}
	// Heavy loss with an empty queue (a buffer shallower than the target):
	// more than a tenth of the window in one round is congestion.
	delays(l, now, 0)
	now = now.Add(time.Second)
	before = l.window()
	l.onLoss(now, before/5)
	if got := l.window(); got != before/2 {
		t.Fatalf("heavy loss: %d -> %d, want halved", before, got)
	}
	// Timeout: MIN_CWND, then slow start back to half the window.
	before = l.window()
	l.onTimeout(now)
	if got := l.window(); got != ledbatMinCwnd*mss || !l.slowStart {
		t.Fatalf("timeout: window %d, want MIN_CWND", got)
	}
	for i := 0; i < 20 && l.slowStart; i++ {
		w := l.window()
		l.onAck(now, w, w)
	}
	if l.slowStart || l.window() < before/2 || l.window() > before {
		t.Fatalf("after the timeout: window %d (was %d), slow start %v", l.window(), before, l.slowStart)
	}
	if rto := l.rto(); rto < 200*time.Millisecond {
		t.Fatalf("rto %v below the floor", rto)
	}
}

// TestRTOBeforeData checks the retransmission timeout before the first
// data sample: 1 s (RFC 6298 §2.1) without one, three handshake round
// trips within [200 ms, 1 s] with one, srtt-based after data.
func TestRTOBeforeData(t *testing.T) {
	l := newLedbat(1024)
	if got := l.rto(); got != time.Second {
		t.Fatalf("rto %v without samples, want 1s", got)
	}
	for _, tc := range []struct{ hs, want time.Duration }{
		{10 * time.Millisecond, 200 * time.Millisecond},
		{100 * time.Millisecond, 300 * time.Millisecond},
		{2 * time.Second, time.Second},
	} {
		l.onHandshakeRTT(tc.hs)
		if got := l.rto(); got != tc.want {
			t.Errorf("handshake RTT %v: rto %v, want %v", tc.hs, got, tc.want)
		}
	}
	l.onRTT(150 * time.Millisecond) // srtt 150, rttvar 75: 450 ms
	if got := l.rto(); got != 450*time.Millisecond {
		t.Fatalf("rto %v after a data sample, want 450ms", got)
	}
}
