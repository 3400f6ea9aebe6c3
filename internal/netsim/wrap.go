package netsim

import (
	"container/heap"
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config of an impaired link. The zero value is a perfect link.
type Config struct {
	// Loss is the share of outgoing datagrams dropped, 0..1.
	Loss float64
	// Delay samples a one-way delay for each outgoing datagram. nil = none.
	Delay func(r *rand.Rand) time.Duration
	// PathDelay, if set, gives the one-way delay to a destination and is
	// added to Delay. Use PathDelay(...) for stable per-path RTTs.
	PathDelay func(to net.Addr) time.Duration
	// Seed seeds the loss and delay randomness (0 is a valid seed).
	Seed int64
	// Drop is an extra per-destination drop rule (impaired nodes). nil = none.
	Drop func(to net.Addr) bool
}

// Stats counts what a wrapped conn did with outgoing datagrams.
type Stats struct {
	Sent    uint64 // datagrams passed to WriteTo
	Dropped uint64 // of those, dropped by Loss or Drop
	Delayed uint64 // of those, handed to the scheduler
}

// Conn is a net.PacketConn whose outgoing datagrams are impaired as its
// Config says. Reads pass straight through to the wrapped conn.
type Conn struct {
	net.PacketConn
	cfg Config

	sent, dropped, delayed atomic.Uint64

	mu      sync.Mutex
	rng     *rand.Rand
	queue   pending
	seq     uint64
	wake    chan struct{}
	closed  bool
	done    chan struct{}
	started bool
	stopped chan struct{}
}

// Wrap returns c with its outgoing datagrams impaired by cfg. Delayed
// datagrams are copied and sent by a scheduler goroutine; Close stops it
// (pending datagrams are discarded) and closes c.
func Wrap(c net.PacketConn, cfg Config) *Conn {
	return &Conn{
		PacketConn: c,
		cfg:        cfg,
		rng:        rand.New(rand.NewSource(cfg.Seed)),
		wake:       make(chan struct{}, 1),
		done:       make(chan struct{}),
		stopped:    make(chan struct{}),
	}
}

// Stats returns the counters so far.
func (c *Conn) Stats() Stats {
	return Stats{Sent: c.sent.Load(), Dropped: c.dropped.Load(), Delayed: c.delayed.Load()}
}

// WriteTo sends b to addr subject to the impairments. Like UDP, a dropped
// datagram is reported as written.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.sent.Add(1)
	if c.cfg.Drop != nil && c.cfg.Drop(addr) {
		c.dropped.Add(1)
		return len(b), nil
	}
	var d time.Duration
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	if c.cfg.Loss > 0 && c.rng.Float64() < c.cfg.Loss {
		c.mu.Unlock()
		c.dropped.Add(1)
		return len(b), nil
	}
	if c.cfg.Delay != nil {
		d = c.cfg.Delay(c.rng)
	}
	c.mu.Unlock()
	if c.cfg.PathDelay != nil {
		d += c.cfg.PathDelay(addr)
	}
	if d <= 0 {
		return c.PacketConn.WriteTo(b, addr)
	}
	p := &packet{due: time.Now().Add(d), b: append([]byte(nil), b...), to: addr}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	c.seq++
	p.seq = c.seq
	heap.Push(&c.queue, p)
	first := c.queue[0] == p
	if !c.started {
		c.started = true
		go c.schedule()
	}
	c.mu.Unlock()
	c.delayed.Add(1)
	if first {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return len(b), nil
}

// schedule sends queued datagrams when they are due.
func (c *Conn) schedule() {
	defer close(c.stopped)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		c.mu.Lock()
		var due []*packet
		now := time.Now()
		for len(c.queue) > 0 && !c.queue[0].due.After(now) {
			due = append(due, heap.Pop(&c.queue).(*packet))
		}
		wait := time.Hour
		if len(c.queue) > 0 {
			wait = c.queue[0].due.Sub(now)
		}
		c.mu.Unlock()
		for _, p := range due {
			// Errors are those of a UDP send: the datagram is lost.
			c.PacketConn.WriteTo(p.b, p.to)
		}
		if len(due) > 0 {
			continue
		}
		t.Reset(wait)
		select {
		case <-c.done:
			return
		case <-c.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		case <-t.C:
		}
	}
}

// Close stops the scheduler, discards pending datagrams and closes the
// wrapped conn, which unblocks ReadFrom.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	started := c.started
	c.queue = nil
	close(c.done)
	c.mu.Unlock()
	err := c.PacketConn.Close()
	if started {
		<-c.stopped
	}
	return err
}

type packet struct {
	due time.Time
	seq uint64
	b   []byte
	to  net.Addr
}

// pending is a min-heap of packets by due time, then send order.
type pending []*packet

func (q pending) Len() int { return len(q) }
func (q pending) Less(i, j int) bool {
	if q[i].due.Equal(q[j].due) {
		return q[i].seq < q[j].seq
	}
	return q[i].due.Before(q[j].due)
}
func (q pending) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pending) Push(x any)   { *q = append(*q, x.(*packet)) }
func (q *pending) Pop() any {
	old := *q
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return p
}
