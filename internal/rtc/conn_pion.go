//go:build !js

package rtc

import (
	"fmt"

	"github.com/pion/webrtc/v4"
)

// pionConn is a conn over pion's PeerConnection.
type pionConn struct {
	pc *webrtc.PeerConnection
	dc *webrtc.DataChannel
}

// connFactory makes pion connections from one API and configuration.
type connFactory struct {
	api *webrtc.API
	pcc webrtc.Configuration
}

func newConnFactory(cfg *Config) (*connFactory, error) {
	api, pcc, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	return &connFactory{api: api, pcc: pcc}, nil
}

func (f *connFactory) newConn(ev connEvents) (conn, error) {
	pc, err := f.api.NewPeerConnection(f.pcc)
	if err != nil {
		return nil, fmt.Errorf("rtc: new peer connection: %w", err)
	}
	unordered, zero, negotiated, id := false, uint16(0), true, uint16(channelID)
	dc, err := pc.CreateDataChannel(channelLabel, &webrtc.DataChannelInit{
		Ordered: &unordered, MaxRetransmits: &zero, Negotiated: &negotiated, ID: &id,
	})
	if err != nil {
		pc.GracefulClose()
		return nil, fmt.Errorf("rtc: data channel: %w", err)
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		s := Signal{Kind: Candidate, Candidate: init.Candidate}
		if init.SDPMid != nil {
			s.SDPMid = *init.SDPMid
		}
		if init.SDPMLineIndex != nil {
			s.SDPMLineIndex = *init.SDPMLineIndex
		}
		ev.candidate(s)
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateFailed:
			ev.failed()
		case webrtc.PeerConnectionStateClosed:
			ev.closed("connection closed")
		}
	})
	dc.OnOpen(ev.open)
	dc.OnClose(func() { ev.closed("data channel closed") })
	dc.OnMessage(func(m webrtc.DataChannelMessage) { ev.message(m.Data, m.IsString) })
	return &pionConn{pc: pc, dc: dc}, nil
}

func (c *pionConn) offer() (string, error) {
	o, err := c.pc.CreateOffer(nil)
	if err == nil {
		err = c.pc.SetLocalDescription(o)
	}
	return o.SDP, err
}

func (c *pionConn) answer(offer string) (string, error) {
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("bad offer: %w", err)
	}
	a, err := c.pc.CreateAnswer(nil)
	if err == nil {
		err = c.pc.SetLocalDescription(a)
	}
	if err != nil {
		return "", fmt.Errorf("answer: %w", err)
	}
	return a.SDP, nil
}

func (c *pionConn) setAnswer(sdp string) error {
	return c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

func (c *pionConn) addCandidate(s Signal) error {
	return c.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: s.Candidate, SDPMid: &s.SDPMid, SDPMLineIndex: &s.SDPMLineIndex})
}

func (c *pionConn) send(b []byte) error { return c.dc.Send(b) }
func (c *pionConn) buffered() uint64    { return c.dc.BufferedAmount() }

// close closes the connection and waits for its goroutines to end.
func (c *pionConn) close() error { return c.pc.GracefulClose() }

// ICEServer is a STUN or TURN server (pion's type outside the browser).
type ICEServer = webrtc.ICEServer
