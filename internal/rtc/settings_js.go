//go:build js && wasm

package rtc

import "github.com/pion/webrtc/v4"

// newAPI: in the browser, ICE and SCTP belong to the browser's
// RTCPeerConnection; only the ICE servers are ours to choose.
func newAPI(cfg *Config) (*webrtc.API, webrtc.Configuration, error) {
	return webrtc.NewAPI(), webrtc.Configuration{ICEServers: cfg.ICEServers}, nil
}

func closePC(pc *webrtc.PeerConnection) error { return pc.Close() }

// setBinary makes the browser deliver ArrayBuffers (the Blob path goes
// through a FileReader): browser-testing.md, Go-WASM pitfall 2.
func setBinary(dc *webrtc.DataChannel) { dc.JSValue().Set("binaryType", "arraybuffer") }
