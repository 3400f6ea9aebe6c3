package ppsp

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// Golden vectors. RULE: never edit an existing vector to make a test pass;
// a changed serialization breaks deployed peers (see doc.go). Add new
// vectors for new encodings.

// unhex decodes an annotated hex dump: everything from '#' to the end of a
// line is a comment, whitespace is ignored.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad golden hex: %v", err)
	}
	return b
}

var rootM74 = []byte{
	0xc8, 0x98, 0x00, 0xbf, 0xc8, 0x2e, 0xd0, 0x1e, 0xd6, 0xe3,
	0xbf, 0xd5, 0x40, 0x8c, 0x51, 0x27, 0x44, 0x91, 0xf7, 0xd4,
}

func TestGoldenHandshakes(t *testing.T) {
	tests := []struct {
		name    string
		golden  string
		channel uint32
		build   func() ([]byte, error)
	}{
		{
			name: "libswift initiator (capture libswift-seed_libswift-leech #0)",
			golden: `
				00000000       # dst channel 0: handshake initiation
				00 b2eca27f    # HANDSHAKE, src channel
				00 01          # version 1
				01 01          # min version 1
				02 0014 c89800bfc82ed01ed6e3bfd5408c51274491f7d4  # swarm id, len 20 = root hash
				03 01          # CIPM 1 Merkle hash tree
				04 00          # MHF 0 SHA-1
				06 02          # CAM 2 32-bit chunk ranges
				ff             # end of options`,
			build: func() ([]byte, error) {
				return AppendHandshake(AppendHeader(nil, 0), 0xb2eca27f, LibswiftOptions(rootM74, MHFSHA1))
			},
		},
		{
			name: "libswift responder with HAVEs (capture #1)",
			golden: `
				b2eca27f       # dst channel = initiator's src channel
				00 b2dd52c3    # HANDSHAKE, src channel
				00 01  01 01   # version 1, min version 1 (no swarm id in the reply)
				03 01  04 00  06 02  ff
				03 00000000 0000000f   # HAVE [0,15]
				03 00000010 00000017   # HAVE [16,23]
				03 00000018 00000019   # HAVE [24,25]`,
			build: func() ([]byte, error) {
				b, err := AppendHandshake(AppendHeader(nil, 0xb2eca27f), 0xb2dd52c3, LibswiftOptions(nil, MHFSHA1))
				for _, s := range []Spec{{0, 15}, {16, 23}, {24, 25}} {
					if err == nil {
						b, err = AppendHave(b, Context{}, s)
					}
				}
				return b, err
			},
		},
		{
			name: "explicit close (capture #90)",
			golden: `
				b2dd52c3       # dst channel
				00 00000000    # HANDSHAKE, src channel 0 = close
				ff             # empty option list`,
			build: func() ([]byte, error) { return AppendClose(AppendHeader(nil, 0xb2dd52c3)), nil },
		},
		{
			name: "all options, RFC 7574 live stream, 64-bit chunk ranges",
			golden: `
				12345678       # dst channel
				00 9abcdef0    # HANDSHAKE, src channel
				00 01          # version 1
				01 01          # min version 1
				02 0003 0d0102 # swarm id, len 3 (DNSSEC alg 13 + key, truncated for the test)
				03 03          # CIPM 3 unified Merkle tree
				04 02          # MHF 2 SHA-256
				05 0d          # LSA 13 ECDSAP256SHA256
				06 04          # CAM 4 64-bit chunk ranges
				07 0000000000000400   # live discard window, u64 because CAM 4
				08 02 d9f0     # supported messages: all but ACK and PEX (RFC example)
				09 00000400    # chunk size 1024
				ff`,
			build: func() ([]byte, error) {
				var o Options
				o.SetVersion(1)
				o.SetMinVersion(1)
				o.SetSwarmID([]byte{0x0d, 0x01, 0x02})
				o.SetCIPM(CIPMUnifiedTree)
				o.SetMHF(MHFSHA256)
				o.SetLSA(LSAECDSAP256SHA256)
				o.SetCAM(CAMChunkRanges64)
				o.SetLiveDiscardWindow(1024)
				o.SetSupportedMessages(SupportedMessagesBitmap(
					MsgHandshake, MsgData, MsgHave, MsgIntegrity, MsgSignedIntegrity, MsgRequest,
					MsgCancel, MsgChoke, MsgUnchoke))
				o.SetChunkSize(1024)
				return AppendHandshake(AppendHeader(nil, 0x12345678), 0x9abcdef0, o)
			},
		},
		{
			name: "live discard window never, 32-bit CAM",
			golden: `
				00000000  00 00000001
				06 02          # CAM 2
				07 ffffffff    # live discard window u32: never discards
				ff`,
			build: func() ([]byte, error) {
				var o Options
				o.SetCAM(CAMChunkRanges32)
				o.SetLiveDiscardWindow(DiscardWindowNever)
				return AppendHandshake(AppendHeader(nil, 0), 1, o)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.golden)
			got, err := tt.build()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding changed\n got %x\nwant %x", got, want)
			}
			ch, msgs, err := Parse(Context{}, want, nil)
			if err != nil {
				t.Fatal(err)
			}
			re, err := AppendDatagram(nil, Context{}, ch, msgs)
			if err != nil || !bytes.Equal(re, want) {
				t.Fatalf("round trip: %x %v", re, err)
			}
		})
	}
}

