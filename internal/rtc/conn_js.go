//go:build js && wasm

package rtc

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall/js"

	"github.com/swarmgate/swarmgate/internal/jsutil"
)

// ICEServer is a STUN or TURN server (the fields of pion's type that a
// browser's RTCIceServer has).
type ICEServer struct {
	URLs       []string
	Username   string
	Credential any
}

// connFactory makes connections over the browser's RTCPeerConnection,
// called through syscall/js: ICE, DTLS and SCTP are the browser's, so none
// of pion's code is needed in the module (decision 58).
type connFactory struct {
	config js.Value // the RTCConfiguration
	max    int      // Config.MaxMessage
}

func newConnFactory(cfg *Config) (*connFactory, error) {
	conf := js.Global().Get("Object").New()
	servers := js.Global().Get("Array").New()
	for _, s := range cfg.ICEServers {
		o := js.Global().Get("Object").New()
		urls := js.Global().Get("Array").New()
		for _, u := range s.URLs {
			urls.Call("push", u)
		}
		o.Set("urls", urls)
		if s.Username != "" {
			o.Set("username", s.Username)
		}
		if c, ok := s.Credential.(string); ok && c != "" {
			o.Set("credential", c)
		}
		servers.Call("push", o)
	}
	conf.Set("iceServers", servers)
	return &connFactory{config: conf, max: cfg.MaxMessage}, nil
}

// jsConn is a conn over the browser's RTCPeerConnection and one
// RTCDataChannel (or the worker's stand-ins for them: worker.js).
type jsConn struct {
	f      *connFactory
	pc, dc js.Value
	funcs  []js.Func
	closed atomic.Bool
}

var errNoRTC = errors.New("rtc: this browser has no RTCPeerConnection")

// The constructors a message handler needs, looked up once.
var (
	arrayBuffer = js.Global().Get("ArrayBuffer")
	uint8Array  = js.Global().Get("Uint8Array")
)

func (f *connFactory) newConn(ev connEvents) (_ conn, err error) {
	ctor := js.Global().Get("RTCPeerConnection")
	if ctor.Type() != js.TypeFunction {
		return nil, errNoRTC
	}
	defer catch(&err)
	pc := ctor.New(f.config)
	init := js.Global().Get("Object").New()
	init.Set("ordered", false)
	init.Set("maxRetransmits", 0)
	init.Set("negotiated", true)
	init.Set("id", channelID)
	return f.wire(pc, pc.Call("createDataChannel", channelLabel, init), ev), nil
}

// AdoptBrowser hands the transport a connection to peer id that the page
// opened before the module ran (load.js's early connection: the signaling
// session and the offer to the gateway go while the module compiles): pc
// an RTCPeerConnection we offered on, dc its negotiated "ppsp" channel
// (ID 0, unordered, no retransmissions). Its events come to the transport
// from now on. answered tells that the page has the answer and is
// applying it (pc.remoteDescription may not show it yet: candidates the
// transport adds after it are queued behind it by the browser); if not,
// the transport applies the answer when the broker relays it.
func (t *Transport) AdoptBrowser(id string, pc, dc js.Value, answered bool) (err error) {
	defer catch(&err)
	if pc.Type() != js.TypeObject || dc.Type() != js.TypeObject {
		return errors.New("rtc: adopt: no connection")
	}
	if l := dc.Get("label"); l.Type() != js.TypeString || l.String() != channelLabel || !dc.Get("negotiated").Truthy() ||
		dc.Get("id").Type() != js.TypeNumber || dc.Get("id").Int() != channelID || dc.Get("ordered").Truthy() {
		return errors.New("rtc: adopt: not the ppsp channel")
	}
	switch pc.Get("connectionState").String() {
	case "failed", "closed":
		return errors.New("rtc: adopt: the connection " + pc.Get("connectionState").String())
	}
	if dc.Get("readyState").String() != "connecting" && dc.Get("readyState").String() != "open" {
		return errors.New("rtc: adopt: the channel is " + dc.Get("readyState").String())
	}
	remote := answered || pc.Get("remoteDescription").Type() == js.TypeObject
	open := dc.Get("readyState").String() == "open"
	return t.adopt(id, func(ev connEvents) (conn, error) { return t.fac.wire(pc, dc, ev), nil }, remote, open)
}

