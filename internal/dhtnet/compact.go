package dhtnet

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Compact peer and node encodings of BEP 5 (IPv4) and BEP 32 (IPv6).

var errCompactLen = errors.New("dhtnet: compact value has a bad length")

// ParseCompactPeer decodes a 6-byte (IPv4) or 18-byte (IPv6) compact peer.
func ParseCompactPeer(b []byte) (netip.AddrPort, error) {
	switch len(b) {
	case 6:
		ip := netip.AddrFrom4([4]byte(b[:4]))
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[4:])), nil
	case 18:
		ip := netip.AddrFrom16([16]byte(b[:16])).Unmap()
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[16:])), nil
	}
	return netip.AddrPort{}, errCompactLen
}

// AppendCompactPeer appends the compact form of ap: 6 bytes for IPv4
// (and IPv4-mapped IPv6), 18 for IPv6.
func AppendCompactPeer(b []byte, ap netip.AddrPort) []byte {
	ip := ap.Addr().Unmap()
	b = append(b, ip.AsSlice()...)
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

// CompactNode is a node entry of a compact "nodes"/"nodes6" string.
type CompactNode struct {
	ID   [20]byte
	Addr netip.AddrPort
}

// ParseCompactNodes decodes a BEP 5 "nodes" (26 bytes each) or, with v6,
// a BEP 32 "nodes6" (38 bytes each) string.
func ParseCompactNodes(b []byte, v6 bool) ([]CompactNode, error) {
	size := 26
	if v6 {
		size = 38
	}
	if len(b)%size != 0 {
		return nil, errCompactLen
	}
	out := make([]CompactNode, 0, len(b)/size)
	for ; len(b) > 0; b = b[size:] {
		ap, err := ParseCompactPeer(b[20:size])
		if err != nil {
			return nil, err
		}
		out = append(out, CompactNode{ID: [20]byte(b[:20]), Addr: ap})
	}
	return out, nil
}

// AppendCompactNode appends the compact node form: ID then compact address.
func AppendCompactNode(b []byte, n CompactNode) []byte {
	return AppendCompactPeer(append(b, n.ID[:]...), n.Addr)
}

// usableAddr reports whether ap could be a real peer or node: a unicast
// address and a non-zero port. Loopback is allowed (local overlays).
func usableAddr(ap netip.AddrPort) bool {
	ip := ap.Addr()
	if !ip.IsValid() || ap.Port() == 0 {
		return false
	}
	ip = ip.Unmap()
	if ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsLinkLocalMulticast() {
		return false
	}
	if ip.Is4() {
		a := ip.As4()
		if a[0] == 0 || a == [4]byte{255, 255, 255, 255} {
			return false
		}
	}
	return true
}
