//go:build js && wasm

package signaling

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestJSClient runs inside Node.js (the browser's WebSocket API) under
// TestBrowserClient, which starts the broker and a native booster and
// passes their addresses in the environment.
func TestJSClient(t *testing.T) {
	url, booster := os.Getenv("SIGNAL_URL"), os.Getenv("SIGNAL_BOOSTER")
	if url == "" {
		t.Skip("run by TestBrowserClient")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Dial(ctx, url, ClientConfig{Role: RoleLeecher})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if err := c.Join(swarmA); err != nil {
		t.Fatal(err)
	}
	m, err := c.Recv(ctx)
	if err != nil || m.Type != TypePeers || len(m.Peers) != 1 || m.Peers[0].ID != booster {
		t.Fatalf("peer list: %+v %v", m, err)
	}
	if err := c.Offer(booster, "v=0 from wasm"); err != nil {
		t.Fatal(err)
	}
	m, err = c.Recv(ctx)
	if err != nil || m.Type != TypeAnswer || m.From != booster || m.SDP != "v=0 answer to wasm" {
		t.Fatalf("answer: %+v %v", m, err)
	}
	mid := "0"
	if err := c.Candidate(booster, Candidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", SDPMid: &mid}); err != nil {
		t.Fatal(err)
	}
	c.Offer(c.ID(), "x")
	m, err = c.Recv(ctx)
	if err != nil || m.Type != TypeError || m.Code != CodeSelf {
		t.Fatalf("self offer: %+v %v", m, err)
	}
}
