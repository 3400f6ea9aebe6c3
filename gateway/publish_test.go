package gateway

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/client"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/rtc"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// TestPublishThroughGateway: a source (what the /publish page runs) joins
// at the gateway, which has no other way to the content, finds the gateway
// as a booster without announcing, uploads about one copy, is told it is
// safe and goes quiet; then, with the source closed, a watcher plays the
// content from the gateway's embedded booster.
func TestPublishThroughGateway(t *testing.T) {
	data := randomContent(4<<20+threePeaks, 31) // four peaks
	content, _, err := swarm.Import(store.NewMemory(), bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: 1024}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer content.Close()
	gw := startGateway(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := client.Publish(ctx, client.PublishConfig{SignalURL: gw.signalURL(), Content: content,
		Poll: 500 * time.Millisecond, RTC: rtc.Config{LoopbackOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	select {
	case <-p.Safe():
	case <-time.After(60 * time.Second):
		t.Fatalf("not safe after 60 s: %+v", p.Status())
	}
	st := p.Status()
	t.Logf("publisher: %+v; transport %+v; engine %+v", st, p.Transport().Stats(), p.SwarmStats())
	if !st.Safe || st.Holders < 1 {
		t.Errorf("status after Safe: %+v", st)
	}
	if ratio := float64(st.Uploaded) / float64(len(data)); ratio < 1 || ratio > 1.05 {
		t.Errorf("source uploaded %.3f× the content (aim ≤ 1.05)", ratio)
	}
	// Safe means done: every connection and the signaling session close.
	deadline := time.Now().Add(5 * time.Second)
	for !p.Status().Quiet || p.Transport().Stats().Open > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("publisher not quiet 5 s after safe: %+v", p.Transport().Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent := p.Transport().Stats().MsgsSent
	time.Sleep(300 * time.Millisecond)
	if more := p.Transport().Stats().MsgsSent - sent; more != 0 {
		t.Errorf("safe publisher sent %d more messages", more)
	}
	p.Close()

	c := startClient(t, gw, link.Link{Root: content.Info().SwarmID, ChunkSize: 1024, Length: -1}, client.Config{})
	if got := readAll(t, c); !bytes.Equal(got, data) {
		t.Fatalf("watcher read %d bytes, not the published content", len(got))
	}
}