// wire makes a jsConn of pc and dc and sets their handlers.
func (f *connFactory) wire(pc, dc js.Value, ev connEvents) *jsConn {
	c := &jsConn{f: f, pc: pc, dc: dc}
	// ArrayBuffers, not Blobs (read through a FileReader):
	// browser-testing.md, Go-WASM pitfall 2.
	c.dc.Set("binaryType", "arraybuffer")
	// The handlers run on the browser's event loop: they hand over and
	// return, never wait (Go-WASM pitfall 3).
	on := func(v js.Value, name string, f func(args []js.Value)) {
		fn := js.FuncOf(func(this js.Value, args []js.Value) any {
			if !c.closed.Load() {
				f(args)
			}
			return nil
		})
		c.funcs = append(c.funcs, fn)
		v.Set(name, fn)
	}
	on(c.pc, "onicecandidate", func(args []js.Value) {
		if len(args) == 0 {
			return
		}
		cand := args[0].Get("candidate")
		if cand.Type() != js.TypeObject || cand.Get("candidate").Type() != js.TypeString || cand.Get("candidate").String() == "" {
			return // the end of gathering
		}
		s := Signal{Kind: Candidate, Candidate: cand.Get("candidate").String()}
		if m := cand.Get("sdpMid"); m.Type() == js.TypeString {
			s.SDPMid = m.String()
		}
		if i := cand.Get("sdpMLineIndex"); i.Type() == js.TypeNumber && i.Int() >= 0 && i.Int() < 1<<16 {
			s.SDPMLineIndex = uint16(i.Int())
		}
		ev.candidate(s)
	})
	on(c.pc, "onconnectionstatechange", func([]js.Value) {
		switch c.pc.Get("connectionState").String() {
		case "failed":
			ev.failed()
		case "closed":
			ev.closed("connection closed")
		}
	})
	on(c.dc, "onopen", func([]js.Value) { ev.open() })
	on(c.dc, "onclose", func([]js.Value) { ev.closed("data channel closed") })
	on(c.dc, "onmessage", func(args []js.Value) {
		if len(args) == 0 {
			return
		}
		d := args[0].Get("data")
		if d.Type() == js.TypeString {
			ev.message(nil, true)
			return
		}
		if d.Type() != js.TypeObject || !d.InstanceOf(arrayBuffer) {
			ev.message(nil, false) // neither text nor an ArrayBuffer: dropped as empty
			return
		}
		n := d.Get("byteLength").Int()
		if n <= 0 || n > f.max {
			ev.message(nil, false)
			return
		}
		b := make([]byte, n)
		js.CopyBytesToGo(b, uint8Array.New(d))
		jsHeld(n)
		ev.message(b, false)
	})
	return c
}

func (c *jsConn) offer() (sdp string, err error) {
	defer catch(&err)
	d, err := jsutil.Await(c.pc.Call("createOffer"))
	if err != nil {
		return "", err
	}
	if _, err := jsutil.Await(c.pc.Call("setLocalDescription", d)); err != nil {
		return "", err
	}
	return d.Get("sdp").String(), nil
}

func (c *jsConn) answer(offer string) (sdp string, err error) {
	defer catch(&err)
	if _, err := jsutil.Await(c.pc.Call("setRemoteDescription", description("offer", offer))); err != nil {
		return "", fmt.Errorf("bad offer: %w", err)
	}
	d, err := jsutil.Await(c.pc.Call("createAnswer"))
	if err == nil {
		_, err = jsutil.Await(c.pc.Call("setLocalDescription", d))
	}
	if err != nil {
		return "", fmt.Errorf("answer: %w", err)
	}
	return d.Get("sdp").String(), nil
}

func (c *jsConn) setAnswer(sdp string) (err error) {
	defer catch(&err)
	_, err = jsutil.Await(c.pc.Call("setRemoteDescription", description("answer", sdp)))
	return err
}

func (c *jsConn) addCandidate(s Signal) (err error) {
	defer catch(&err)
	o := js.Global().Get("Object").New()
	o.Set("candidate", s.Candidate)
	o.Set("sdpMid", s.SDPMid)
	o.Set("sdpMLineIndex", int(s.SDPMLineIndex))
	_, err = jsutil.Await(c.pc.Call("addIceCandidate", o))
	return err
}

// send copies b into a new Uint8Array and sends it. (One buffer per
// transport, sent as a view, looked cheaper, but the browser may read the
// view after send returns: a 50 MiB publish then uploaded 1.06 copies or
// stalled.) Go holds the array until its GC finalizes it: jsHeld.
func (c *jsConn) send(b []byte) (err error) {
	defer catch(&err)
	if len(b) > c.f.max {
		return errors.New("rtc: message too large")
	}
	u := uint8Array.New(len(b))
	js.CopyBytesToJS(u, b)
	c.dc.Call("send", u)
	jsHeld(len(b))
	return nil
}

func (c *jsConn) buffered() uint64 {
	if v := c.dc.Get("bufferedAmount"); v.Type() == js.TypeNumber {
		return uint64(v.Float())
	}
	return 0
}

func (c *jsConn) close() (err error) {
	if c.closed.Swap(true) {
		return nil
	}
	defer catch(&err)
	for _, v := range []js.Value{c.pc, c.dc} {
		for _, k := range []string{"onicecandidate", "onconnectionstatechange", "onopen", "onclose", "onmessage"} {
			if v.Get(k).Type() == js.TypeFunction {
				v.Set(k, js.Null())
			}
		}
	}
	c.pc.Call("close")
	for _, fn := range c.funcs {
		fn.Release()
	}
	return nil
}

func description(kind, sdp string) js.Value {
	d := js.Global().Get("Object").New()
	d.Set("type", kind)
	d.Set("sdp", sdp)
	return d
}

// catch turns a JavaScript exception (syscall/js panics with js.Error)
// into an error.
func catch(err *error) {
	if r := recover(); r != nil {
		if e, ok := r.(js.Error); ok {
			*err = fmt.Errorf("rtc: %s", e.Error())
			return
		}
		panic(r)
	}
}

// jsHeldBytes counts the bytes of JS objects (each received message's
// ArrayBuffer) that Go references until its GC finalizes them. A tab that
// allocates little on the Go side seldom collects, and those objects
// piled up: 108 MiB of JS heap live for 50 MiB published. Every jsGCEvery
// bytes the transport runs a collection, which releases them (decision
// 43).
var jsHeldBytes atomic.Int64

const jsGCEvery = 8 << 20

func jsHeld(n int) {
	if jsHeldBytes.Add(int64(n)) < jsGCEvery {
		return
	}
	jsHeldBytes.Store(0)
	go runtime.GC()
}
