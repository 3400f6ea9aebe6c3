//go:build !js

package rtc

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestAnswerIsDTLSServer: an answer built with our settings takes the DTLS
// server's role (a=setup:passive), so the offerer, a browser, is the
// client and the handshake skips HelloVerify's round trip; a connection
// between two such ends opens.
func TestAnswerIsDTLSServer(t *testing.T) {
	sig, err := NewHub().Join("answerer")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{ID: "answerer", Signaler: sig, LoopbackOnly: true}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	api, pcc, err := newAPI(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.NewPeerConnection(pcc)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := api.NewPeerConnection(pcc)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	id := uint16(0)
	neg := true
	dc, err := a.CreateDataChannel("ppsp", &webrtc.DataChannelInit{Negotiated: &neg, ID: &id})
	if err != nil {
		t.Fatal(err)
	}
	open := make(chan struct{})
	dc.OnOpen(func() { close(open) })
	if _, err := b.CreateDataChannel("ppsp", &webrtc.DataChannelInit{Negotiated: &neg, ID: &id}); err != nil {
		t.Fatal(err)
	}
	offer, err := a.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(a)
	if err := a.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := b.SetRemoteDescription(*a.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := b.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer.SDP, "a=setup:passive") {
		t.Fatalf("the answer does not take the DTLS server's role:\n%s", answer.SDP)
	}
	gathered = webrtc.GatheringCompletePromise(b)
	if err := b.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := a.SetRemoteDescription(*b.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-open:
	case <-time.After(10 * time.Second):
		t.Fatal("the data channel did not open")
	}
}
