// Package ppsp implements the RFC 7574 §8 UDP encoding of PPSP (Peer-to-Peer
// Streaming Peer Protocol) messages: a pure codec, with no I/O, that parses
// datagrams into Messages and appends Messages to byte slices.
//
// # Datagram layout
//
// All integers are big-endian.
//
//	datagram  = dst-channel(4) *message
//	message   = type(1) body
//
// A datagram with no messages is a keep-alive. Channel 0 is used only by a
// datagram that starts with a HANDSHAKE. Messages carry no length field; the
// body length follows from the type and from the channel's Context (chunk
// addressing method, hash size, signature size), which the handshake
// negotiates. "spec" below is a chunk spec whose size depends on the CAM:
//
//	CAM 0  32-bit bins          bin(4)                      Spec = the bin's chunk range
//	CAM 1  64-bit byte ranges   start(8) end(8)             Spec = bytes, end-inclusive
//	CAM 2  32-bit chunk ranges  start(4) end(4)             default (libswift, libperegrine)
//	CAM 3  64-bit bins          bin(8)
//	CAM 4  64-bit chunk ranges  start(8) end(8)
//
// Message bodies (RFC 7574 §8.4–8.13):
//
//	0x00 HANDSHAKE         src-channel(4) options… 0xff    src-channel 0 = explicit close
//	0x01 DATA              spec timestamp(8, µs) payload    payload runs to the end of the datagram
//	                                                         (or Context.ChunkSize bytes)
//	0x02 ACK               spec delay(8, µs)
//	0x03 HAVE              spec
//	0x04 INTEGRITY         spec hash(HashSize: 20 for SHA-1)
//	0x05 PEX_RESv4         ipv4(4) port(2)
//	0x06 PEX_REQ           –
//	0x07 SIGNED_INTEGRITY  spec ntp-timestamp(8) signature(SigSize)
//	0x08 REQUEST           spec
//	0x09 CANCEL            spec
//	0x0a CHOKE             –
//	0x0b UNCHOKE           –
//	0x0c PEX_RESv6         ipv6(16) port(2)
//	0x0d PEX_REScert       length(2) DER X.509v3 certificate(length)
//	0x0e–0xfe unassigned, 0xff reserved: rejected with ErrUnknownMessage
//
// HANDSHAKE protocol options (RFC 7574 §7), strictly ascending by code, each
// code at most once, ended by 0xff:
//
//	0 version            u8 (1 = RFC 7574)
//	1 minimum version    u8
//	2 swarm ID           length(2) bytes (static: root hash; live: DNSSEC alg(1) + public key)
//	3 CIPM               u8 (0 none, 1 Merkle, 2 sign all, 3 unified Merkle tree)
//	4 MHF                u8 (0 SHA-1, 1 SHA-224, 2 SHA-256, 3 SHA-384, 4 SHA-512)
//	5 LSA                u8 DNSSEC algorithm number (13 ECDSAP256SHA256 default)
//	6 CAM                u8 (0–4, above)
//	7 live discard window u32 for CAM 0/2, u64 for CAM 1/3/4 (needs option 6 before it)
//	8 supported messages length(1) bitmap (bit X from the MSB of byte 0 = type X)
//	9 chunk size         u32 (0xffffffff = variable)
//	255 end
//
// Annotated example (libswift leecher's first datagram, 43 bytes; see
// golden_test.go):
//
//	00000000                    dst channel 0: handshake initiation
//	00 b2eca27f                 HANDSHAKE, src channel
//	00 01  01 01                version 1, min version 1
//	02 0014 c89800bf…4491f7d4   swarm ID, 20 bytes (root hash)
//	03 01  04 00  06 02         CIPM Merkle, MHF SHA-1, CAM 32-bit chunk ranges
//	ff                          end
//
// # Chunk specs
//
// Spec is a uniform end-inclusive range. Bins are converted to and from the
// chunk range they cover (bin = Start + End); a Spec that is not a single
// bin cannot be written with CAM 0/3 (ErrInvalidSpec). The "all" bin decodes
// to [0, 2^31−1] (CAM 0) or [0, 2^63−1] (CAM 3); the "empty" bin decodes to
// EmptySpec (Start > End). Range methods reject start > end (ErrSpecOrder).
// For CAM 1 the Spec holds bytes as on the wire.
//
// # Context and handshakes
//
// Parse takes the channel's Context. The options of a HANDSHAKE apply to the
// messages that follow it in the same datagram (a libswift handshake reply
// carries HAVEs), see Context.Apply. libswift's legacy pre-IETF handshake
// (a channel-0 datagram starting with 0x04) is reported as
// ErrLegacyHandshake so that an engine can ignore it quietly.
//
// # Performance and aliasing
//
// Parse appends to a caller-provided slice and does not allocate when it has
// capacity. Payload, Hash, Signature and the byte-slice options alias the
// input buffer: copy them if the buffer is reused. Errors are *ParseError
// values wrapping the Err* sentinels.
//
// # Hostile input
//
// Parse is strict and total: it never panics, consumes at least one byte per
// message, checks every length against the datagram before slicing, and
// accepts at most Context.MaxMessages messages per datagram. Any malformed
// message rejects the whole datagram, which RFC 7574 §8 says to discard.
//
// # Compatibility rule
//
// The encoding of every message and option is fixed by RFC 7574 and by the
// peers already deployed. Never change an existing serialization: the golden
// bytes in golden_test.go and the capture tests must keep passing unchanged.
// New messages or options get new codes and new golden vectors; an existing
// golden vector is never edited to make a test pass.
package ppsp

// Regenerate the fuzz seed corpora from the captures in testdata/:
//go:generate go test -run TestFuzzCorpusFromCaptures -update-corpus
