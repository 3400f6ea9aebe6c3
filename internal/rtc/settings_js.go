//go:build js && wasm

package rtc

import (
	"runtime"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// newAPI: in the browser, ICE and SCTP belong to the browser's
// RTCPeerConnection; only the ICE servers are ours to choose.
func newAPI(cfg *Config) (*webrtc.API, webrtc.Configuration, error) {
	return webrtc.NewAPI(), webrtc.Configuration{ICEServers: cfg.ICEServers}, nil
}

func closePC(pc *webrtc.PeerConnection) error { return pc.Close() }

// setBinary makes the browser deliver ArrayBuffers (the Blob path goes
// through a FileReader): browser-testing.md, Go-WASM pitfall 2.
func setBinary(dc *webrtc.DataChannel) { dc.JSValue().Set("binaryType", "arraybuffer") }

// jsHeldBytes counts the bytes of JS objects (a Uint8Array per message
// sent or received) that Go references until its GC finalizes them. A
// publishing tab allocates little on the Go side, so Go's GC seldom ran
// and those objects piled up: 108 MiB of JS heap live for 50 MiB
// published. Every jsGCEvery bytes the transport runs a collection,
// which releases them (docs/decisions.md 43).
var jsHeldBytes atomic.Int64

const jsGCEvery = 8 << 20

func jsHeld(n int) {
	if jsHeldBytes.Add(int64(n)) < jsGCEvery {
		return
	}
	jsHeldBytes.Store(0)
	go runtime.GC()
}
