package booster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/swarmgate/swarmgate/internal/rtc"
	"github.com/swarmgate/swarmgate/signaling"
)

// SignalURL turns a gateway address as a user gives it (http://host:8080,
// https://gw.example, ws://host/signal) into its signaling endpoint:
// ws(s)://host/signal unless a path is given.
func SignalURL(gateway string) (string, error) {
	u, err := url.Parse(gateway)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("booster: gateway %q: want http(s)://HOST[:PORT] or ws(s)://HOST[:PORT]/signal", gateway)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("booster: gateway %q: scheme must be http, https, ws or wss", gateway)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/signal"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// gatewayLink keeps a booster's signaling session with a gateway
// (Config.Gateway), so that browsers of that gateway reach the booster
// directly over WebRTC: a booster behind NAT cannot be dialled over UDP,
// but it can answer an offer relayed by the gateway (issue 6 §5). It is
// the rtc.Transport's Signaler. The session is redialled with the same
// peer ID when it ends (gateway restart, network change), with back-off,
// and rejoins every swarm being boosted; the transport never sees the gap.
type gatewayLink struct {
	url     string
	id      string
	log     *slog.Logger
	onPeers func(swarm string, peers []signaling.PeerInfo)

	mu     sync.Mutex
	c      *signaling.Client // nil while (re)connecting
	ready  chan struct{}     // closed when c is set
	swarms map[string]bool
}

func newGatewayLink(signalURL string, log *slog.Logger, onPeers func(string, []signaling.PeerInfo)) *gatewayLink {
	var b [16]byte
	rand.Read(b[:])
	return &gatewayLink{url: signalURL, id: "booster-" + hex.EncodeToString(b[:]), log: log, onPeers: onPeers,
		ready: make(chan struct{}), swarms: map[string]bool{}}
}

// Redial back-off of the session.
const (
	redialMin = 500 * time.Millisecond
	redialMax = 30 * time.Second
)

// run keeps the session up until ctx ends.
func (l *gatewayLink) run(ctx context.Context) {
	wait := redialMin
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		c, err := signaling.Dial(dctx, l.url, signaling.ClientConfig{Role: signaling.RoleBooster, ID: l.id, Logger: l.log})
		cancel()
		if err != nil {
			l.log.Warn("gateway signaling", "url", l.url, "err", err, "retry in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, redialMax)
			continue
		}
		wait = redialMin
		l.mu.Lock()
		l.c = c
		for s := range l.swarms {
			c.Join(s)
		}
		close(l.ready)
		l.mu.Unlock()
		l.log.Info("gateway signaling session", "url", l.url, "id", l.id)
		select {
		case <-ctx.Done():
		case <-c.Done():
			l.log.Warn("gateway signaling session ended", "url", l.url, "err", c.Err())
		}
		l.mu.Lock()
		l.c, l.ready = nil, make(chan struct{})
		l.mu.Unlock()
		c.Close()
	}
}

// join and leave keep the swarms the session is in.
func (l *gatewayLink) join(swarm string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.swarms[swarm] = true
	if l.c != nil {
		l.c.Join(swarm)
	}
}

func (l *gatewayLink) leave(swarm string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.swarms, swarm)
	if l.c != nil {
		l.c.Leave(swarm)
	}
}

// current returns the live session, waiting for one unless wait is false.
func (l *gatewayLink) current(ctx context.Context, wait bool) (*signaling.Client, error) {
	for {
		l.mu.Lock()
		c, ready := l.c, l.ready
		l.mu.Unlock()
		if c != nil || !wait {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ready:
		}
	}
}

var errNoSession = errors.New("booster: no signaling session with the gateway")

// Send implements rtc.Signaler.
func (l *gatewayLink) Send(ctx context.Context, to string, s rtc.Signal) error {
	c, _ := l.current(ctx, false)
	if c == nil {
		return errNoSession
	}
	return (&rtc.ClientSignaler{Client: c}).Send(ctx, to, s)
}

// Recv implements rtc.Signaler: the next offer, answer or candidate of
// whichever session is live; peer lists go to onPeers. It returns an
// error only when ctx ends.
func (l *gatewayLink) Recv(ctx context.Context) (string, rtc.Signal, error) {
	for {
		c, err := l.current(ctx, true)
		if err != nil {
			return "", rtc.Signal{}, err
		}
		from, s, err := (&rtc.ClientSignaler{Client: c, Other: l.other}).Recv(ctx)
		if err == nil {
			return from, s, nil
		}
		if ctx.Err() != nil {
			return "", rtc.Signal{}, ctx.Err()
		}
		// The session ended: run redials; wait for the next one.
		select {
		case <-c.Done():
		case <-ctx.Done():
		}
	}
}

// other passes peer lists and joins on; the broker lists only peers that
// can be connected to (gateway, boosters, peer-mode browsers).
func (l *gatewayLink) other(m signaling.Message) {
	if peers := m.ListedPeers(); len(peers) > 0 {
		l.onPeers(m.Swarm, peers)
	} else if m.Type == signaling.TypeError {
		l.log.Warn("gateway signaling error", "code", m.Code, "message", m.Reason)
	}
}
