package booster

import (
	"context"
	"net"

	"golang.org/x/time/rate"
)

// limitedConn caps the bytes per second written to a datagram socket (the
// upload cap): WriteTo waits for tokens, so the engine's congestion control
// sees the cap as a slower path.
type limitedConn struct {
	net.PacketConn
	lim *rate.Limiter
	ctx context.Context
}

func newLimitedConn(ctx context.Context, c net.PacketConn, bytesPerSec int64) net.PacketConn {
	if bytesPerSec <= 0 {
		return c
	}
	burst := int(max(bytesPerSec/10, 64<<10))
	return &limitedConn{PacketConn: c, lim: rate.NewLimiter(rate.Limit(bytesPerSec), burst), ctx: ctx}
}

func (c *limitedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if err := c.lim.WaitN(c.ctx, min(len(b), c.lim.Burst())); err != nil {
		return 0, net.ErrClosed
	}
	return c.PacketConn.WriteTo(b, addr)
}

// DatagramSize and Blocked pass the wrapped transport's path knowledge
// (swarm.PathSizer, swarm.PathBlocker: a WebRTC mux) through the cap.
func (c *limitedConn) DatagramSize(addr net.Addr) int {
	if p, ok := c.PacketConn.(interface{ DatagramSize(net.Addr) int }); ok {
		return p.DatagramSize(addr)
	}
	return 0
}

func (c *limitedConn) Blocked(addr net.Addr) bool {
	if p, ok := c.PacketConn.(interface{ Blocked(net.Addr) bool }); ok {
		return p.Blocked(addr)
	}
	return false
}
