package signaling

import (
	"errors"
	"os"
	"sync"
	"time"
)

// Conn is a message connection: a WebSocket (gorilla/websocket on the
// server and in native clients, the browser's WebSocket under js/wasm) or
// an in-memory pipe. One message is one signaling message.
//
// ReadMessage is called by one goroutine at a time and WriteMessage by one
// goroutine at a time; Close and the deadline setters may be called from
// any goroutine. A deadline in the past or a Close makes pending and later
// calls fail; a passed deadline fails with an error that wraps
// os.ErrDeadlineExceeded.
type Conn interface {
	ReadMessage() ([]byte, error)
	WriteMessage([]byte) error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
	Close() error
}

// ErrClosed is returned by a closed pipe end or client.
var ErrClosed = errors.New("signaling: connection closed")

// ErrTooLarge is returned by a Conn for a message over its read limit.
var ErrTooLarge = errors.New("signaling: message too large")

// Pipe returns two connected in-memory Conns. Each direction buffers up
// to 64 messages; a writer blocks beyond that until its deadline. Closing
// either end closes both. It is for tests and for a broker and a client in
// the same process (the gateway's own session).
func Pipe() (Conn, Conn) {
	ab := make(chan []byte, 64)
	ba := make(chan []byte, 64)
	shared := &pipeShared{done: make(chan struct{})}
	a := &pipeEnd{shared: shared, in: ba, out: ab}
	b := &pipeEnd{shared: shared, in: ab, out: ba}
	a.rd.init()
	a.wd.init()
	b.rd.init()
	b.wd.init()
	return a, b
}

type pipeShared struct {
	once sync.Once
	done chan struct{}
}

type pipeEnd struct {
	shared *pipeShared
	in     <-chan []byte
	out    chan<- []byte
	rd, wd deadline
}

// ReadMessage returns the next message; messages written before a Close
// are still read, as on a socket.
func (p *pipeEnd) ReadMessage() ([]byte, error) {
	select {
	case m := <-p.in:
		return m, nil
	default:
	}
	select {
	case m := <-p.in:
		return m, nil
	case <-p.shared.done:
		select {
		case m := <-p.in:
			return m, nil
		default:
			return nil, ErrClosed
		}
	case <-p.rd.wait():
		return nil, os.ErrDeadlineExceeded
	}
}

func (p *pipeEnd) WriteMessage(m []byte) error {
	select {
	case <-p.shared.done:
		return ErrClosed
	case <-p.wd.wait():
		return os.ErrDeadlineExceeded
	default:
	}
	c := append([]byte(nil), m...)
	select {
	case p.out <- c:
		return nil
	case <-p.shared.done:
		return ErrClosed
	case <-p.wd.wait():
		return os.ErrDeadlineExceeded
	}
}

func (p *pipeEnd) SetReadDeadline(t time.Time) error  { p.rd.set(t); return nil }
func (p *pipeEnd) SetWriteDeadline(t time.Time) error { p.wd.set(t); return nil }

func (p *pipeEnd) Close() error {
	p.shared.once.Do(func() { close(p.shared.done) })
	p.rd.set(time.Time{})
	p.wd.set(time.Time{})
	return nil
}

// deadline is a settable deadline whose wait channel closes when it passes
// (the pattern of net.Pipe).
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // closed when the deadline passes
}

func (d *deadline) init() { d.cancel = make(chan struct{}) }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired and closed cancel: wait is consistent
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		c := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(c) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
