package netsim

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"
)

// collect gathers what a link delivers.
type collect struct {
	mu  sync.Mutex
	seq []uint32
	at  []time.Time
}

func (c *collect) deliver(b []byte) {
	c.mu.Lock()
	c.seq = append(c.seq, binary.BigEndian.Uint32(b))
	c.at = append(c.at, time.Now())
	c.mu.Unlock()
}

func (c *collect) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		k := len(c.seq)
		c.mu.Unlock()
		if k >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("delivered %d of %d", len(c.seq), n)
}

func dgram(i int, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

// TestLinkRateAndDelay sends a burst through a 10 Mbit/s bottleneck: the
// datagrams come out in order, spaced by their transmission time, after
// the propagation delay, and never early.
func TestLinkRateAndDelay(t *testing.T) {
	const rate = 10_000_000
	const size = 1472
	l := NewLink(LinkConfig{Rate: rate, Delay: 20 * time.Millisecond, Queue: time.Second})
	defer l.Close()
	var c collect
	const n = 100
	t0 := time.Now()
	for i := range n {
		l.Send(1, dgram(i, size), c.deliver)
	}
	sending := time.Since(t0)
	c.wait(t, n)
	tx := time.Duration((size + 28) * 8 * int64(time.Second) / rate)
	for i, s := range c.seq {
		if int(s) != i {
			t.Fatalf("datagram %d came out as %d: reordered", s, i)
		}
		if early := t0.Add(20*time.Millisecond + time.Duration(i+1)*tx); c.at[i].Before(early) {
			t.Fatalf("datagram %d out at %v, before %v", i, c.at[i].Sub(t0), early.Sub(t0))
		}
	}
	st := l.FlowStats(1)
	if st.Datagrams != n || st.Delivered != n || st.QueueDrops != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The last datagram waited for the 99 before it, less the time the
	// loop took to offer them.
	if want := 99 * tx; st.QueueMax < want-sending-time.Millisecond || st.QueueMax > want+time.Millisecond {
		t.Fatalf("max queueing delay %v, want %v", st.QueueMax, want)
	}
	if st.QueueP50 > st.QueueP95 || st.QueueP95 > st.QueueMax {
		t.Fatalf("percentiles out of order: %+v", st)
	}
}

// TestLinkQueueDropTail overfills the queue: exactly the datagrams that
// would wait longer than Queue are dropped.
func TestLinkQueueDropTail(t *testing.T) {
	const rate = 1_000_000 // 1500 B take 12 ms
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := NewLink(LinkConfig{Rate: rate, Queue: 60 * time.Millisecond, Overhead: -1, Now: clock})
	defer l.Close()
	var c collect
	for i := range 20 {
		l.Send(0, dgram(i, 1500), c.deliver)
	}
	st := l.Stats()
	mu.Lock()
	now = now.Add(time.Hour) // let everything out at the link's next timer
	mu.Unlock()
	// Waits of 0, 12, 24, 36, 48 and 60 ms fit; the rest are dropped.
	if st.QueueDrops != 14 || st.QueueMax != 60*time.Millisecond {
		t.Fatalf("queue drops %d, want 14", st.QueueDrops)
	}
	c.wait(t, int(20-st.QueueDrops))
	for i, s := range c.seq {
		if int(s) != i {
			t.Fatal("reordered")
		}
	}
}

// TestLinkLossMTUReorder checks the random loss rate, MTU drops, and that
// datagrams are reordered only when asked.
func TestLinkLossMTUReorder(t *testing.T) {
	for _, reorder := range []float64{0, 0.2} {
		l := NewLink(LinkConfig{Loss: 0.05, MTU: 1472, Reorder: reorder, ReorderDelay: 2 * time.Millisecond, Delay: time.Millisecond, Seed: 3})
		var c collect
		const n = 4000
		for i := range n {
			l.Send(0, dgram(i, 100), c.deliver)
			if i%200 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		l.Send(0, dgram(n, 1473), c.deliver)
		st := l.Stats()
		if st.MTUDrops != 1 {
			t.Fatalf("MTU drops %d", st.MTUDrops)
		}
		if r := float64(st.RandomLoss) / n; r < 0.04 || r > 0.06 {
			t.Fatalf("loss rate %.3f, want 0.05", r)
		}
		c.wait(t, int(n-st.RandomLoss))
		l.Close()
		inversions := 0
		for i := 1; i < len(c.seq); i++ {
			if c.seq[i] < c.seq[i-1] {
				inversions++
			}
		}
		if reorder == 0 && inversions != 0 {
			t.Fatalf("%d reorderings without Reorder", inversions)
		}
		if reorder > 0 && (inversions == 0 || st.Reordered == 0) {
			t.Fatalf("Reorder %.1f reordered nothing", reorder)
		}
	}
}

// TestRelay carries an echo exchange through a relay with 15 ms each way:
// the round trip takes at least 30 ms and the target sees the relay's back
// socket, not the client.
func TestRelay(t *testing.T) {
	lp := func() (net.PacketConn, error) { return net.ListenPacket("udp", "127.0.0.1:0") }
	target, _ := lp()
	defer target.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := target.ReadFrom(buf)
			if err != nil {
				return
			}
			target.WriteTo(buf[:n], from)
		}
	}()
	front, _ := lp()
	defer front.Close()
	up := NewLink(LinkConfig{Delay: 15 * time.Millisecond})
	down := NewLink(LinkConfig{Delay: 15 * time.Millisecond, Rate: 100_000_000})
	defer up.Close()
	defer down.Close()
	r, err := NewRelay(RelayConfig{Conn: front, Target: target.LocalAddr(), Listen: lp, Up: up, Down: down, Flow: 7})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	client, _ := lp()
	defer client.Close()
	buf := make([]byte, 2048)
	for i := range 3 {
		t0 := time.Now()
		client.WriteTo(dgram(i, 1000), r.Addr())
		client.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, from, err := client.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if rtt := time.Since(t0); rtt < 30*time.Millisecond {
			t.Fatalf("round trip %v through 2×15 ms", rtt)
		}
		if n != 1000 || binary.BigEndian.Uint32(buf) != uint32(i) || from.String() != r.Addr().String() {
			t.Fatalf("echo %d: %d bytes from %v", i, n, from)
		}
	}
	if st := down.FlowStats(7); st.Delivered != 3 {
		t.Fatalf("down stats %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
