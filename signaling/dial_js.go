//go:build js && wasm

package signaling

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"syscall/js"
	"time"
)

// maxBrowserQueue bounds messages received but not yet read; beyond it
// the connection is closed (the broker bounds its own queue the same way).
const maxBrowserQueue = 1024

// maxBuffered is the most bytes the browser may hold unsent
// (WebSocket.bufferedAmount) before a write fails.
const maxBuffered = 1 << 20

// adopted is a session the page opened before the module ran, for the
// next Dial of its URL (AdoptSocket).
var adopted struct {
	sync.Mutex
	url   string
	early js.Value
}

// AdoptSocket gives the next Dial of url the WebSocket the page opened
// before the module ran (load.js's early connection, while the module
// compiled): early.ws the socket, early.helloSent whether the page said
// hello on it, early.msgs the page's array of the broker's messages
// (strings) since, the welcome first, in order. The page keeps saying
// hello and filling msgs until that Dial takes the socket's events over:
// the Dial then skips its own hello if the page's went, and reads the
// queued messages before anything newer, each checked as any message from
// the broker is. A socket closing or closed by then is closed and Dial
// opens its own.
func AdoptSocket(url string, early js.Value) {
	adopted.Lock()
	defer adopted.Unlock()
	adopted.url, adopted.early = url, early
}

// takeAdopted returns the adopted socket for url, whether the page said
// hello on it, and what it queued; or an undefined socket. Read together
// with the handlers' take-over (no wait in between: the page's handlers
// act until then).
func takeAdopted(url string) (ws js.Value, hello bool, queued [][]byte) {
	adopted.Lock()
	defer adopted.Unlock()
	e, u := adopted.early, adopted.url
	adopted.url, adopted.early = "", js.Undefined()
	if e.Type() != js.TypeObject {
		return js.Undefined(), false, nil
	}
	ws, q := e.Get("ws"), e.Get("msgs")
	if ws.Type() != js.TypeObject {
		return js.Undefined(), false, nil
	}
	if st := ws.Get("readyState"); u != url || st.Type() != js.TypeNumber || st.Int() > 1 || q.Type() != js.TypeObject || q.Length() > maxBrowserQueue {
		ws.Call("close") // closing or closed
		return js.Undefined(), false, nil
	}
	for i := 0; i < q.Length(); i++ {
		if m := q.Index(i); m.Type() == js.TypeString {
			queued = append(queued, []byte(m.String()))
		}
	}
	return ws, e.Get("helloSent").Truthy(), queued
}

// dial opens the browser's WebSocket (WHATWG WebSockets) and waits for it
// to open, or takes the one AdoptSocket gave for url.
func dial(ctx context.Context, url string, cfg ClientConfig) (Conn, error) {
	ctor := js.Global().Get("WebSocket")
	if ctor.IsUndefined() {
		return nil, errors.New("no WebSocket in this JavaScript environment")
	}
	c := &browserConn{opened: make(chan struct{}), notify: make(chan struct{}, 1)}
	c.rd.init()
	c.wd.init()
	ws, hello, queued := takeAdopted(url)
	if ws.Type() == js.TypeObject {
		c.helloSent = hello
		if ws.Get("readyState").Int() == 1 {
			c.isOpen = true
			close(c.opened)
		}
		c.queue = queued
	} else {
		func() {
			defer func() {
				if r := recover(); r != nil {
					ws = js.Undefined()
				}
			}()
			ws = ctor.New(url)
		}()
	}
	if ws.IsUndefined() {
		return nil, errors.New("the browser refused the WebSocket URL")
	}
	c.ws = ws
	c.onOpen = js.FuncOf(func(this js.Value, args []js.Value) any {
		c.mu.Lock()
		if !c.isOpen {
			c.isOpen = true
			close(c.opened)
		}
		c.mu.Unlock()
		return nil
	})
	c.onMessage = js.FuncOf(func(this js.Value, args []js.Value) any {
		data := args[0].Get("data")
		if data.Type() != js.TypeString { // binary frames are not part of the protocol
			return nil
		}
		c.push([]byte(data.String()))
		return nil
	})
	c.onClose = js.FuncOf(func(this js.Value, args []js.Value) any {
		c.shut(io.EOF)
		return nil
	})
	ws.Set("onopen", c.onOpen)
	ws.Set("onmessage", c.onMessage)
	ws.Set("onclose", c.onClose)
	select {
	case <-c.opened:
		return c, nil
	case <-c.closedCh():
		c.Close()
		return nil, errors.New("the WebSocket closed before it opened")
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
}

// browserConn is a Conn over the browser's WebSocket. JavaScript callbacks
// never block: received messages go to a bounded queue.
type browserConn struct {
	ws                         js.Value
	onOpen, onMessage, onClose js.Func
	opened                     chan struct{}
	notify                     chan struct{} // a message arrived or the conn closed
	rd, wd                     deadline

	mu        sync.Mutex
	isOpen    bool
	helloSent bool // an adopted socket: the page said hello already
	queue     [][]byte
	closed    bool
	closeCh   chan struct{}
	err       error
}

func (c *browserConn) closedCh() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeCh == nil {
		c.closeCh = make(chan struct{})
		if c.closed {
			close(c.closeCh)
		}
	}
	return c.closeCh
}

func (c *browserConn) push(p []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= maxBrowserQueue {
		c.mu.Unlock()
		c.Close()
		return
	}
	c.queue = append(c.queue, p)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *browserConn) shut(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.err = err
	if c.closeCh != nil {
		close(c.closeCh)
	}
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *browserConn) ReadMessage() ([]byte, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			p := c.queue[0]
			c.queue[0] = nil
			if c.queue = c.queue[1:]; len(c.queue) == 0 {
				c.queue = nil
			}
			c.mu.Unlock()
			return p, nil
		}
		if c.closed {
			err := c.err
			c.mu.Unlock()
			return nil, err
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-c.rd.wait():
			return nil, os.ErrDeadlineExceeded
		}
	}
}

func (c *browserConn) WriteMessage(p []byte) error {
	c.mu.Lock()
	closed, ws, skipHello := c.closed, c.ws, c.helloSent
	c.helloSent = false // only the first write can be our hello
	c.mu.Unlock()
	if closed || ws.IsNull() || ws.IsUndefined() {
		return ErrClosed
	}
	if isClosed(c.wd.wait()) {
		return os.ErrDeadlineExceeded
	}
	if skipHello {
		// The page sent our hello on the adopted socket.
		if m, err := Decode(p); err == nil && m.Type == TypeHello {
			return nil
		}
	}
	if ws.Get("bufferedAmount").Int() > maxBuffered {
		return errors.New("signaling: the browser's WebSocket send buffer is full")
	}
	ws.Call("send", string(p))
	return nil
}

func (c *browserConn) SetReadDeadline(t time.Time) error  { c.rd.set(t); return nil }
func (c *browserConn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

// Close closes the WebSocket and releases the callbacks.
func (c *browserConn) Close() error {
	c.mu.Lock()
	if c.ws.IsUndefined() || c.ws.IsNull() {
		c.mu.Unlock()
		return nil
	}
	ws := c.ws
	c.ws = js.Null()
	c.mu.Unlock()
	ws.Set("onopen", js.Null())
	ws.Set("onmessage", js.Null())
	ws.Set("onclose", js.Null())
	ws.Call("close")
	c.onOpen.Release()
	c.onMessage.Release()
	c.onClose.Release()
	c.shut(ErrClosed)
	return nil
}
