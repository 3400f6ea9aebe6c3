package rtc

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

func randomContent(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// startEngine runs a PPSP engine on conn until the test ends.
func startEngine(t testing.TB, conn net.PacketConn) *swarm.Engine {
	t.Helper()
	e, err := swarm.New(swarm.Config{Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("engine: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("engine did not stop")
		}
	})
	return e
}

func seed(t testing.TB, e *swarm.Engine, data []byte) *swarm.Swarm {
	t.Helper()
	sw, _, err := swarm.Import(store.NewMemory(), bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: 1024}, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Add(swarm.SwarmConfig{Store: sw})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type memStore struct{}

func (memStore) open(root []byte) (store.Swarm, error) {
	return store.NewMemory().Open(store.Info{SwarmID: root, ChunkSize: 1024, Length: -1})
}

func leech(t testing.TB, e *swarm.Engine, root []byte) (*swarm.Swarm, store.Swarm) {
	t.Helper()
	sw, err := memStore{}.open(root)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Add(swarm.SwarmConfig{Store: sw, Mode: swarm.ModeLeech})
	if err != nil {
		t.Fatal(err)
	}
	return s, sw
}

func waitDone(t testing.TB, s *swarm.Swarm, d time.Duration) {
	t.Helper()
	select {
	case <-s.Done():
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
	case <-time.After(d):
		have, total := s.Progress()
		t.Fatalf("not done after %v: %d/%d chunks, %+v", d, have, total, s.Stats())
	}
}

// checkContent reads every chunk back from the leecher's store (which
// serves only verified chunks) and compares it with the source.
func checkContent(t testing.TB, sw store.Swarm, data []byte) {
	t.Helper()
	if l := sw.Info().Length; l != int64(len(data)) {
		t.Fatalf("length %d, want %d", l, len(data))
	}
	buf := make([]byte, 1024)
	for c := 0; c*1024 < len(data); c++ {
		n, err := sw.ReadChunk(uint64(c), buf)
		if err != nil {
			t.Fatalf("chunk %d: %v", c, err)
		}
		if !bytes.Equal(buf[:n], data[c*1024:min(c*1024+1024, len(data))]) {
			t.Fatalf("chunk %d differs", c)
		}
	}
}

// TestEngineOverRTC: two PPSP engines, each on its own Transport, move a
// file over one data channel; every chunk verified, and datagrams are
// data-channel sized (several DATA each), not UDP sized.
func TestEngineOverRTC(t *testing.T) {
	hub := NewHub()
	ta := startTransport(t, hub, "seeder", nil)
	tb := startTransport(t, hub, "leecher", nil)
	ea, eb := startEngine(t, ta), startEngine(t, tb)
	data := randomContent(4<<20+123, 7)
	src := seed(t, ea, data)
	dst, sw := leech(t, eb, src.ID())
	if err := dst.Connect(Addr{ID: "seeder"}); err != nil {
		t.Fatal(err)
	}
	waitDone(t, dst, 60*time.Second)
	checkContent(t, sw, data)
	st := ea.Stats()
	avg := st.BytesSent / max(st.DatagramsSent, 1)
	t.Logf("seeder engine %+v (%d bytes per datagram), transport %+v", st, avg, ta.Stats())
	t.Logf("leecher swarm %+v, transport %+v", dst.Stats(), tb.Stats())
	if avg < 8000 {
		t.Errorf("seeder sent %d bytes per datagram on average; data-channel peers should get runs of chunks", avg)
	}
	if dst.Stats().PeersDropped != 0 {
		t.Errorf("peers dropped: %+v", dst.Stats())
	}
}

var _ swarm.PathBlocker = (*Transport)(nil)
var _ swarm.PathBlocker = (*Mux)(nil)

// TestEngineHoldsDataWhileBlocked: with a data-channel send buffer of only
// four datagrams, a seeder whose congestion window is far larger must wait
// for the buffer (swarm.PathBlocker) rather than lose DATA in it: nothing
// is dropped, nothing retransmitted, and the file arrives whole.
func TestEngineHoldsDataWhileBlocked(t *testing.T) {
	hub := NewHub()
	small := func(c *Config) { c.SendBuffer = 4 * 17000 }
	ta := startTransport(t, hub, "seeder", small)
	tb := startTransport(t, hub, "leecher", small)
	ea, eb := startEngine(t, ta), startEngine(t, tb)
	data := randomContent(8<<20+5, 9)
	src := seed(t, ea, data)
	dst, sw := leech(t, eb, src.ID())
	if err := dst.Connect(Addr{ID: "seeder"}); err != nil {
		t.Fatal(err)
	}
	waitDone(t, dst, 60*time.Second)
	checkContent(t, sw, data)
	st := ta.Stats()
	t.Logf("seeder transport %+v, swarm %+v", st, src.Stats())
	if st.DropsSendBuffer != 0 {
		t.Errorf("%d datagrams dropped in a full send buffer", st.DropsSendBuffer)
	}
	if r := src.Stats().Retransmits; r != 0 {
		t.Errorf("%d chunks retransmitted on a lossless path", r)
	}
}
