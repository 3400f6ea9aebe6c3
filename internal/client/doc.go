// Package client is the browser-neutral client core: it joins a swarm
// through a gateway's /signal (docs/signaling.md), connects over WebRTC
// data channels to a few of the swarm's reachable peers (the gateway
// first, then boosters and peer-mode browsers), downloads with the PPSP
// engine (RFC 7574) verifying every chunk against the Merkle tree, and
// reads the content at a playback position as it verifies. The same code
// builds natively (the gateway's tests use it as a browser) and for
// js/wasm (the browser client wraps it).
//
// A leecher (the default: a phone) uploads nothing, accepts no
// connection, and once it holds the whole content closes every peer
// connection and its signaling session: it goes quiet.
package client
