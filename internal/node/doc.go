// Package node is one PPSP (RFC 7574) peer on a host: its UDP socket, its
// SQLite state store, its engine and, when asked, its Mainline DHT (BEP 5)
// node with a role of reverse peer discovery (thesis ch. 11 §IV-A). The
// command line, the gateway and the booster daemon all open their peer
// through this package rather than each wiring socket, store and engine.
package node
