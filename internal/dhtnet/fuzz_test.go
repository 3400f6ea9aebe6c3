package dhtnet

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent/bencode"

	"github.com/swarmgate/swarmgate/internal/netsim"
)

var krpcSeeds = []string{
	"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
	"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
	"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
	"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
	"d1:rd2:id20:0123456789abcdefghij5:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
	"d1:rd2:id20:mnopqrstuvwxyz1234565:nodes26:0123456789abcdefghij\x7f\x00\x00\x01\x1a\xe1e1:t2:aa1:y1:re",
	"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
	"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:q2:roi1ee",
}

func FuzzDecodeKRPC(f *testing.F) {
	for _, s := range krpcSeeds {
		f.Add([]byte(s))
	}
	netw := netsim.NewNetwork()
	c, err := netw.Listen(netip.MustParseAddrPort("127.0.0.1:6881"))
	if err != nil {
		f.Fatal(err)
	}
	n, err := New(Config{Conn: c, Bootstrap: []string{}})
	if err != nil {
		f.Fatal(err)
	}
	defer n.Close()
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 1234}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeKRPC(b)
		if err != nil {
			return
		}
		// What decodes must re-encode and decode to the same message type.
		out, err := bencode.Marshal(m)
		if err != nil {
			return // e.g. values anacrolix can decode but not encode
		}
		m2, err := DecodeKRPC(out)
		if err == nil && (m2.Y != m.Y || m2.T != m.T || m2.Q != m.Q) {
			t.Fatalf("round trip changed the message: %+v -> %+v", m, m2)
		}
		// Whatever decodes is handled without harm, as a query to us and as
		// an answer to a lookup.
		switch m.Y {
		case krpc.YQuery:
			n.onQuery(&m, src)
		case krpc.YResponse:
			for _, p := range sanitizePeers(m.R.Values) {
				if !usableAddr(p) {
					t.Fatalf("unusable peer %v passed", p)
				}
			}
			for _, ni := range n.sanitizeNodes(m.R.Nodes, m.R.ID) {
				if ni.ID == n.self || ni.ID == m.R.ID {
					t.Fatal("self-referencing node passed")
				}
			}
			if len(n.sanitizeNodes(m.R.Nodes6, m.R.ID)) > maxNodesPerReply {
				t.Fatal("unbounded nodes")
			}
		}
	})
}

func FuzzCompactPeer(f *testing.F) {
	f.Add([]byte{127, 0, 0, 1, 0x1a, 0xe1})
	f.Add(bytes.Repeat([]byte{0xfe}, 18))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		ap, err := ParseCompactPeer(b)
		if err != nil {
			if len(b) == 6 || len(b) == 18 {
				t.Fatalf("valid length %d rejected: %v", len(b), err)
			}
			return
		}
		back := AppendCompactPeer(nil, ap)
		ap2, err := ParseCompactPeer(back)
		if err != nil || ap2 != ap {
			t.Fatalf("round trip %v -> %x -> %v (%v)", ap, back, ap2, err)
		}
		if len(b) == 6 && !bytes.Equal(back, b) {
			t.Fatalf("IPv4 round trip %x -> %x", b, back)
		}
	})
}

func FuzzCompactNodes(f *testing.F) {
	f.Add([]byte("0123456789abcdefghij\x7f\x00\x00\x01\x1a\xe1"), false)
	f.Add(bytes.Repeat([]byte{1}, 38), true)
	f.Add([]byte("short"), false)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		ns, err := ParseCompactNodes(b, v6)
		if err != nil {
			return
		}
		var back []byte
		for _, n := range ns {
			back = AppendCompactNode(back, n)
		}
		ns2, err := ParseCompactNodes(back, v6)
		if err != nil || len(ns2) != len(ns) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range ns {
			if ns[i] != ns2[i] {
				t.Fatalf("node %d: %v != %v", i, ns[i], ns2[i])
			}
		}
	})
}
