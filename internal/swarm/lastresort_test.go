package swarm

import (
	"math/rand"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/netsim"
)

// resortConn marks one address as the peer of last resort (LastResorter),
// as the WebRTC transport marks the gateway.
type resortConn struct {
	net.PacketConn
	last string
}

func (c resortConn) LastResort(a net.Addr) bool { return a.String() == c.last }

// slowConn delays what a seeder sends by 5 ms (a 5 ms round trip): on
// bare loopback 8 MiB would be over before a second peer says hello.
func slowConn(t *testing.T) net.PacketConn {
	t.Helper()
	return netsim.Wrap(udpConn(t), netsim.Config{Delay: func(*rand.Rand) time.Duration { return 5 * time.Millisecond }})
}

func udpConn(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	TuneSocket(c, 8<<20)
	return c
}

// TestLastResort: a leecher asks a last-resort seeder for little while
// another seeder delivers, and for everything once that one is gone or
// when it is the only one.
func TestLastResort(t *testing.T) {
	const size = 8 << 20
	data := randomContent(size, 11)
	for _, tc := range []struct {
		name      string
		other     bool // a second, ordinary seeder
		leave     bool // which falls silent a quarter of the way
		maxShare  float64
		minShareA float64
	}{
		{"beside a seeder", true, false, 0.2, 0},
		{"seeder falls silent", true, true, 1, 0.3},
		{"alone", false, false, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := startEngine(t, slowConn(t), nil)
			gsrc := seedContent(t, gw, data, 1024)
			lc := udpConn(t)
			leecher := startEngine(t, resortConn{lc, gw.conn.LocalAddr().String()}, nil)
			var silent atomic.Bool
			var leech atomic.Pointer[Swarm]
			// The second seeder falls silent once the leecher holds a
			// quarter, checked as it sends (a goroutine polling for it fell
			// behind on a loaded machine while the seeder sent the rest).
			silence := func(net.Addr) bool {
				if tc.leave && !silent.Load() {
					if dst := leech.Load(); dst != nil {
						if have, total := dst.Progress(); total > 0 && have >= total/4 {
							silent.Store(true)
						}
					}
				}
				return silent.Load()
			}
			var other net.Addr
			if tc.other { // ready before the leecher connects to either
				bc := netsim.Wrap(udpConn(t), netsim.Config{Delay: func(*rand.Rand) time.Duration { return 5 * time.Millisecond },
					Drop: silence})
				b := startEngine(t, bc, nil)
				seedContent(t, b, data, 1024)
				other = b.conn.LocalAddr()
			}
			dst, sw := leechSwarm(t, leecher, gsrc.ID(), 1024, ModeLeech)
			leech.Store(dst)
			if err := dst.Connect(gw.conn.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			if other != nil {
				if err := dst.Connect(other); err != nil {
					t.Fatal(err)
				}
			}
			waitDone(t, dst, 30*time.Second)
			checkContent(t, sw, data)
			from := dst.DownloadedFrom()[gw.conn.LocalAddr().String()]
			share := float64(from) / size
			t.Logf("from the last-resort peer: %d of %d bytes (%.1f%%)", from, size, 100*share)
			if share > tc.maxShare || share < tc.minShareA {
				t.Errorf("the last-resort peer served %.1f%%, want %.0f%%..%.0f%%", 100*share, 100*tc.minShareA, 100*tc.maxShare)
			}
		})
	}
}
