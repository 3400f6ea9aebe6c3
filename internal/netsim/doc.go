// Package netsim provides datagram connections for tests and benchmarks: an
// impairing wrapper around any net.PacketConn (loss, per-datagram or per-path
// delay, per-destination drop rules) and a fast in-memory datagram Network
// that behaves like UDP (unreliable, bounded buffers, drops when full).
//
// The delay model for wide-area tests is RTTSampler, a distribution fitted to
// the round-trip times measured on the real Mainline DHT (Jiménez, thesis
// ch. 8, Fig. 2: 25th percentile 95 ms, median 175 ms, 75th 344 ms, 98th 1.1 s).
//
// The package is pure Go (no cgo) and builds for js/wasm.
package netsim
