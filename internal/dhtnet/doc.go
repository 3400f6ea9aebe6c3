// Package dhtnet finds PPSP peers on BitTorrent's Mainline DHT (BEP 5
// get_peers / announce_peer) with the roles of reverse peer discovery
// (Jiménez, thesis ch. 11 §IV-A): boosters announce at once and keep
// re-announcing, sources poll without ever announcing until they have
// uploaded a full copy, and leechers do a single lookup as BEP 43 read-only
// nodes.
//
// The node is built on github.com/anacrolix/dht/v2: its Server owns the
// socket, KRPC decoding and the transactions of our outgoing queries. Around
// it this package supplies what v2.23.0 lacks or gets wrong (see
// docs/dht.md): the answers to queries (find_node for the right target,
// closest nodes in XOR order, our own tokens), a peer store keyed by
// ip:port with expiry, a private send limiter, an application-level routing
// table with the NR128 bucket sizes and low-RTT bias of thesis ch. 8 that
// keeps nodes which fail to answer out (ch. 7), persisted in SQLite, and an
// aggressive lookup (alpha 16, RTT-adaptive per-query timeouts whose late
// replies still count) driven through traversal.Start.
//
// Values from the DHT are hints only: nothing a peer sends is trusted until
// the Merkle tree verifies it.
package dhtnet
