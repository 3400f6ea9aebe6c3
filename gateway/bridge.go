package gateway

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"

	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/rtc"
	"github.com/swarmgate/swarmgate/signaling"
)

// bridge is the gateway's WebRTC side: the signaling broker at /signal,
// the gateway's own session on it (role gateway, trusted), and the WebRTC
// transport that session signals for. The transport and the UDP socket
// are muxed under one engine, so a browser that joins a swarm is served
// verified chunks the gateway fetched from UDP peers (the bridge proper),
// and the gateway connects to WebRTC boosters of its swarms too.
type bridge struct {
	broker  *signaling.Broker
	handler *signaling.Handler
	client  *signaling.Client
	rtc     *rtc.Transport
	cancel  context.CancelFunc
	done    chan struct{}
}

// startBridge starts the broker, the gateway's session and its transport.
// onJoin is called (from the broker, must not block) when a session joins
// a swarm; other is called with the broker's messages to the gateway.
func startBridge(ctx context.Context, cfg Config, onJoin func(string, signaling.Role), other func(signaling.Message)) (*bridge, error) {
	b := &bridge{done: make(chan struct{})}
	b.broker = signaling.NewBroker(signaling.Config{Limits: cfg.Signal, Logger: cfg.Logger.With("part", "signaling"), OnJoin: onJoin})
	b.handler = signaling.NewHandler(b.broker, cfg.SignalHandler)
	ctx, b.cancel = context.WithCancel(ctx)
	mine, theirs := signaling.Pipe()
	go b.broker.Serve(ctx, theirs, signaling.SessionOptions{Trusted: true})
	c, err := signaling.NewClient(ctx, mine, signaling.ClientConfig{Role: signaling.RoleGateway, Logger: cfg.Logger.With("part", "signaling-client")})
	if err != nil {
		b.cancel()
		b.broker.Close()
		return nil, fmt.Errorf("gateway signaling session: %w", err)
	}
	b.client = c
	rc := cfg.RTC
	rc.ID, rc.Signaler = c.ID(), &rtc.ClientSignaler{Client: c, Other: other}
	if rc.Logger == nil {
		rc.Logger = cfg.Logger.With("part", "rtc")
	}
	t, err := rtc.New(rc)
	if err != nil {
		c.Close()
		b.cancel()
		b.broker.Close()
		return nil, err
	}
	b.rtc = t
	go func() {
		defer close(b.done)
		t.Run(ctx)
	}()
	return b, nil
}

// close ends the transport, the gateway's session and every session.
func (b *bridge) close() {
	b.cancel()
	b.rtc.Close()
	<-b.done
	b.client.Close()
	b.broker.Close()
}

// onSignalJoin is the broker's OnJoin: a browser (or native client,
// booster, peer) joined a swarm, so the gateway joins it too — with the
// default tree parameters unless it already knows the content (a client
// whose link has other parameters loads the link page or status with them
// first, which joins with the right ones).
func (g *Gateway) onSignalJoin(swarm string, role signaling.Role) {
	root, err := hex.DecodeString(swarm)
	if err != nil {
		return
	}
	go func() {
		l := link.Link{Root: root, ChunkSize: 1024, Length: -1}
		if h, ok := hashFuncForRoot(len(root)); ok {
			l.HashFunc = h
		} else {
			return
		}
		if _, err := g.join(l); err != nil {
			g.log.Debug("join for a signaling session", "swarm", swarm, "err", err)
		}
	}()
}

// hashFuncForRoot is the RFC 7574 Merkle hash function a root of n bytes
// implies (internal/link's rule).
func hashFuncForRoot(n int) (uint8, bool) {
	switch n {
	case 20:
		return 0, true
	case 28:
		return 1, true
	case 32:
		return 2, true
	case 48:
		return 3, true
	case 64:
		return 4, true
	}
	return 0, false
}

// onSignal handles the broker's other messages to the gateway: peer lists
// and joins of swarms the gateway is in. Boosters and peer-mode browsers
// are connected to over WebRTC (the gateway fetches from them too);
// leechers and sources are never listed.
func (g *Gateway) onSignal(m signaling.Message) {
	peers := m.ListedPeers()
	root, err := hex.DecodeString(m.Swarm)
	if err != nil || len(peers) == 0 {
		return
	}
	// Off the signaling reader: it must never wait on the gateway's lock.
	go func() {
		e := g.lookup(root)
		if e == nil {
			return
		}
		for _, p := range peers {
			if p.Role == signaling.RoleBooster || p.Role == signaling.RolePeer {
				e.s.Connect(rtc.Addr{ID: p.ID})
			}
		}
	}()
}

// muxConn is the engine's transport: UDP and WebRTC in one PacketConn.
func muxConn(udp net.PacketConn, b *bridge) net.PacketConn {
	if b == nil {
		return udp
	}
	return rtc.NewMux(udp, b.rtc, 0)
}
