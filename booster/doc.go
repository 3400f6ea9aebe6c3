// Package booster is the booster daemon of reverse peer discovery (Jiménez,
// thesis ch. 11 §III-A, §IV): it follows publishers through the signed feed
// (internal/feed: Litter push, pull and gap recovery, BEP 44 heads) and, on
// each new post with a content link from a uid it follows (or a repost by
// one, meta-boosting), announces itself in the Mainline DHT at once (BEP 5,
// before it holds a byte, so the source finds it), fetches from the source
// and the other boosters, verifies every chunk and seeds.
//
// Budgets: a disk quota with least-recently-used eviction and pins, an
// upload rate cap, and limits on concurrent swarms and swarms per
// publisher. State is SQLite (the peer store, feed.db and booster.db in
// the data directory); a restart resumes every swarm without re-hashing.
// A local API (HTTP over a unix socket, api.go) lets `swarmgate booster
// follow|unfollow|status|pin|seed|boost` drive the running daemon.
package booster
