package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// clientReadLimit bounds a message a client accepts from the broker.
const clientReadLimit = 1 << 20

// ClientConfig configures a Client. The zero value is a peer with an
// assigned ID.
type ClientConfig struct {
	// Role is the session's role. Default RolePeer.
	Role Role
	// ID proposes a peer ID (16-64 characters of [A-Za-z0-9_-]). Default:
	// the broker assigns one.
	ID string
	// Logger receives debug events. Default: discard.
	Logger *slog.Logger
	// PingInterval is how often the client pings. Default: a third of the
	// idle timeout the broker announces.
	PingInterval time.Duration
	// WriteTimeout bounds one write. Default 10s.
	WriteTimeout time.Duration
	// Origin is sent as the Origin header by the native dialer (browsers
	// set their own). Default: none.
	Origin string
	// NetDialContext dials the TCP connection for the native dialer.
	// Default: net.Dialer.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client is one signaling session seen from its owner: a booster, the
// gateway's own peer, internal/client, or a browser (js/wasm). Its methods
// may be called from any goroutine; Recv from one at a time.
type Client struct {
	conn   Conn
	log    *slog.Logger
	id     string
	limits WelcomeLimits
	wto    time.Duration

	wmu sync.Mutex // one writer at a time

	in   chan Message
	done chan struct{}
	once sync.Once
	err  error // set before done closes
}

// Dial opens a WebSocket to a broker (ws:// or wss:// URL, usually
// .../signal), says hello and waits for the welcome. Under js/wasm it uses
// the browser's WebSocket.
func Dial(ctx context.Context, url string, cfg ClientConfig) (*Client, error) {
	conn, err := dial(ctx, url, cfg)
	if err != nil {
		return nil, fmt.Errorf("signaling: dial %s: %w", url, err)
	}
	return NewClient(ctx, conn, cfg)
}

// NewClient says hello over conn and waits for the welcome (bounded by
// ctx). On error conn is closed. The Client owns conn.
func NewClient(ctx context.Context, conn Conn, cfg ClientConfig) (*Client, error) {
	if cfg.Role == "" {
		cfg.Role = RolePeer
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	c := &Client{conn: conn, log: cfg.Logger, wto: cfg.WriteTimeout, in: make(chan Message, 64), done: make(chan struct{})}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	fail := func(err error) (*Client, error) {
		conn.Close()
		return nil, err
	}
	if err := c.write(Message{V: Version, Type: TypeHello, Role: cfg.Role, ID: cfg.ID}); err != nil {
		return fail(err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	data, err := conn.ReadMessage()
	if !stop() {
		return fail(fmt.Errorf("signaling: waiting for welcome: %w", ctx.Err()))
	}
	if err != nil {
		return fail(fmt.Errorf("signaling: waiting for welcome: %w", err))
	}
	conn.SetReadDeadline(time.Time{})
	m, err := Decode(data)
	if err != nil {
		return fail(err)
	}
	switch {
	case m.Type == TypeError:
		return fail(&ServerError{Code: m.Code, Message: m.Reason})
	case m.Type != TypeWelcome || m.Limits == nil:
		return fail(fmt.Errorf("%w: expected welcome, got %q", ErrBadMessage, m.Type))
	}
	c.id, c.limits = m.ID, *m.Limits
	ping := cfg.PingInterval
	if ping <= 0 {
		ping = time.Duration(c.limits.IdleMillis) * time.Millisecond / 3
	}
	if ping <= 0 {
		ping = DefaultIdleTimeout / 3
	}
	go c.readLoop()
	go c.pingLoop(ping)
	return c, nil
}

// ServerError is an error message from the broker that ended a dial.
type ServerError struct{ Code, Message string }

func (e *ServerError) Error() string { return "signaling: broker: " + e.Code + ": " + e.Message }

// ID is the session's peer ID.
func (c *Client) ID() string { return c.id }

// Limits are the limits the broker announced in its welcome.
func (c *Client) Limits() WelcomeLimits { return c.limits }

// Join joins a swarm (root hash in hex). The broker answers with a peers
// message, then sends joined and left updates; Recv returns them.
func (c *Client) Join(swarm string) error { return c.write(Message{Type: TypeJoin, Swarm: swarm}) }

// Leave leaves a swarm.
func (c *Client) Leave(swarm string) error { return c.write(Message{Type: TypeLeave, Swarm: swarm}) }

// RequestPeers asks for a fresh peer list of a joined swarm.
func (c *Client) RequestPeers(swarm string) error {
	return c.write(Message{Type: TypePeers, Swarm: swarm})
}

// Offer sends an SDP offer to a peer that shares a swarm.
func (c *Client) Offer(to, sdp string) error {
	return c.write(Message{Type: TypeOffer, To: to, SDP: sdp})
}

// Answer sends an SDP answer to a peer that shares a swarm.
func (c *Client) Answer(to, sdp string) error {
	return c.write(Message{Type: TypeAnswer, To: to, SDP: sdp})
}

// Candidate sends one trickled ICE candidate (an empty Candidate string
// ends the candidates).
func (c *Client) Candidate(to string, cand Candidate) error {
	return c.write(Message{Type: TypeCandidate, To: to, Candidate: &cand})
}

// Recv returns the next message from the broker: peers, joined, left,
// offer, answer, candidate or error (pongs are consumed). After the
// session ends it returns the reason (ErrClosed after Close).
func (c *Client) Recv(ctx context.Context) (Message, error) {
	select {
	case m := <-c.in:
		return m, nil
	default:
	}
	select {
	case m := <-c.in:
		return m, nil
	case <-c.done:
		select {
		case m := <-c.in:
			return m, nil
		default:
		}
		return Message{}, c.err
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// Done is closed when the session has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the session ended, once Done is closed.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close ends the session.
func (c *Client) Close() error {
	c.end(ErrClosed)
	return nil
}

func (c *Client) end(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.done)
		c.conn.Close()
	})
}

func (c *Client) write(m Message) error {
	data, err := Encode(m)
	if err != nil {
		return err
	}
	if max := c.limits.MaxMessageBytes; max > 0 && len(data) > max {
		return fmt.Errorf("%w: %s of %d bytes, the broker takes %d", ErrTooLarge, m.Type, len(data), max)
	}
	select {
	case <-c.done:
		return c.err
	default:
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(c.wto))
	if err := c.conn.WriteMessage(data); err != nil {
		c.end(fmt.Errorf("signaling: write: %w", err))
		return err
	}
	return nil
}

func (c *Client) readLoop() {
	for {
		data, err := c.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				err = ErrClosed
			}
			c.end(err)
			return
		}
		m, err := Decode(data)
		if err != nil {
			c.log.Debug("signaling: dropped a bad message from the broker", "err", err)
			continue
		}
		if m.Type == TypePong {
			continue
		}
		select {
		case c.in <- m:
		case <-c.done:
			return
		}
	}
}

func (c *Client) pingLoop(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if c.write(Message{Type: TypePing}) != nil {
				return
			}
		case <-c.done:
			return
		}
	}
}
