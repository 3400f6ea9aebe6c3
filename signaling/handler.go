//go:build !js

package signaling

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// HandlerConfig is the WebSocket side of the broker: how /signal upgrades
// requests. The zero value works.
type HandlerConfig struct {
	// AllowedOrigins lists Origin values (scheme://host[:port]) that may
	// open sessions besides the gateway's own host; "*" allows any origin.
	// Requests without an Origin header (native clients) are always
	// allowed; browsers always send one. Default: same origin only.
	AllowedOrigins []string
	// RemoteIP returns the address counted against MaxSessionsPerIP.
	// Default: the host of r.RemoteAddr. A gateway behind a reverse proxy
	// reads its proxy's header here.
	RemoteIP func(r *http.Request) string
	// HandshakeTimeout bounds writing the upgrade response. Default 10s.
	// The request itself is bounded by the http.Server's
	// ReadHeaderTimeout, which the gateway sets; after the upgrade the
	// broker's hello and idle deadlines apply.
	HandshakeTimeout time.Duration
}

// Handler serves the signaling protocol over WebSocket (RFC 6455) with
// gorilla/websocket. The gateway mounts it at /signal.
type Handler struct {
	b  *Broker
	ip func(*http.Request) string
	up websocket.Upgrader
}

// writePool shares write buffers between sessions: an idle session holds
// none (gorilla/websocket's WriteBufferPool).
var writePool = &sync.Pool{}

// NewHandler returns an http.Handler that runs a broker session per
// WebSocket. Sessions outlive the HTTP request (http.Server.Shutdown does
// not wait for upgraded connections): the gateway calls Broker.Close when
// it stops, and sets its http.Server's ReadHeaderTimeout against slow
// request headers.
func NewHandler(b *Broker, cfg HandlerConfig) *Handler {
	h := &Handler{b: b, ip: cfg.RemoteIP}
	if h.ip == nil {
		h.ip = func(r *http.Request) string {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				return r.RemoteAddr
			}
			return host
		}
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	h.up = websocket.Upgrader{
		HandshakeTimeout: cfg.HandshakeTimeout,
		ReadBufferSize:   1024, // smaller than net/http's 4 KiB: most messages are small
		WriteBufferSize:  4096,
		WriteBufferPool:  writePool,
		CheckOrigin:      originPolicy(cfg.AllowedOrigins),
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			http.Error(w, reason.Error(), status)
		},
	}
	return h
}

// ServeHTTP upgrades the request and serves the session until it ends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := ipKey(h.ip(r))
	if err := h.b.admit(key); err != nil {
		status := http.StatusServiceUnavailable
		if errors.Is(err, ErrIPLimit) {
			status = http.StatusTooManyRequests
		}
		w.Header().Set("Retry-After", "10")
		http.Error(w, err.Error(), status)
		return
	}
	c, err := h.up.Upgrade(w, r, nil)
	if err != nil {
		h.b.release(key)
		return
	}
	c.SetReadLimit(int64(h.b.lim.MaxMessageBytes))
	// The session runs on a goroutine of its own so that net/http's
	// connection goroutine returns and frees its request state, buffers and
	// grown stack: an idle session then costs a small stack (see the
	// figures in README). Broker.Close ends it.
	go h.b.serveAdmitted(context.Background(), &WebSocketConn{c: c}, false, key)
}

func originPolicy(allowed []string) func(*http.Request) bool {
	any := false
	set := map[string]bool{}
	for _, o := range allowed {
		if o == "*" {
			any = true
		}
		set[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" || any {
			return true
		}
		if set[strings.ToLower(origin)] {
			return true
		}
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
}

// WebSocketConn adapts a gorilla/websocket connection to Conn. Messages
// are text frames (binary frames are read the same way); a close frame
// reads as io.EOF and a message over the read limit as ErrTooLarge.
type WebSocketConn struct{ c *websocket.Conn }

// NewWebSocketConn wraps c.
func NewWebSocketConn(c *websocket.Conn) *WebSocketConn { return &WebSocketConn{c: c} }

// ReadMessage returns the next message.
func (w *WebSocketConn) ReadMessage() ([]byte, error) {
	_, p, err := w.c.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		switch {
		case errors.As(err, &ce):
			return nil, io.EOF
		case errors.Is(err, websocket.ErrReadLimit):
			return nil, ErrTooLarge
		}
		return nil, err
	}
	return p, nil
}

// WriteMessage sends one text message.
func (w *WebSocketConn) WriteMessage(p []byte) error {
	return w.c.WriteMessage(websocket.TextMessage, p)
}

// SetReadDeadline sets the read deadline.
func (w *WebSocketConn) SetReadDeadline(t time.Time) error { return w.c.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (w *WebSocketConn) SetWriteDeadline(t time.Time) error { return w.c.SetWriteDeadline(t) }

// Close closes the underlying connection.
func (w *WebSocketConn) Close() error { return w.c.Close() }

// AddFlags registers the handler's flags on fs: --signal-origin
// (repeatable or comma-separated; "*" for any) and
// --signal-handshake-timeout (default 10s).
func (c *HandlerConfig) AddFlags(fs *flag.FlagSet) {
	fs.Var((*originList)(&c.AllowedOrigins), "signal-origin", "signaling: an origin (scheme://host[:port]) allowed besides the gateway's own; repeatable, * for any")
	fs.DurationVar(&c.HandshakeTimeout, "signal-handshake-timeout", 10*time.Second, "signaling: bound on writing the WebSocket upgrade response")
}

type originList []string

func (l *originList) String() string { return strings.Join(*l, ",") }

func (l *originList) Set(v string) error {
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
				return fmt.Errorf("origin %q: want scheme://host[:port]", o)
			}
		}
		*l = append(*l, o)
	}
	return nil
}
