// Package pcapfile reads UDP datagrams out of classic libpcap capture files
// (the format of tcpdump -w): the test captures of libswift and
// libperegrine that the codec and engine tests replay. Input is untrusted:
// malformed files give errors, never panics.
package pcapfile

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
)

// Packet is one UDP datagram read from a capture.
type Packet struct {
	Src, Dst netip.AddrPort
	Payload  []byte
}

// Read reads a classic libpcap file (either byte order, µs or ns
// timestamps) of UDP/IPv4 (or IPv6) datagrams and returns their payloads.
// Supported link types: NULL (0), EN10MB (1), RAW (101), LINUX_SLL (113).
func Read(path string) ([]Packet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes the bytes of a pcap file; name is used in errors.
func Parse(path string, data []byte) ([]Packet, error) {
	if len(data) < 24 {
		return nil, fmt.Errorf("%s: short pcap header", path)
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("%s: not a classic pcap file", path)
	}
	link := bo.Uint32(data[20:])
	var pkts []Packet
	for off := 24; off < len(data); {
		if len(data)-off < 16 {
			return nil, fmt.Errorf("%s: truncated record header at %d", path, off)
		}
		incl := int(bo.Uint32(data[off+8:]))
		orig := int(bo.Uint32(data[off+12:]))
		off += 16
		if incl > len(data)-off {
			return nil, fmt.Errorf("%s: truncated record at %d", path, off)
		}
		if incl != orig {
			return nil, fmt.Errorf("%s: record at %d truncated by snaplen", path, off)
		}
		frame := data[off : off+incl]
		off += incl
		var l3 []byte
		switch link {
		case 0: // DLT_NULL: 4-byte host-order address family
			if len(frame) < 4 {
				return nil, fmt.Errorf("short NULL frame")
			}
			l3 = frame[4:]
		case 1: // DLT_EN10MB
			if len(frame) < 14 {
				return nil, fmt.Errorf("short Ethernet frame")
			}
			et := binary.BigEndian.Uint16(frame[12:])
			l3 = frame[14:]
			if et == 0x8100 && len(frame) >= 18 { // 802.1Q
				et = binary.BigEndian.Uint16(frame[16:])
				l3 = frame[18:]
			}
			if et != 0x0800 && et != 0x86dd {
				continue
			}
		case 101: // DLT_RAW
			l3 = frame
		case 113: // DLT_LINUX_SLL
			if len(frame) < 16 {
				return nil, fmt.Errorf("short SLL frame")
			}
			l3 = frame[16:]
		default:
			return nil, fmt.Errorf("%s: unsupported link type %d", path, link)
		}
		p, ok, err := parseIPUDP(l3)
		if err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", path, len(pkts), err)
		}
		if ok {
			pkts = append(pkts, p)
		}
	}
	return pkts, nil
}

func parseIPUDP(b []byte) (Packet, bool, error) {
	var p Packet
	if len(b) < 1 {
		return p, false, fmt.Errorf("empty IP packet")
	}
	var src, dst netip.Addr
	var l4 []byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return p, false, fmt.Errorf("short IPv4 header")
		}
		ihl := int(b[0]&0xf) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		if ihl < 20 || total < ihl || total > len(b) {
			return p, false, fmt.Errorf("bad IPv4 lengths")
		}
		if b[9] != 17 {
			return p, false, nil
		}
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		l4 = b[ihl:total]
	case 6:
		if len(b) < 40 {
			return p, false, fmt.Errorf("short IPv6 header")
		}
		if b[6] != 17 {
			return p, false, nil
		}
		plen := int(binary.BigEndian.Uint16(b[4:]))
		if 40+plen > len(b) {
			return p, false, fmt.Errorf("bad IPv6 length")
		}
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		l4 = b[40 : 40+plen]
	default:
		return p, false, nil
	}
	if len(l4) < 8 {
		return p, false, fmt.Errorf("short UDP header")
	}
	ulen := int(binary.BigEndian.Uint16(l4[4:]))
	if ulen < 8 || ulen > len(l4) {
		return p, false, fmt.Errorf("bad UDP length %d", ulen)
	}
	p.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4[0:]))
	p.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4[2:]))
	p.Payload = l4[8:ulen]
	return p, true, nil
}
