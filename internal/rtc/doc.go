// Package rtc is a WebRTC datagram transport for the PPSP engine (RFC 7574
// over WebRTC data channels, RFC 8831): a net.PacketConn whose addresses are
// remote peer IDs, so that internal/swarm runs over data channels exactly as
// it runs over a UDP socket.
//
// One RTCPeerConnection per remote peer carries every swarm: PPSP channel
// IDs (RFC 7574 §8.2) multiplex them, and browsers allow only about 500 peer
// connections per tab over its lifetime. Each connection has one data
// channel, label "ppsp", pre-negotiated with stream ID 0 (RFC 8831 §6.5,
// no DCEP round trip), unordered and unreliable (maxRetransmits 0, RFC 8831
// §5: PR-SCTP, RFC 3758): the engine does its own retransmission and
// congestion control (LEDBAT), so SCTP must not retransmit or reorder-wait
// for it. One message is one PPSP datagram; datagrams to data-channel peers
// are sized by the transport (Config.DatagramSize, about 16 KiB: sixteen
// 1 KiB DATA with their hashes), which the engine learns through
// swarm.PathSizer.
//
// Offers, answers and trickled ICE candidates (JSEP, RFC 8829; ICE,
// RFC 8445) travel through an injected Signaler, addressed by peer ID. Glare
// (both peers offer at once) is resolved by ID: the offer of the peer with
// the smaller ID wins. A Hub is an in-process Signaler for tests and
// benchmarks.
//
// ICE gathers host candidates only unless ICE servers are configured,
// includes loopback candidates, never uses mDNS, and can be restricted to
// loopback (Config.LoopbackOnly) for tests. Setup is bounded
// (Config.SetupTimeout); a connection that fails, closes or stays silent for
// Config.IdleTimeout is closed and its resources freed. Nothing a remote
// peer sends can block the transport: messages are queued without blocking
// (the browser's event loop hands each message over and returns), bounded in
// bytes, and dropped like UDP datagrams when the queue is full; datagrams
// that do not parse are the engine's to drop.
//
// Mux joins a UDP socket and a Transport into one net.PacketConn, so that
// one engine (one store, one set of swarms) serves UDP and WebRTC peers at
// once. The package builds for js/wasm from the same code: there the
// connection under it is the browser's RTCPeerConnection, called through
// syscall/js (conn_js.go), elsewhere pion's (conn_pion.go).
package rtc