// TestGoldenMessages pins the encoding of every message type with CAM 2.
func TestGoldenMessages(t *testing.T) {
	ctx := Context{}
	hash := bytes.Repeat([]byte{0xab}, 20)
	sig := bytes.Repeat([]byte{0x5a}, 64)
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		got    []byte
		golden string
	}{
		{"DATA", must(AppendData(nil, ctx, Chunk(25), 1795346576223206, []byte("xyz"))),
			"01 00000019 00000019  000660dbb2ecabe6  78797a"},
		{"ACK", must(AppendAck(nil, ctx, Chunk(0), 33)), "02 00000000 00000000 0000000000000021"},
		{"HAVE", must(AppendHave(nil, ctx, Spec{0, 15})), "03 00000000 0000000f"},
		{"INTEGRITY", must(AppendIntegrity(nil, ctx, Spec{16, 23}, hash)),
			"04 00000010 00000017 abababababababababababababababababababab"},
		{"PEX_RESv4", must(AppendPexResV4(nil, netip.MustParseAddrPort("127.0.0.1:20000"))), "05 7f000001 4e20"},
		{"PEX_REQ", AppendPexReq(nil), "06"},
		{"SIGNED_INTEGRITY", must(AppendSignedIntegrity(nil, ctx, Spec{0, 31}, 0xe8d4a51000000000, sig)),
			"07 00000000 0000001f e8d4a51000000000" + strings.Repeat("5a", 64)},
		{"REQUEST", must(AppendRequest(nil, ctx, Spec{4, 7})), "08 00000004 00000007"},
		{"CANCEL", must(AppendCancel(nil, ctx, Spec{4, 7})), "09 00000004 00000007"},
		{"CHOKE", AppendChoke(nil), "0a"},
		{"UNCHOKE", AppendUnchoke(nil), "0b"},
		{"PEX_RESv6", must(AppendPexResV6(nil, netip.MustParseAddrPort("[2001:db8::1]:443"))),
			"0c 20010db8000000000000000000000001 01bb"},
		{"PEX_REScert", must(AppendPexResCert(nil, []byte{0x30, 0x03, 0x02, 0x01, 0x00})), "0d 0005 3003020100"},
		{"HAVE CAM 0 bin 39", must(AppendHave(nil, Context{CAM: CAMBins32}, Spec{16, 23})), "03 00000027"},
		{"HAVE CAM 0 empty", must(AppendHave(nil, Context{CAM: CAMBins32}, EmptySpec)), "03 ffffffff"},
		{"HAVE CAM 0 all", must(AppendHave(nil, Context{CAM: CAMBins32}, Spec{0, 1<<31 - 1})), "03 7fffffff"},
		{"HAVE CAM 1", must(AppendHave(nil, Context{CAM: CAMByteRanges64}, Spec{0, 26120})),
			"03 0000000000000000 0000000000006608"},
		{"HAVE CAM 3 bin 49", must(AppendHave(nil, Context{CAM: CAMBins64}, Spec{24, 25})), "03 0000000000000031"},
		{"HAVE CAM 3 all", must(AppendHave(nil, Context{CAM: CAMBins64}, Spec{0, 1<<63 - 1})), "03 7fffffffffffffff"},
		{"HAVE CAM 4", must(AppendHave(nil, Context{CAM: CAMChunkRanges64}, Spec{1 << 40, 1<<40 + 7})),
			"03 0000010000000000 0000010000000007"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if want := unhex(t, tt.golden); !bytes.Equal(tt.got, want) {
				t.Fatalf("encoding changed\n got %x\nwant %x", tt.got, want)
			}
		})
	}
}
