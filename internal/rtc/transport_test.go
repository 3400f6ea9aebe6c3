package rtc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// startTransport runs a loopback-only Transport with ID id on hub.
func startTransport(t testing.TB, hub *Hub, id string, mod func(*Config)) *Transport {
	t.Helper()
	sig, err := hub.Join(id)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{ID: id, Signaler: sig, LoopbackOnly: true}
	if mod != nil {
		mod(&cfg)
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("transport %s: %v", id, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("transport %s did not stop", id)
		}
		sig.Leave()
	})
	return tr
}

// readOne reads a datagram with a deadline.
func readOne(t testing.TB, c net.PacketConn, d time.Duration) ([]byte, net.Addr) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 70000)
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return buf[:n], from
}

func TestDatagramsBothWays(t *testing.T) {
	hub := NewHub()
	a := startTransport(t, hub, "alice", nil)
	b := startTransport(t, hub, "bob", nil)
	// Written before any connection exists: queued until the channel opens.
	for i := range 5 {
		msg := bytes.Repeat([]byte{byte(i)}, 1000+i*3000)
		if _, err := a.WriteTo(msg, Addr{ID: "bob"}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[int]bool{}
	for range 5 {
		m, from := readOne(t, b, 20*time.Second)
		if from.String() != "alice" || from.Network() != "webrtc" {
			t.Fatalf("from %v/%v", from.Network(), from)
		}
		i := int(m[0])
		if len(m) != 1000+i*3000 || !bytes.Equal(m, bytes.Repeat([]byte{byte(i)}, len(m))) {
			t.Fatalf("message %d: %d bytes, corrupt or wrong size", i, len(m))
		}
		got[i] = true
	}
	if len(got) != 5 {
		t.Fatalf("got %v", got)
	}
	// The answer side replies over the same connection.
	if _, err := b.WriteTo([]byte("pong"), from(t, "alice")); err != nil {
		t.Fatal(err)
	}
	if m, _ := readOne(t, a, 10*time.Second); string(m) != "pong" {
		t.Fatalf("got %q", m)
	}
	if sa, sb := a.Stats(), b.Stats(); sa.Dials != 1 || sb.Accepts != 1 || sa.Open != 1 || sb.Open != 1 {
		t.Fatalf("stats a %+v b %+v", sa, sb)
	}
}

func from(t testing.TB, id string) net.Addr { return &Addr{ID: id} }

// TestGlare: both peers write first; exactly one connection results and
// both directions work.
func TestGlare(t *testing.T) {
	for round := range 3 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			hub := NewHub()
			a := startTransport(t, hub, "a", nil)
			b := startTransport(t, hub, "b", nil)
			a.WriteTo([]byte("from a"), Addr{ID: "b"})
			b.WriteTo([]byte("from b"), Addr{ID: "a"})
			if m, _ := readOne(t, b, 20*time.Second); string(m) != "from a" {
				t.Fatalf("b got %q", m)
			}
			if m, _ := readOne(t, a, 20*time.Second); string(m) != "from b" {
				t.Fatalf("a got %q", m)
			}
			if sa, sb := a.Stats(), b.Stats(); sa.Open != 1 || sb.Open != 1 {
				t.Fatalf("a %+v b %+v", sa, sb)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	hub := NewHub()
	a := startTransport(t, hub, "a", func(c *Config) { c.MaxMessage = 20000 })
	for _, tc := range []struct {
		b    []byte
		addr net.Addr
	}{
		{[]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}},
		{[]byte("x"), Addr{}},
		{[]byte("x"), Addr{ID: "a"}}, // ourselves
		{make([]byte, 20001), Addr{ID: "b"}},
	} {
		if _, err := a.WriteTo(tc.b, tc.addr); err == nil {
			t.Errorf("WriteTo(%d bytes, %v): no error", len(tc.b), tc.addr)
		}
	}
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := a.ReadFrom(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past deadline: %v", err)
	}
	a.Close()
	if _, _, err := a.ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if _, err := a.WriteTo([]byte("x"), Addr{ID: "b"}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}
