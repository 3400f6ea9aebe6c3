package netsim

import (
	"container/heap"
	"math/rand"
	"sync"
	"time"
)

// LinkConfig is one direction of an emulated Internet path: random loss,
// then a rate-limited bottleneck with a drop-tail queue, then a fixed
// propagation delay. The zero value is a perfect link.
type LinkConfig struct {
	// Delay is the one-way propagation delay.
	Delay time.Duration
	// Loss is the share of datagrams lost at random (not congestion:
	// bit errors, a lossy radio hop), 0..1, drawn before the bottleneck.
	Loss float64
	// Rate is the bottleneck's rate in bits per second. 0 = unlimited
	// (no queue either).
	Rate int64
	// Queue is the bottleneck queue's capacity, as the time it takes to
	// drain at Rate: a datagram that would wait longer is dropped (drop
	// tail). Default 100 ms.
	Queue time.Duration
	// Overhead is added to each datagram's length when it is clocked out
	// at Rate: the IPv4 and UDP headers a UDP payload travels with.
	// Default 28; negative means none.
	Overhead int
	// MTU drops datagrams longer than this many bytes. 0 = no limit.
	MTU int
	// Reorder is the share of datagrams held back by ReorderDelay after
	// the bottleneck, so that later ones overtake them. Default 0: the
	// link never reorders.
	Reorder float64
	// ReorderDelay is the extra delay of a reordered datagram.
	// Default 5 ms.
	ReorderDelay time.Duration
	// Seed seeds the loss and reordering randomness.
	Seed int64
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// LinkStats counts what a Link did, for all flows or one flow.
type LinkStats struct {
	Datagrams  uint64 // offered to the link
	Bytes      uint64 // payload bytes offered
	Delivered  uint64 // datagrams delivered
	DelivBytes uint64 // payload bytes delivered
	RandomLoss uint64 // dropped by Loss
	QueueDrops uint64 // dropped because the bottleneck queue was full
	MTUDrops   uint64 // dropped for exceeding MTU
	Reordered  uint64 // held back by Reorder
	// Queueing delay each datagram that entered the queue waited before
	// the bottleneck started sending it.
	QueueMean, QueueP50, QueueP95, QueueMax time.Duration
	// First and Last are when the first and the last datagram were
	// offered.
	First, Last time.Time
	// Marks[i] is when the delivered payload first reached (i+1)·MarkBytes.
	Marks []time.Time
}

// MarkBytes is the step of LinkStats.Marks.
const MarkBytes = 256 << 10

// queueHistBucket is the resolution of the queueing-delay histogram.
const queueHistBucket = 100 * time.Microsecond

type flowStats struct {
	st   LinkStats
	hist []uint32 // queueing delay in queueHistBucket steps
	sum  time.Duration
	n    uint64
}

func (f *flowStats) addQueue(d time.Duration) {
	i := int(d / queueHistBucket)
	if i >= len(f.hist) {
		f.hist = append(f.hist, make([]uint32, i+1-len(f.hist))...)
	}
	f.hist[i]++
	f.sum += d
	f.n++
	f.st.QueueMax = max(f.st.QueueMax, d)
}

func (f *flowStats) snapshot() LinkStats {
	s := f.st
	s.Marks = append([]time.Time(nil), f.st.Marks...)
	if f.n == 0 {
		return s
	}
	s.QueueMean = f.sum / time.Duration(f.n)
	q := func(p float64) time.Duration {
		want := uint64(p * float64(f.n))
		var acc uint64
		for i, c := range f.hist {
			acc += uint64(c)
			if acc > want {
				return time.Duration(i) * queueHistBucket
			}
		}
		return s.QueueMax
	}
	s.QueueP50, s.QueueP95 = q(0.50), q(0.95)
	return s
}

// Link is one direction of an emulated path, shared by any number of flows:
// flows that share a Link compete for its bottleneck as they would for a
// router's queue. Safe for concurrent use.
type Link struct {
	cfg LinkConfig

	mu        sync.Mutex
	rng       *rand.Rand
	busyUntil time.Time // when the bottleneck has sent everything queued
	q         linkQueue
	seq       uint64
	flows     map[int]*flowStats
	all       flowStats
	wake      chan struct{}
	done      chan struct{}
	stopped   chan struct{}
	closed    bool
}

type linkPacket struct {
	due     time.Time
	seq     uint64
	b       []byte
	flow    int
	deliver func([]byte)
}

// NewLink returns a running link; Close stops it.
func NewLink(cfg LinkConfig) *Link {
	if cfg.Queue == 0 {
		cfg.Queue = 100 * time.Millisecond
	}
	if cfg.Overhead == 0 {
		cfg.Overhead = 28
	} else if cfg.Overhead < 0 {
		cfg.Overhead = 0
	}
	if cfg.ReorderDelay == 0 {
		cfg.ReorderDelay = 5 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Link{
		cfg:     cfg,
		rng:     rand.New(rand.NewSource(cfg.Seed)),
		flows:   make(map[int]*flowStats),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go l.run()
	return l
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// Send offers datagram b of flow to the link; deliver is called with a
// copy of it when (and if) it comes out at the far end, on the link's own
// goroutine, in the order the datagrams come out. deliver must not keep
// the slice.
func (l *Link) Send(flow int, b []byte, deliver func([]byte)) {
	l.SendOverhead(flow, b, l.cfg.Overhead, deliver)
}

// SendOverhead is Send with the header bytes counted at the bottleneck
// given per datagram: 0 for datagrams that are whole IP packets already
// (a tunnelled TCP flow).
func (l *Link) SendOverhead(flow int, b []byte, overhead int, deliver func([]byte)) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	fs := l.flows[flow]
	if fs == nil {
		fs = &flowStats{}
		l.flows[flow] = fs
	}
	for _, f := range [2]*flowStats{&l.all, fs} {
		f.st.Datagrams++
		f.st.Bytes += uint64(len(b))
		if f.st.First.IsZero() {
			f.st.First = now
		}
		f.st.Last = now
	}
	drop := func(count func(*LinkStats)) {
		count(&l.all.st)
		count(&fs.st)
	}
	if l.cfg.MTU > 0 && len(b) > l.cfg.MTU {
		drop(func(s *LinkStats) { s.MTUDrops++ })
		return
	}
	if l.cfg.Loss > 0 && l.rng.Float64() < l.cfg.Loss {
		drop(func(s *LinkStats) { s.RandomLoss++ })
		return
	}
	depart := now
	if l.cfg.Rate > 0 {
		start := now
		if l.busyUntil.After(now) {
			start = l.busyUntil
		}
		wait := start.Sub(now)
		if wait > l.cfg.Queue {
			drop(func(s *LinkStats) { s.QueueDrops++ })
			return
		}
		tx := time.Duration(int64(len(b)+overhead) * 8 * int64(time.Second) / l.cfg.Rate)
		l.busyUntil = start.Add(tx)
		depart = l.busyUntil
		l.all.addQueue(wait)
		fs.addQueue(wait)
	}
	due := depart.Add(l.cfg.Delay)
	if l.cfg.Reorder > 0 && l.rng.Float64() < l.cfg.Reorder {
		due = due.Add(l.cfg.ReorderDelay)
		l.all.st.Reordered++
		fs.st.Reordered++
	}
	bp := bufPool.Get().(*[]byte)
	*bp = append((*bp)[:0], b...)
	l.seq++
	p := &linkPacket{due: due, seq: l.seq, b: *bp, flow: flow, deliver: deliver}
	heap.Push(&l.q, p)
	if l.q[0] == p {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// Stats returns the counters of every flow together.
func (l *Link) Stats() LinkStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.snapshot()
}

// FlowStats returns the counters of one flow.
func (l *Link) FlowStats(flow int) LinkStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.flows[flow]; f != nil {
		return f.snapshot()
	}
	return LinkStats{}
}

// Close stops the link; datagrams still in it are lost.
func (l *Link) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	close(l.done)
	l.mu.Unlock()
	<-l.stopped
}

func (l *Link) run() {
	defer close(l.stopped)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var due []*linkPacket
	for {
		l.mu.Lock()
		now := l.cfg.Now()
		due = due[:0]
		for len(l.q) > 0 && !l.q[0].due.After(now) {
			due = append(due, heap.Pop(&l.q).(*linkPacket))
		}
		wait := time.Hour
		if len(l.q) > 0 {
			wait = l.q[0].due.Sub(now)
		}
		for _, p := range due {
			for _, f := range [2]*flowStats{&l.all, l.flows[p.flow]} {
				if f == nil {
					continue
				}
				f.st.Delivered++
				f.st.DelivBytes += uint64(len(p.b))
				for uint64(len(f.st.Marks)+1)*MarkBytes <= f.st.DelivBytes {
					f.st.Marks = append(f.st.Marks, now)
				}
			}
		}
		l.mu.Unlock()
		for _, p := range due {
			p.deliver(p.b)
			b := p.b[:0]
			bufPool.Put(&b)
		}
		if len(due) > 0 {
			continue
		}
		t.Reset(wait)
		select {
		case <-l.done:
			return
		case <-l.wake:
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

// linkQueue is a min-heap of packets by due time, then send order.
type linkQueue []*linkPacket

func (q linkQueue) Len() int { return len(q) }
func (q linkQueue) Less(i, j int) bool {
	if q[i].due.Equal(q[j].due) {
		return q[i].seq < q[j].seq
	}
	return q[i].due.Before(q[j].due)
}
func (q linkQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *linkQueue) Push(x any)   { *q = append(*q, x.(*linkPacket)) }
func (q *linkQueue) Pop() any {
	old := *q
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return p
}
