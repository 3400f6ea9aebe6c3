// Package swarm is the PPSP peer protocol engine (RFC 7574 §3–§5, §8, §10)
// over any datagram transport: a UDP socket today, WebRTC data channels
// through the same net.PacketConn interface.
//
// One Engine owns one transport and any number of swarms. It handshakes and
// closes channels explicitly (§3.1, §8.4), exchanges HAVE and ACK for the
// largest complete verified ranges (§3.2, §8.7), REQUEST/CANCEL (§3.7,
// §3.8), CHOKE/UNCHOKE (§3.6), follows the §5 sending rules (peaks, then
// uncles highest layer first, then DATA, skipping what the peer provably
// has), keeps channels alive and declares dead peers (§3.11, §8.12), swaps
// peers (PEX, §3.9) with the two-second mutual introduction that punches NATs,
// picks chunks for streaming (in order near the playhead, rarest first
// beyond), paces uploads with LEDBAT (RFC 6817) from the DATA timestamps and
// ACK delays, and downloads from and serves many peers at once.
//
// Every chunk is verified against the Merkle tree (internal/merkle) before
// it is stored, acknowledged or served: no unverified byte leaves the engine.
// A peer whose data or hashes fail verification, or who sends a datagram
// that does not parse, is closed and banned from the swarm.
//
// Several DATA messages share a datagram when the peer announced the RFC's
// chunk-size option (§7.11) and the path allows it (loopback, or a
// configured datagram size); libswift, which drops handshakes with that
// option, gets the draft-10 handshake and one DATA per datagram.
//
// All state is owned by the Engine's lock; the engine is driven by its Run
// loop and a housekeeping tick.
package swarm
