//go:build js && wasm

// Command wasm is swarmgate's browser client: syscall/js glue over
// internal/client, the same PPSP engine and Merkle verification as the
// native build, with WebRTC data channels (the browser's, through internal/rtc) as
// transport.
//
// It defines globalThis.swarmgate:
//
//	const h = await swarmgate.watch({link: location.href, signal: "wss://host/signal", peer: false});
//	await h.size(timeoutMs)        // content length once the peak hashes verify
//	await h.read(offset, length[, timeoutMs[, least]])   // Uint8Array of verified bytes (shorter near what is verified, but at least least bytes short of the end; empty at the end)
//	h.abort()                      // reads still waiting fail at once (a seek: they hold the playhead back)
//	h.hold(on[, end])              // fetch only from the playhead on (and only before byte end), until hold(false)
//	h.status()                     // JSON: progress, verified ranges, peers by kind, byte counts, quiet (one call stale: status.go)
//	h.close()
//
//	const p = await swarmgate.publish({file, signal, copies: 1, onProgress(done, total) {}})
//	p.root, p.link; p.status(); await p.safe() /* final status JSON */; p.close()   // see publish.go
//
//	swarmgate.mem()                // the Go heap: {heapAlloc, heapSys, totalAlloc, numGC, sys} (for tests)
//
// and calls globalThis.swarmgateReady() if the page set it. Every call
// that waits runs in its own goroutine and answers through a Promise:
// nothing blocks inside a js.FuncOf callback (browser-testing.md, Go-WASM
// pitfall 3).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/swarmgate/swarmgate/internal/client"
	"github.com/swarmgate/swarmgate/internal/jsutil"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/rtc"
	"github.com/swarmgate/swarmgate/internal/store/blobstore"
	"github.com/swarmgate/swarmgate/signaling"
)

// maxRead bounds one read: the Service Worker and MediaSource paths ask
// for at most this much per message.
const maxRead = 1 << 20

// memoryLimit is the Go heap's soft limit in the tab. A wasm module's
// linear memory only grows, so the heap's peak is what the tab keeps: the
// collector runs before the heap passes it (decision 49).
const memoryLimit = 64 << 20

