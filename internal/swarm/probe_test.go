package swarm

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/ppsp"
)

// requestLog records the REQUESTs a leecher sends.
type requestLog struct {
	net.PacketConn
	mu   sync.Mutex
	reqs []ppsp.Spec
}

func (c *requestLog) WriteTo(b []byte, a net.Addr) (int, error) {
	if _, msgs, err := ppsp.Parse(ppsp.Context{}, b, nil); err == nil {
		c.mu.Lock()
		for _, m := range msgs {
			if m.Type == ppsp.MsgRequest {
				c.reqs = append(c.reqs, m.Spec)
			}
		}
		c.mu.Unlock()
	}
	return c.PacketConn.WriteTo(b, a)
}

// TestSizeProbeAsksForAWindow checks the start-up of decision 7: the
// request that learns the content size asks for the first probeChunks
// chunks, so the seeder's first window goes out at once, and once the size
// is known none of them is asked for again.
func TestSizeProbeAsksForAWindow(t *testing.T) {
	data := randomContent(300<<10+5, 21)
	sd := startEngine(t, nil, nil)
	src := seedContent(t, sd, data, 1024)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &requestLog{PacketConn: udp}
	le := startEngine(t, rec, nil)
	dst, sw := leechSwarm(t, le, src.ID(), 1024, ModeLeech)
	if err := dst.Connect(sd.conn.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	waitDone(t, dst, 10*time.Second)
	checkContent(t, sw, data)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("no REQUEST recorded")
	}
	if first := rec.reqs[0]; first.Start != 0 || first.End != probeChunks-1 {
		t.Fatalf("first REQUEST %v, want [0,%d]", first, probeChunks-1)
	}
	if st := src.Stats(); st.Retransmits > 0 {
		t.Skipf("loss on loopback (%d retransmissions): requests may repeat", st.Retransmits)
	}
	for c := uint64(0); c < probeChunks; c++ {
		n := 0
		for _, sp := range rec.reqs {
			if sp.Start <= c && c <= sp.End {
				n++
			}
		}
		if n != 1 {
			t.Errorf("chunk %d asked for %d times, want once", c, n)
		}
	}
}
