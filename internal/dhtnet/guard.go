package dhtnet

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent/bencode"
)

// guardConn stands between the socket and anacrolix's server: it drops
// datagrams that are not KRPC messages (anacrolix would log each one) and
// never returns a read error except once closed (anacrolix v2.23.0 panics on
// any other).
type guardConn struct {
	net.PacketConn
	closed  atomic.Bool
	dropped atomic.Int64
}

func (c *guardConn) Close() error {
	c.closed.Store(true)
	return c.PacketConn.Close()
}

func (c *guardConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			if c.closed.Load() || errors.Is(err, net.ErrClosed) {
				return 0, nil, net.ErrClosed
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				time.Sleep(10 * time.Millisecond) // do not spin on a persistent error
			}
			continue
		}
		if addr == nil || n >= len(b) {
			c.dropped.Add(1)
			continue
		}
		if _, err := DecodeKRPC(b[:n]); err != nil {
			c.dropped.Add(1)
			continue
		}
		return n, addr, nil
	}
}

// maxKRPC bounds the size of a KRPC datagram we decode.
const maxKRPC = 4096

var errNotKRPC = errors.New("dhtnet: not a KRPC message")

// DecodeKRPC decodes one KRPC message (BEP 5) as anacrolix does, and checks
// what anacrolix relies on: a dict with a transaction ID, a known type, and
// the arguments or return values that type needs.
//
// anacrolix's decoder panics on some inputs (a get_peers value shorter than
// 2 bytes: krpc.NodeAddr.UnmarshalBinary slices out of range, and bencode
// re-panics runtime errors), which would crash the process from a single
// datagram; DecodeKRPC turns that into an error.
func DecodeKRPC(b []byte) (m krpc.Msg, err error) {
	if len(b) < 2 || len(b) > maxKRPC || b[0] != 'd' {
		return m, errNotKRPC
	}
	defer func() {
		if r := recover(); r != nil {
			m, err = krpc.Msg{}, fmt.Errorf("dhtnet: KRPC decoder panicked: %v", r)
		}
	}()
	if err := bencode.Unmarshal(b, &m); err != nil {
		var trailing bencode.ErrUnusedTrailingBytes
		if !errors.As(err, &trailing) {
			return m, err
		}
	}
	switch m.Y {
	case krpc.YQuery:
		if m.A == nil || m.Q == "" {
			return m, errNotKRPC
		}
	case krpc.YResponse:
		if m.R == nil {
			return m, errNotKRPC
		}
	case krpc.YError:
	default:
		return m, errNotKRPC
	}
	return m, nil
}
