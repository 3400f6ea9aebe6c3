// Package gateway is the composition root of the public swarmgate server:
// the HTTP routes (the link page, /raw/ range streaming per RFC 9110, the
// front page, static assets, /healthz, /metrics), the embedded booster
// that joins swarms on a visitor's behalf over PPSP (RFC 7574) and the
// Mainline DHT (BEP 5) and keeps seeding what it fetched within a disk
// quota, and (as they land) WebRTC signaling and the data-channel bridge.
// Policy lives here; the engines it wires are configured, not global.
package gateway
