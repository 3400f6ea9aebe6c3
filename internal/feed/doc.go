// Package feed implements swarmgate's signed feed: Litter's message format
// (Litter §3.1: uid, timestamp, sequence number, data, signature) with
// ed25519 identities, a canonical binary encoding (docs/feed.md), and
// propagation between nodes over HTTP: push to followers (Litter Alg. 1),
// periodic pull (Alg. 2) and gap recovery (§3.4), with signed follow
// requests, equivocation detection, BEP 44 mutable items for each uid's head,
// Atom export (RFC 4287) and OPML import and export of follows.
//
// A post carries links to content (root hash, chunk size, length, name,
// MIME type) and a kind: a post, a repost of uid+seq (meta-boosting, thesis
// ch. 11 §III-A) or a reply to uid+seq (Bwitter). Everything that arrives
// from another node is hostile until its signature and limits are checked;
// nothing unverified is stored or forwarded.
//
// The package is pure Go and builds for js/wasm; state is reached through
// the Store interface (MemStore here, SQLite in feed/feedsql).
package feed
