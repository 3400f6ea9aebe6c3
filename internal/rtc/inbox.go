package rtc

import (
	"net"
	"os"
	"sync"
	"time"
)

// inbox is a bounded queue of received datagrams with net.PacketConn read
// semantics (deadlines, close). push never blocks: a full inbox drops, as a
// full UDP receive buffer does.
type inbox struct {
	mu       sync.Mutex
	q        []datagram
	head     int
	bytes    int
	limit    int
	closed   bool
	deadline time.Time
	wake     chan struct{}
}

type datagram struct {
	b    []byte
	from net.Addr
}

func newInbox(limit int) *inbox {
	return &inbox{limit: limit, wake: make(chan struct{}, 1)}
}

func (in *inbox) signal() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// push queues b (which the inbox now owns); false if dropped.
func (in *inbox) push(b []byte, from net.Addr) bool {
	in.mu.Lock()
	if in.closed || in.bytes+len(b) > in.limit {
		in.mu.Unlock()
		return false
	}
	in.q = append(in.q, datagram{b, from})
	in.bytes += len(b)
	in.mu.Unlock()
	in.signal()
	return true
}

// read copies the next datagram into p (truncating, as UDP does).
func (in *inbox) read(p []byte) (int, net.Addr, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		in.mu.Lock()
		if in.head < len(in.q) {
			d := in.q[in.head]
			in.q[in.head] = datagram{}
			in.head++
			in.bytes -= len(d.b)
			if in.head == len(in.q) {
				in.q, in.head = in.q[:0], 0
			} else if in.head > 1024 && in.head > len(in.q)/2 {
				n := copy(in.q, in.q[in.head:])
				clear(in.q[n:])
				in.q, in.head = in.q[:n], 0
			}
			more := in.head < len(in.q)
			in.mu.Unlock()
			if more {
				in.signal() // another reader may take the next
			}
			return copy(p, d.b), d.from, nil
		}
		if in.closed {
			in.mu.Unlock()
			in.signal() // wake any other reader too
			return 0, nil, net.ErrClosed
		}
		dl := in.deadline
		in.mu.Unlock()
		var expire <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			expire = timer.C
		}
		select {
		case <-in.wake:
		case <-expire:
		}
	}
}

func (in *inbox) setDeadline(t time.Time) {
	in.mu.Lock()
	in.deadline = t
	in.mu.Unlock()
	in.signal()
}

func (in *inbox) close() {
	in.mu.Lock()
	in.closed = true
	in.q, in.head, in.bytes = nil, 0, 0
	in.mu.Unlock()
	in.signal()
}
