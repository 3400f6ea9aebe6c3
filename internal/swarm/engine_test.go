package swarm

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/store"
)

func randomContent(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

type node struct {
	e      *Engine
	conn   net.PacketConn
	cancel context.CancelFunc
	done   chan error
}

func startEngine(t testing.TB, conn net.PacketConn, mod func(*Config)) *node {
	t.Helper()
	if conn == nil {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		TuneSocket(c, 8<<20)
		conn = c
	}
	cfg := Config{Conn: conn}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{e: e, conn: conn, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-n.done:
			if err != nil {
				t.Errorf("engine: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("engine did not stop")
		}
		conn.Close()
	})
	return n
}

func seedContent(t testing.TB, n *node, data []byte, cs uint32) *Swarm {
	t.Helper()
	st := store.NewMemory()
	sw, _, err := Import(st, bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: cs}, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := n.e.Add(SwarmConfig{Store: sw})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func leechSwarm(t testing.TB, n *node, root []byte, cs uint32, mode Mode) (*Swarm, store.Swarm) {
	t.Helper()
	st := store.NewMemory()
	sw, err := st.Open(store.Info{SwarmID: root, ChunkSize: cs, Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := n.e.Add(SwarmConfig{Store: sw, Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	return s, sw
}

func waitDone(t testing.TB, s *Swarm, d time.Duration) {
	t.Helper()
	select {
	case <-s.Done():
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
	case <-time.After(d):
		have, total := s.Progress()
		t.Fatalf("not done after %v: %d/%d chunks, stats %+v", d, have, total, s.Stats())
	}
}

func checkContent(t testing.TB, sw store.Swarm, data []byte) {
	t.Helper()
	info := sw.Info()
	if info.Length != int64(len(data)) {
		t.Fatalf("length %d, want %d", info.Length, len(data))
	}
	cs := int(info.ChunkSize)
	buf := make([]byte, cs)
	for c := 0; c*cs < len(data); c++ {
		n, err := sw.ReadChunk(uint64(c), buf)
		if err != nil {
			t.Fatalf("chunk %d: %v", c, err)
		}
		if !bytes.Equal(buf[:n], data[c*cs:min(c*cs+cs, len(data))]) {
			t.Fatalf("chunk %d differs", c)
		}
	}
}

func TestTransferUDP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		cs     uint32
		compat Compat
	}{
		{"tiny", 100, 1024, CompatAuto},
		{"m74-size", 26121, 1024, CompatAuto},
		{"1MiB-rfc", 1 << 20, 1024, CompatRFC},
		{"1MiB-libswift", 1<<20 + 7, 1024, CompatLibswift},
		{"cs8k", 3<<20 + 5, 8192, CompatAuto},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := randomContent(tc.size, uint64(tc.size))
			a := startEngine(t, nil, nil)
			b := startEngine(t, nil, func(c *Config) { c.Compat = tc.compat })
			src := seedContent(t, a, data, tc.cs)
			dst, sw := leechSwarm(t, b, src.ID(), tc.cs, ModeLeech)
			if err := dst.Connect(a.conn.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			waitDone(t, dst, 20*time.Second)
			checkContent(t, sw, data)
			t.Logf("leecher %+v engine %+v; seeder %+v engine %+v", dst.Stats(), b.e.Stats(), src.Stats(), a.e.Stats())
		})
	}
}

func BenchmarkTransferUDP(b *testing.B) {
	data := randomContent(32<<20, 1)
	a := startEngine(b, nil, nil)
	src := seedContent(b, a, data, 1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c := startEngine(b, nil, nil)
		dst, _ := leechSwarm(b, c, src.ID(), 1024, ModeLeech)
		dst.Connect(a.conn.LocalAddr())
		waitDone(b, dst, 60*time.Second)
		b.ReportMetric(float64(src.Stats().Retransmits), "retx")
		c.cancel()
	}
}