func main() {
	debug.SetMemoryLimit(memoryLimit)
	api := js.Global().Get("Object").New()
	api.Set("watch", js.FuncOf(watch))
	api.Set("publish", js.FuncOf(publish))
	api.Set("version", "1")
	// mem() is the Go heap's figures, for tests and the curious: live
	// bytes, bytes obtained from the linear memory, all bytes ever
	// allocated, collections.
	api.Set("mem", js.FuncOf(func(js.Value, []js.Value) any {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return map[string]any{"heapAlloc": float64(m.HeapAlloc), "heapSys": float64(m.HeapSys), "totalAlloc": float64(m.TotalAlloc), "numGC": float64(m.NumGC), "sys": float64(m.Sys)}
	}))
	js.Global().Set("swarmgate", api)
	if ready := js.Global().Get("swarmgateReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {}
}

// promise runs f in its own goroutine and settles a Promise with its
// result: a JS value, or an Error carrying err's text.
func promise(f func() (any, error)) js.Value {
	var handler js.Func
	handler = js.FuncOf(func(this js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			defer handler.Release()
			v, err := f()
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	return js.Global().Get("Promise").New(handler)
}

func str(o js.Value, k string) string {
	if v := o.Get(k); v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}

func watch(this js.Value, args []js.Value) any {
	if len(args) < 1 || args[0].Type() != js.TypeObject {
		return promise(func() (any, error) { return nil, errors.New("swarmgate.watch: want an options object") })
	}
	o := args[0]
	lnk, signal, peer := str(o, "link"), str(o, "signal"), o.Get("peer").Truthy()
	var ice []rtc.ICEServer
	if v := o.Get("iceServers"); v.Type() == js.TypeObject {
		for i := 0; i < v.Length(); i++ {
			if u := v.Index(i); u.Type() == js.TypeString {
				ice = append(ice, rtc.ICEServer{URLs: []string{u.String()}})
			}
		}
	}
	debug := o.Get("debug").Truthy()
	// The connection the page opened while the module compiled (load.js),
	// taken now: from here the page only queues the broker's messages.
	early := js.Null()
	if f := js.Global().Get("swarmgateEarlyTake"); f.Type() == js.TypeFunction {
		early = f.Invoke(signal)
	}
	if early.Type() == js.TypeObject && peer {
		dropEarly(early) // a peer's session is not the leecher's the page opened
		early = js.Null()
	}
	return promise(func() (any, error) {
		l, err := link.Parse(lnk)
		if err != nil {
			return nil, err
		}
		cfg := client.Config{SignalURL: signal, Link: l, Peer: peer, Phase: pageMark}
		st, kind := pageStore()
		pageMark("store")
		if st != nil {
			cfg.Store, cfg.StorageKind = st, kind
		}
		cfg.RTC.ICEServers = ice
		if early.Type() == js.TypeObject {
			signaling.AdoptSocket(signal, early)
			// The peers the page offered to (none if the broker had not
			// listed any yet: the transport dials when the engine writes).
			cfg.Transport = func(t *rtc.Transport) {
				conns := early.Get("conns")
				for i := 0; conns.Type() == js.TypeObject && i < conns.Length(); i++ {
					c := conns.Index(i)
					if err := t.AdoptBrowser(c.Get("peer").String(), c.Get("pc"), c.Get("dc"), c.Get("remote").Truthy()); err != nil {
						js.Global().Get("console").Call("debug", "swarmgate: early connection not adopted: "+err.Error())
						c.Get("pc").Call("close")
					}
				}
			}
		}
		if debug {
			cfg.Logger = slog.New(slog.NewTextHandler(consoleWriter{}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		c, err := client.Start(ctx, cfg)
		if early.Type() == js.TypeObject && (err != nil || c.Offline()) {
			dropEarly(early) // never taken over (a socket taken is closed by then)
		}
		if err != nil {
			return nil, err
		}
		if st != nil {
			// Room for this video: older ones the page no longer shows go
			// first; in the background, not before the first frame.
			go func() {
				if budget := storageBudget(); budget > 0 {
					st.Trim(budget, l.Root)
				}
			}()
		}
		return handle(c), nil
	})
}

// dropEarly closes an early connection the client did not take over.
func dropEarly(e js.Value) {
	signaling.AdoptSocket("", js.Undefined())
	if conns := e.Get("conns"); conns.Type() == js.TypeObject {
		for i := 0; i < conns.Length(); i++ {
			conns.Index(i).Get("pc").Call("close")
		}
	}
	if ws := e.Get("ws"); ws.Type() == js.TypeObject && ws.Get("readyState").Int() < 2 {
		ws.Set("onmessage", js.Null())
		ws.Call("close")
	}
}

// handle is the JS object for one watched swarm.
func handle(c *client.Client) js.Value {
	h := js.Global().Get("Object").New()
	h.Set("offline", c.Offline())
	hold := newHolder(c)
	h.Set("hold", js.FuncOf(func(this js.Value, args []js.Value) any {
		on := len(args) > 0 && args[0].Truthy()
		// hold(true, end): only the bytes before end (what the player's
		// next frame needs), then nothing until hold(false).
		var end int64
		if on && len(args) > 1 && args[1].Type() == js.TypeNumber && args[1].Float() > 0 && args[1].Float() < 1<<53 {
			end = int64(args[1].Float())
		}
		hold.set(on, end)
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	h.Set("size", js.FuncOf(func(this js.Value, args []js.Value) any {
		timeout := 30 * time.Second
		if len(args) > 0 && args[0].Type() == js.TypeNumber {
			timeout = time.Duration(args[0].Float()) * time.Millisecond
		}
		return promise(func() (any, error) {
			r, err := c.Reader(ctx, timeout)
			if err != nil {
				return nil, err
			}
			n, _ := r.Seek(0, io.SeekEnd)
			return float64(n), nil
		})
	}))
	// Reads run under a context that abort() cancels: a read still
	// waiting at the old position when the player seeks would otherwise
	// keep moving the playhead back there (each wait sets it) and hold
	// up the reads at the new one.
	var readMu sync.Mutex
	readCtx, readCancel := context.WithCancel(ctx)
	reads := func() context.Context {
		readMu.Lock()
		defer readMu.Unlock()
		return readCtx
	}
	h.Set("abort", js.FuncOf(func(this js.Value, args []js.Value) any {
		readMu.Lock()
		readCancel()
		readCtx, readCancel = context.WithCancel(ctx)
		readMu.Unlock()
		return nil
	}))
	h.Set("read", js.FuncOf(func(this js.Value, args []js.Value) any {
		if len(args) < 2 || args[0].Type() != js.TypeNumber || args[1].Type() != js.TypeNumber {
			return promise(func() (any, error) { return nil, errors.New("read(offset, length): want two numbers") })
		}
		off, n := int64(args[0].Float()), int64(args[1].Float())
		timeout := 30 * time.Second
		if len(args) > 2 && args[2].Type() == js.TypeNumber {
			timeout = time.Duration(args[2].Float()) * time.Millisecond
		}
		// least: wait for this many bytes (or the end), not only the
		// first verified ones: a player well ahead reads in fewer, larger
		// pieces (each read costs the tab a Promise, a copy and a parse).
		least := int64(1)
		if len(args) > 3 && args[3].Type() == js.TypeNumber && args[3].Float() > 1 {
			least = int64(min(args[3].Float(), maxRead))
		}
		rctx := reads()
		return promise(func() (any, error) {
			if off < 0 || n < 0 {
				return nil, fmt.Errorf("read: bad range %d+%d", off, n)
			}
			r, err := c.Reader(rctx, timeout)
			if err != nil {
				return nil, err
			}
			if _, err := r.Seek(off, io.SeekStart); err != nil {
				return nil, err
			}
			buf := make([]byte, min(n, maxRead))
			k, err := io.ReadAtLeast(r, buf, int(min(least, int64(len(buf)))))
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, err
			}
			out := js.Global().Get("Uint8Array").New(k)
			js.CopyBytesToJS(out, buf[:k])
			return out, nil
		})
	}))
	status := newSnapshot(client.Status{Length: -1, Verified: [][2]uint64{}, Peers: []client.PeerStatus{}},
		func(cells int) any { return c.Status(cells) })
	h.Set("status", js.FuncOf(func(this js.Value, args []js.Value) any {
		cells := 256
		if len(args) > 0 && args[0].Type() == js.TypeNumber {
			cells = min(max(args[0].Int(), 1), 4096)
		}
		return status.get(cells)
	}))
	h.Set("close", js.FuncOf(func(this js.Value, args []js.Value) any {
		cancel()
		hold.stop()
		go c.Close()
		return nil
	}))
	return h
}

// The page's chunk store, opened by the first watch and kept for the
// page's life (blobstore over OPFS or IndexedDB; nil when the page has
// neither: chunks then stay in memory).
var (
	storeOnce sync.Once
	storeVal  *blobstore.Store
	storeKind string
)

func pageStore() (*blobstore.Store, string) {
	storeOnce.Do(func() {
		b := openBlobs()
		if b == nil {
			return
		}
		st, err := blobstore.Open(b, blobstore.Options{})
		if err != nil {
			js.Global().Get("console").Call("warn", "swarmgate: local storage unusable: "+err.Error())
			return
		}
		storeVal, storeKind = st, b.kind
	})
	return storeVal, storeKind
}

// storageBudget is how many bytes of other videos the page keeps: half of
// what the browser grants the origin (navigator.storage.estimate), or 0
// when it does not say.
func storageBudget() int64 {
	s := js.Global().Get("navigator").Get("storage")
	if s.Type() != js.TypeObject || s.Get("estimate").Type() != js.TypeFunction {
		return 0
	}
	v, err := jsutil.Await(s.Call("estimate"))
	if err != nil || v.Get("quota").Type() != js.TypeNumber {
		return 0
	}
	return int64(v.Get("quota").Float() / 2)
}

// pageMark tells the page (swarmgateMark, when it defines one) that the
// client reached a step of its start, for its timeline (--trace).
func pageMark(name string) {
	if f := js.Global().Get("swarmgateMark"); f.Type() == js.TypeFunction {
		f.Invoke(name)
	}
}

// consoleWriter sends the client's debug log to console.debug.
type consoleWriter struct{}

func (consoleWriter) Write(p []byte) (int, error) {
	js.Global().Get("console").Call("debug", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// holder applies the page's hold(on, end) calls to the client in order,
// on its own goroutine (they take the engine's lock: never inside a
// callback); only the latest matters.
type holder struct {
	mu     sync.Mutex
	on     bool
	end    int64
	closed bool
	wake   chan struct{}
}

func newHolder(c *client.Client) *holder {
	h := &holder{wake: make(chan struct{}, 1)}
	go func() {
		for range h.wake {
			h.mu.Lock()
			on, end := h.on, h.end
			h.mu.Unlock()
			c.Hold(on)
			if on {
				c.HoldUntil(end)
			}
		}
	}()
	return h
}

func (h *holder) set(on bool, end int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.on, h.end = on, end
	select {
	case h.wake <- struct{}{}:
	default: // the goroutine has yet to read: it will see this state
	}
}

// stop ends the goroutine (the handle is closed).
func (h *holder) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.wake)
	}
}
