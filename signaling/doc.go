// Package signaling implements swarmgate's WebRTC signaling protocol, JSON
// messages over WebSocket (RFC 6455) at the gateway's /signal, specified in
// docs/signaling.md: a session says hello with its role, joins swarms (one
// room per root hash), receives the WebRTC-reachable peers of each swarm,
// and exchanges SDP offers and answers (RFC 8829/JSEP) and trickled ICE
// candidates (RFC 8838) with peers that share a swarm.
//
// The Broker is a library over an injected message Conn: Serve runs one
// session. Limits bound everything a client can make it hold; the gateway
// sets them from flags (Limits.AddFlags). Handler adapts gorilla/websocket
// on the server side; Client is the session's other end for boosters, the
// gateway's own peer, internal/client and, under js/wasm, the browser
// (whose WebSocket it then uses through syscall/js).
//
// Roles follow design.md §Roles: leechers and sources are never listed and
// never receive offers; a leecher connects out and stays quiet.
package signaling
