// Package gateway is the composition root of the public swarmgate server:
// the HTTP routes (the link page, /raw/ range streaming per RFC 9110, the
// front page, static assets, /healthz, /metrics), the embedded booster
// that joins swarms on a visitor's behalf over PPSP (RFC 7574) and the
// Mainline DHT (BEP 5) and keeps seeding what it fetched within a disk
// quota, WebRTC signaling (/signal) and the data-channel bridge, and a
// feed node (internal/feed: /feed/v1/, /u/<uid> as a page of the UI, Atom
// and JSON; docs/feed.md) whose hosted and followed uids' links the
// embedded booster fetches.
// Policy lives here; the engines it wires are configured, not global.
package gateway
