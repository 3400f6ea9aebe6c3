package rtc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/swarm"
)

func countFDs(t testing.TB) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system") // Linux CI always has it
	}
	return len(es)
}

// waitBaseline polls until goroutines and fds are back to at most the
// baseline.
func waitBaseline(t testing.TB, what string, g0, f0 int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		g, f := runtime.NumGoroutine(), countFDs(t)
		if g <= g0 && f <= f0 {
			t.Logf("%s: %d goroutines (baseline %d), %d fds (baseline %d)", what, g, g0, f, f0)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%s: %d goroutines (baseline %d), %d fds (baseline %d)\n%s", what, g, g0, f, f0, buf[:n])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTeardownFreesEverything: idle connections are closed while the
// transports run, and their goroutines and sockets go; stopping the
// transports returns to the process's baseline.
func TestTeardownFreesEverything(t *testing.T) {
	g0, f0 := runtime.NumGoroutine(), countFDs(t)
	hub := NewHub()
	mk := func(id string) (*Transport, context.CancelFunc, chan error) {
		sig, _ := hub.Join(id)
		tr, err := New(Config{ID: id, Signaler: sig, LoopbackOnly: true, IdleTimeout: 700 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- tr.Run(ctx); sig.Leave() }()
		return tr, cancel, done
	}
	ta, ca, da := mk("a")
	tb, cb, db := mk("b")
	time.Sleep(100 * time.Millisecond)
	g1, f1 := runtime.NumGoroutine(), countFDs(t)

	for round := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		ea, _ := swarm.New(swarm.Config{Conn: ta})
		eb, _ := swarm.New(swarm.Config{Conn: tb})
		ra, rb := make(chan error, 1), make(chan error, 1)
		go func() { ra <- ea.Run(ctx) }()
		go func() { rb <- eb.Run(ctx) }()
		data := randomContent(1<<20+9, uint64(round))
		src := seed(t, ea, data)
		dst, sw := leech(t, eb, src.ID())
		dst.Connect(Addr{ID: "a"})
		waitDone(t, dst, 60*time.Second)
		checkContent(t, sw, data)
		cancel()
		<-ra
		<-rb
		// Both engines are gone; the idle timeout closes the connection.
		deadline := time.Now().Add(20 * time.Second)
		for ta.Stats().Open+tb.Stats().Open != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: connections not closed: a %+v b %+v", round, ta.Stats(), tb.Stats())
			}
			time.Sleep(50 * time.Millisecond)
		}
		waitBaseline(t, fmt.Sprintf("round %d, transports running", round), g1, f1)
	}
	if s := ta.Stats(); s.IdleClosed+tb.Stats().IdleClosed == 0 || s.Opened != 2 {
		t.Errorf("a %+v b %+v", s, tb.Stats())
	}
	ca()
	cb()
	for _, d := range []chan error{da, db} {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	waitBaseline(t, "transports stopped", g0, f0)
}

// TestSetupTimeout: a peer that never answers costs one bounded attempt;
// it is not redialled at once; an unknown peer fails at once.
func TestSetupTimeout(t *testing.T) {
	hub := NewHub()
	ghost, _ := hub.Join("ghost") // joined, never answers
	defer ghost.Leave()
	a := startTransport(t, hub, "a", func(c *Config) {
		c.SetupTimeout = 400 * time.Millisecond
		c.RedialDelay = time.Hour
	})
	a.WriteTo([]byte("hello"), Addr{ID: "ghost"})
	a.WriteTo([]byte("hello"), Addr{ID: "nobody"}) // not on the hub: Send fails
	deadline := time.Now().Add(20 * time.Second)
	for a.Stats().SetupFailed < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("setup not failed: %+v", a.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := a.Stats(); s.Open != 0 || s.Dials != 2 {
		t.Fatalf("%+v", s)
	}
	a.WriteTo([]byte("again"), Addr{ID: "ghost"})
	if s := a.Stats(); s.Dials != 2 || s.DropsPending == 0 {
		t.Fatalf("redialled at once: %+v", s)
	}
}

// TestGarbage: a peer that sends garbage datagrams, and garbage signals,
// crashes nothing; the engine drops the datagrams and keeps serving.
func TestGarbage(t *testing.T) {
	hub := NewHub()
	victim := startTransport(t, hub, "victim", nil)
	e := startEngine(t, victim)
	data := randomContent(512<<10, 9)
	src := seed(t, e, data)

	liar := startTransport(t, hub, "liar", nil)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		var b []byte
		switch i % 4 {
		case 0:
			b = make([]byte, r.IntN(17000)+1)
			for j := range b {
				b[j] = byte(r.Uint32())
			}
		case 1:
			b = []byte{0, 0, 0, 0, 0, byte(r.Uint32())} // a broken handshake
		case 2:
			b = []byte{byte(r.Uint32()), 1, 2, 3, 4, 5, 6, 7} // an unknown channel
		default:
			b = []byte{1}
		}
		liar.WriteTo(b, Addr{ID: "victim"})
		if i%50 == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Garbage signals from a peer on the hub.
	evil, _ := hub.Join("evil")
	defer evil.Leave()
	ctx := context.Background()
	for _, s := range []Signal{
		{Kind: Offer, SDP: "v=0\r\nnonsense"},
		{Kind: Offer},
		{Kind: Answer, SDP: "v=0"},
		{Kind: Candidate, Candidate: "candidate:garbage"},
		{Kind: 99},
		{Kind: Offer, SDP: string(make([]byte, maxSDP+1))},
	} {
		if err := evil.Send(ctx, "victim", s); err != nil {
			t.Fatal(err)
		}
	}
	// The victim still serves a real leecher.
	leecher := startEngine(t, startTransport(t, hub, "leecher", nil))
	dst, sw := leech(t, leecher, src.ID())
	dst.Connect(Addr{ID: "victim"})
	waitDone(t, dst, 60*time.Second)
	checkContent(t, sw, data)
	if s := e.Stats(); s.Dropped == 0 {
		t.Errorf("engine dropped nothing: %+v", s)
	}
	if s := victim.Stats(); s.SignalsDropped+s.SetupFailed == 0 {
		t.Errorf("victim %+v", s)
	}
	t.Logf("engine %+v; victim %+v", e.Stats(), victim.Stats())
}
