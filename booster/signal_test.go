package booster

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/gateway"
	"github.com/swarmgate/swarmgate/internal/client"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/rtc"
)

func TestSignalURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":        "ws://127.0.0.1:8080/signal",
		"https://gw.example/":          "wss://gw.example/signal",
		"ws://h:1/signal":              "ws://h:1/signal",
		"wss://h/custom/path?x=1#frag": "wss://h/custom/path",
	} {
		if got, err := SignalURL(in); err != nil || got != want {
			t.Errorf("SignalURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "gw.example", "ftp://h/", "http://", "://x"} {
		if got, err := SignalURL(bad); err == nil {
			t.Errorf("SignalURL(%q) = %q, want an error", bad, got)
		}
	}
}

// runGateway serves a gateway on listen (loopback, no DHT, no static
// peers: it can reach content only over WebRTC) until the returned stop.
func runGateway(t *testing.T, listen, dir string) (*gateway.Gateway, func()) {
	t.Helper()
	g, err := gateway.New(gateway.Config{Listen: listen, UDP: "127.0.0.1:0", NoDHT: true, DataDir: dir,
		RTC: rtc.Config{LoopbackOnly: true}, FetchTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return g, stop
}

// watch downloads root through the gateway at addr as a browser would
// (internal/client: signaling, WebRTC, every chunk verified) and returns
// the bytes and the client's final status.
func watch(t *testing.T, addr string, root []byte) ([]byte, client.Status) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.Start(ctx, client.Config{SignalURL: "ws://" + addr + "/signal",
		Link: link.Link{Root: root, ChunkSize: 1024, Length: -1}, RTC: rtc.Config{LoopbackOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Reader(ctx, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read: %v (status %+v)", err, c.Status(0))
	}
	return got, c.Status(0)
}

// TestBoostThroughGateway: a booster that the gateway cannot reach over
// UDP (no DHT, no --peer) keeps a signaling session with it (--gateway),
// so a browser-like client of the gateway fetches from the booster
// directly over WebRTC, and the gateway relays from it too. When the
// gateway restarts, the booster redials and rejoins, and the next client
// is served again.
func TestBoostThroughGateway(t *testing.T) {
	data := make([]byte, 3<<20+99)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "video.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	g, stopGW := runGateway(t, "127.0.0.1:0", filepath.Join(dir, "gw"))
	addr := g.Addr().String()

	b := newTestBooster(t, filepath.Join(dir, "booster"), func(c *Config) {
		c.Gateway = "http://" + addr
		c.RTC.LoopbackOnly = true
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	c, err := b.Seed(file, merkle.Options{ChunkSize: 1024})
	if err != nil {
		t.Fatal(err)
	}

	got, st := watch(t, addr, c.Root)
	if !bytes.Equal(got, data) {
		t.Fatalf("client read %d bytes, not the file's %d", len(got), len(data))
	}
	// The booster is the only peer besides the gateway, and the client,
	// done, has closed its channels: the per-sender counts remain.
	t.Logf("first client: %d from peers, %d from the gateway", st.FromPeers, st.FromGateway)
	if st.FromPeers == 0 || st.FromPeers+st.FromGateway != uint64(len(data)) {
		t.Fatalf("from the booster directly %d, from the gateway %d, of %d", st.FromPeers, st.FromGateway, len(data))
	}

	// Restart the gateway on the same address, with fresh state: only the
	// booster holds the content, and it must come back on its own.
	stopGW()
	runGateway(t, addr, filepath.Join(dir, "gw2"))
	got, st = watch(t, addr, c.Root)
	if !bytes.Equal(got, data) {
		t.Fatalf("after the gateway restarted: client read %d bytes, not the file's %d", len(got), len(data))
	}
	t.Logf("after restart: %d from peers, %d from the gateway", st.FromPeers, st.FromGateway)
}
