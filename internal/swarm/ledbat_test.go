package swarm

import (
	"testing"
	"time"
)

// TestLedbat checks the RFC 6817 controller: slow start while the queue is
// empty, additive growth below the target delay, shrinking above it,
// halving once per round trip on loss, and the MIN_CWND floor.
func TestLedbat(t *testing.T) {
	const mss = 16 << 10
	now := time.Unix(1000, 0)
	l := newLedbat(mss)
	if got := l.window(); got != ledbatInitCwnd*mss {
		t.Fatalf("initial window %d", got)
	}
	// Base delay 1 ms (clock offsets cancel: only differences count).
	for i := 0; i < 4; i++ {
		l.onDelay(now, 1000)
	}
	l.onAck(4*mss, 4*mss)
	if got := l.window(); got != 8*mss {
		t.Fatalf("slow start: window %d, want %d", got, 8*mss)
	}
	// Queueing delay above half the target ends slow start.
	for i := 0; i < 4; i++ {
		l.onDelay(now, 1000+int64(ledbatTarget/time.Microsecond))
	}
	before := l.window()
	l.onAck(mss, before)
	if l.slowStart {
		t.Fatal("still in slow start with a full queue")
	}
	if got := l.window(); got > before {
		t.Fatalf("window grew from %d to %d at the target delay", before, got)
	}
	// Twice the target: the window shrinks.
	for i := 0; i < 4; i++ {
		l.onDelay(now, 1000+2*int64(ledbatTarget/time.Microsecond))
	}
	before = l.window()
	l.onAck(mss, before)
	if got := l.window(); got >= before {
		t.Fatalf("window %d did not shrink from %d above the target", got, before)
	}
	// Empty queue again: additive growth, about one MSS per window acked.
	for i := 0; i < 4; i++ {
		l.onDelay(now, 1000)
	}
	before = l.window()
	l.onAck(before, before)
	if got := l.window(); got <= before || got > before+2*mss {
		t.Fatalf("congestion avoidance: %d -> %d", before, got)
	}
	// Loss halves, once per round trip.
	l.onRTT(10 * time.Millisecond)
	before = l.window()
	l.onLoss(now)
	if got := l.window(); got != max(before/2, ledbatMinCwnd*mss) {
		t.Fatalf("loss: %d -> %d", before, got)
	}
	after := l.window()
	l.onLoss(now.Add(time.Millisecond))
	if l.window() != after {
		t.Fatal("halved twice in one round trip")
	}
	l.onTimeout(now)
	if got := l.window(); got != ledbatMinCwnd*mss {
		t.Fatalf("timeout: window %d, want MIN_CWND", got)
	}
	if rto := l.rto(); rto < 200*time.Millisecond {
		t.Fatalf("rto %v below the floor", rto)
	}
}
