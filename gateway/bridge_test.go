package gateway

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/client"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

func (gw *testGateway) signalURL() string {
	return "ws" + strings.TrimPrefix(gw.base, "http") + "/signal"
}

func startClient(t *testing.T, gw *testGateway, l link.Link, cfg client.Config) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg.SignalURL, cfg.Link = gw.signalURL(), l
	cfg.RTC.LoopbackOnly = true
	c, err := client.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readAll(t *testing.T, c *client.Client) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := c.Reader(ctx, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading through the client: %v (%d bytes)", err, len(b))
	}
	return b
}

// TestBridge: content lives only on a UDP seeder; a native client (what a
// browser runs) joins through /signal, reaches the gateway over WebRTC,
// and reads every byte verified. As a leecher it uploads nothing and goes
// quiet when done.
func TestBridge(t *testing.T) {
	data := randomContent(threePeaks, 21)
	sd := startSeeder(t, data, false)
	gw := startGateway(t, Config{Peers: []string{sd.addr}})
	l := link.Link{Root: sd.root, ChunkSize: 1024, Length: -1}
	c := startClient(t, gw, l, client.Config{})
	if got := readAll(t, c); !bytes.Equal(got, data) {
		t.Fatalf("client read %d bytes, not the content", len(got))
	}
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("client not complete after reading everything")
	}
	if up := c.Swarm().Stats().BytesUploaded; up != 0 {
		t.Errorf("leecher uploaded %d content bytes", up)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !c.Quiet() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !c.Quiet() {
		t.Fatal("finished leecher did not go quiet")
	}
	st := c.Transport().Stats()
	time.Sleep(300 * time.Millisecond)
	if st2 := c.Transport().Stats(); st2.MsgsSent != st.MsgsSent {
		t.Errorf("quiet leecher sent %d more messages", st2.MsgsSent-st.MsgsSent)
	}
	select {
	case <-c.Signaling().Done():
	case <-time.After(5 * time.Second):
		t.Error("quiet leecher kept its signaling session")
	}
	if sent := gw.bridge.rtc.Stats().BytesSent; sent < uint64(len(data)) {
		t.Errorf("gateway sent %d bytes over WebRTC, less than the %d of content", sent, len(data))
	}
}

// lyingStore is a store.Store whose swarms serve corrupted chunks.
type lyingStoreStore struct{ store.Store }

func (l lyingStoreStore) Open(info store.Info) (store.Swarm, error) {
	sw, err := l.Store.Open(info)
	if err != nil {
		return nil, err
	}
	return lyingStore{sw}, nil
}

// TestLyingWebRTCPeer: a peer-mode browser that serves corrupted chunks is
// dropped by the gateway; a leecher still reads exactly the content.
func TestLyingWebRTCPeer(t *testing.T) {
	data := randomContent(threePeaks, 22)
	st := store.NewMemory()
	sw, _, err := swarm.Import(st, bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: 1024}, 0)
	if err != nil {
		t.Fatal(err)
	}
	root := sw.Info().SwarmID
	sw.Close()
	gw := startGateway(t, Config{})
	l := link.Link{Root: root, ChunkSize: 1024, Length: -1}
	// The liar joins first and is the gateway's only source at first.
	startClient(t, gw, l, client.Config{Peer: true, Store: lyingStoreStore{st}})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if e := gw.lookup(root); e != nil && e.s.Stats().PeersDropped > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	e := gw.lookup(root)
	if e == nil || e.s.Stats().PeersDropped == 0 {
		t.Fatal("the gateway did not drop the lying WebRTC peer")
	}
	if have, _ := e.s.Progress(); have != 0 {
		t.Fatalf("the gateway holds %d chunks from a liar", have)
	}
	// An honest UDP seeder appears; a leecher reads the true content.
	sd := startSeeder(t, data, false)
	addr, _ := resolvePeers([]string{sd.addr})
	e.s.Connect(addr[0])
	c := startClient(t, gw, l, client.Config{})
	if got := readAll(t, c); !bytes.Equal(got, data) {
		t.Fatalf("leecher read %d bytes, not the content", len(got))
	}
}
