package ppsp

import (
	"bytes"
	"errors"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

var allCAMs = []CAM{CAMBins32, CAMByteRanges64, CAMChunkRanges32, CAMBins64, CAMChunkRanges64}

// specsFor returns specs representable in c, including edge values.
func specsFor(c CAM) []Spec {
	switch c {
	case CAMBins32:
		return []Spec{Chunk(0), {0, 15}, {16, 23}, {24, 25}, {0, 1<<31 - 1}, Chunk(1<<31 - 1), EmptySpec}
	case CAMBins64:
		return []Spec{Chunk(0), {16, 23}, {1 << 40, 1<<41 - 1}, {0, 1<<63 - 1}, Chunk(1<<63 - 1), EmptySpec}
	case CAMChunkRanges32:
		return []Spec{Chunk(0), {1, 4}, {0, 25}, {0, math.MaxUint32}, Chunk(math.MaxUint32)}
	default: // 64-bit ranges
		return []Spec{Chunk(0), {1, 4}, {5, 1 << 33}, {1 << 62, math.MaxUint64}, {0, math.MaxUint64}, Chunk(math.MaxUint64)}
	}
}

// TestRoundTripAllTypesAllCAMs encodes every message type in every CAM,
// parses it back and compares.
func TestRoundTripAllTypesAllCAMs(t *testing.T) {
	for _, c := range allCAMs {
		t.Run(c.String(), func(t *testing.T) {
			ctx := Context{CAM: c}
			for _, s := range specsFor(c) {
				var msgs []Message
				for _, typ := range []MsgType{MsgAck, MsgHave, MsgIntegrity, MsgSignedIntegrity, MsgRequest, MsgCancel} {
					m := Message{Type: typ, Spec: s}
					switch typ {
					case MsgAck:
						m.Delay = 0x0102030405060708
					case MsgIntegrity:
						m.Hash = bytes.Repeat([]byte{0x11}, 20)
					case MsgSignedIntegrity:
						m.Timestamp = math.MaxUint64
						m.Signature = bytes.Repeat([]byte{0x22}, 64)
					}
					msgs = append(msgs, m)
				}
				msgs = append(msgs,
					Message{Type: MsgPexReq}, Message{Type: MsgChoke}, Message{Type: MsgUnchoke},
					Message{Type: MsgPexResV4, Addr: netip.MustParseAddrPort("10.1.2.3:65535")},
					Message{Type: MsgPexResV6, Addr: netip.MustParseAddrPort("[fe80::1]:1")},
					Message{Type: MsgPexResV6, Addr: netip.MustParseAddrPort("[::ffff:1.2.3.4]:7")},
					Message{Type: MsgPexResCert, Payload: []byte{}},
					Message{Type: MsgPexResCert, Payload: bytes.Repeat([]byte{0x30}, 300)},
					Message{Type: MsgData, Spec: s, Timestamp: 1795346576221840, Payload: []byte("chunk")},
				)
				b, err := AppendDatagram(nil, ctx, 0xdeadbeef, msgs)
				if err != nil {
					t.Fatalf("%v: %v", s, err)
				}
				ch, got, err := Parse(ctx, b, nil)
				if err != nil {
					t.Fatalf("%v: %v", s, err)
				}
				if ch != 0xdeadbeef || !reflect.DeepEqual(got, msgs) {
					t.Fatalf("%v: round trip\n got %v\nwant %v", s, got, msgs)
				}
			}
		})
	}
}

func TestBins(t *testing.T) {
	tests := []struct {
		bin  uint64
		spec Spec
	}{
		{0, Chunk(0)}, {2, Chunk(1)}, {1, Spec{0, 1}}, {3, Spec{0, 3}}, {7, Spec{0, 7}},
		{15, Spec{0, 15}}, {39, Spec{16, 23}}, {49, Spec{24, 25}}, {9, Spec{4, 5}}, {12, Chunk(6)},
		{0x7fffffff, Spec{0, 1<<31 - 1}}, {0xfffffffe, Chunk(1<<31 - 1)},
		{1<<63 - 1, Spec{0, 1<<63 - 1}}, {math.MaxUint64 - 1, Chunk(1<<63 - 1)},
		{math.MaxUint64, EmptySpec},
	}
	for _, tt := range tests {
		if got := BinSpec(tt.bin); got != tt.spec {
			t.Errorf("BinSpec(%d) = %v, want %v", tt.bin, got, tt.spec)
		}
		if tt.spec.IsEmpty() {
			continue
		}
		if b, ok := tt.spec.Bin(); !ok || b != tt.bin {
			t.Errorf("%v.Bin() = %d, %v, want %d", tt.spec, b, ok, tt.bin)
		}
	}
	for _, s := range []Spec{{1, 2}, {0, 2}, {2, 5}, {0, math.MaxUint64}, {1 << 63, 1<<63 + 1}, EmptySpec} {
		if b, ok := s.Bin(); ok {
			t.Errorf("%v.Bin() = %d, want not a bin", s, b)
		}
	}
}

func TestSpecDecodeCAM1Bytes(t *testing.T) {
	// CAM 1 keeps byte ranges as they are.
	b := unhex(t, "00000001 03 0000000000000400 00000000000007ff")
	_, msgs, err := Parse(Context{CAM: CAMByteRanges64}, b, nil)
	if err != nil || msgs[0].Spec != (Spec{1024, 2047}) {
		t.Fatalf("%v %v", msgs, err)
	}
}

// TestHandshakeAppliesContext: options of a HANDSHAKE govern the rest of
// its datagram.
func TestHandshakeAppliesContext(t *testing.T) {
	tests := []struct {
		name  string
		opts  func(*Options)
		after Context
		msgs  []Message
	}{
		{"CAM 0 bins", func(o *Options) { o.SetCAM(CAMBins32) }, Context{CAM: CAMBins32, HashSize: 20},
			[]Message{{Type: MsgHave, Spec: Spec{16, 23}}, {Type: MsgHave, Spec: EmptySpec}}},
		{"CAM 4 + SHA-256", func(o *Options) { o.SetMHF(MHFSHA256); o.SetCAM(CAMChunkRanges64) },
			Context{CAM: CAMChunkRanges64, HashSize: 32},
			[]Message{{Type: MsgIntegrity, Spec: Spec{1 << 40, 1<<40 + 1}, Hash: bytes.Repeat([]byte{1}, 32)}}},
		{"LSA 14", func(o *Options) { o.SetLSA(LSAECDSAP384SHA384) }, Context{HashSize: 20, SigSize: 96},
			[]Message{{Type: MsgSignedIntegrity, Spec: Spec{0, 31}, Timestamp: 5, Signature: bytes.Repeat([]byte{2}, 96)}}},
		{"CAM 3 SHA-512", func(o *Options) { o.SetMHF(MHFSHA512); o.SetCAM(CAMBins64) }, Context{CAM: CAMBins64, HashSize: 64},
			[]Message{{Type: MsgIntegrity, Spec: Spec{0, 1<<63 - 1}, Hash: bytes.Repeat([]byte{3}, 64)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := Message{Type: MsgHandshake, SrcChannel: 42, Options: LibswiftOptions(nil, MHFSHA1)}
			tt.opts(&hs.Options)
			msgs := append([]Message{hs}, tt.msgs...)
			b, err := AppendDatagram(nil, Context{}, 0, msgs)
			if err != nil {
				t.Fatal(err)
			}
			_, got, err := Parse(Context{}, b, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, msgs) {
				t.Fatalf("got %v\nwant %v", got, msgs)
			}
			after, err := (Context{}).Apply(&got[0].Options)
			if err != nil || after != tt.after {
				t.Fatalf("Apply = %+v, %v; want %+v", after, err, tt.after)
			}
		})
	}
}

func TestSeveralDataWithFixedChunkSize(t *testing.T) {
	ctx := Context{ChunkSize: 4}
	msgs := []Message{
		{Type: MsgIntegrity, Spec: Chunk(1), Hash: bytes.Repeat([]byte{9}, 20)},
		{Type: MsgData, Spec: Chunk(0), Timestamp: 1, Payload: []byte("abcd")},
		{Type: MsgData, Spec: Chunk(1), Timestamp: 2, Payload: []byte("efgh")},
		{Type: MsgData, Spec: Chunk(2), Timestamp: 3, Payload: []byte("ij")},
	}
	b, err := AppendDatagram(nil, ctx, 7, msgs)
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := Parse(ctx, b, nil)
	if err != nil || !reflect.DeepEqual(got, msgs) {
		t.Fatalf("%v %v", got, err)
	}
	// Without a fixed chunk size the first DATA swallows the rest.
	_, got, err = Parse(Context{}, b, nil)
	if err != nil || len(got) != 2 || len(got[1].Payload) != len(b)-4-29-17 {
		t.Fatalf("%v %v", got, err)
	}
	// A short DATA cannot be followed by another one.
	bad := []Message{msgs[3], msgs[1]}
	if _, err := AppendDatagram(nil, ctx, 7, bad); !errors.Is(err, ErrDataNotLast) {
		t.Fatalf("err = %v, want ErrDataNotLast", err)
	}
	if _, err := AppendDatagram(nil, Context{}, 7, msgs[1:]); !errors.Is(err, ErrDataNotLast) {
		t.Fatalf("err = %v, want ErrDataNotLast", err)
	}
	if _, err := AppendData(nil, ctx, Chunk(0), 0, []byte("toolong")); !errors.Is(err, ErrPayloadSize) {
		t.Fatalf("err = %v, want ErrPayloadSize", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		ctx  Context
		hex  string
		want error
	}{
		{"empty", Context{}, "", ErrShortDatagram},
		{"3 bytes", Context{}, "000000", ErrShortDatagram},
		{"channel 0 keep-alive", Context{}, "00000000", ErrNotHandshake},
		{"channel 0 HAVE", Context{}, "00000000 03 00000000 00000000", ErrNotHandshake},
		{"legacy handshake", Context{}, "00000000 04 7fffffff c89800bfc82ed01ed6e3bfd5408c51274491f7d4 00 c3abfb5b", ErrLegacyHandshake},
		{"legacy truncated", Context{}, "00000000 04", ErrLegacyHandshake},
		{"type 14", Context{}, "00000001 0e", ErrUnknownMessage},
		{"type 254", Context{}, "00000001 fe", ErrUnknownMessage},
		{"type 255", Context{}, "00000001 ff", ErrUnknownMessage},
		{"unknown after valid", Context{}, "00000001 06 0a 20", ErrUnknownMessage},
		{"HAVE truncated", Context{}, "00000001 03 00000000 000000", ErrTruncated},
		{"HAVE no spec", Context{}, "00000001 03", ErrTruncated},
		{"HAVE start>end", Context{}, "00000001 03 00000002 00000001", ErrSpecOrder},
		{"REQUEST start>end CAM 4", Context{CAM: CAMChunkRanges64}, "00000001 08 0000000000000002 0000000000000001", ErrSpecOrder},
		{"CANCEL start>end CAM 1", Context{CAM: CAMByteRanges64}, "00000001 09 ffffffffffffffff 0000000000000000", ErrSpecOrder},
		{"HAVE CAM 0 truncated", Context{CAM: CAMBins32}, "00000001 03 000000", ErrTruncated},
		{"HAVE CAM 3 truncated", Context{CAM: CAMBins64}, "00000001 03 00000000000000", ErrTruncated},
		{"ACK no delay", Context{}, "00000001 02 00000000 00000000 00000000000021", ErrTruncated},
		{"DATA no timestamp", Context{}, "00000001 01 00000000 00000000 0000", ErrTruncated},
		{"DATA start>end", Context{}, "00000001 01 00000001 00000000 0000000000000000 ff", ErrSpecOrder},
		{"INTEGRITY short hash", Context{}, "00000001 04 00000000 0000000f 6870507a7fe10bfefe32607afab84ebeef89c2", ErrTruncated},
		{"INTEGRITY SHA-256 short", Context{HashSize: 32}, "00000001 04 00000000 0000000f 6870507a7fe10bfefe32607afab84ebeef89c2c4", ErrTruncated},
		{"SIGNED_INTEGRITY short sig", Context{}, "00000001 07 00000000 0000001f 0000000000000000 00", ErrTruncated},
		{"PEX_RESv4 short", Context{}, "00000001 05 7f000001 4e", ErrTruncated},
		{"PEX_RESv6 short", Context{}, "00000001 0c 20010db8000000000000000000000001 01", ErrTruncated},
		{"PEX_REScert no len", Context{}, "00000001 0d 00", ErrTruncated},
		{"PEX_REScert len beyond", Context{}, "00000001 0d 0005 30030201", ErrTruncated},
		{"HANDSHAKE short src", Context{}, "00000000 00 000000", ErrTruncated},
		{"HANDSHAKE no end", Context{}, "00000000 00 00000001 00 01", ErrTruncated},
		{"HANDSHAKE no options", Context{}, "00000000 00 00000001", ErrTruncated},
		{"option value missing", Context{}, "00000000 00 00000001 00", ErrTruncated},
		{"unknown option 10", Context{}, "00000000 00 00000001 0a 00 ff", ErrUnknownOption},
		{"unknown option 254", Context{}, "00000000 00 00000001 fe ff", ErrUnknownOption},
		{"unsorted options", Context{}, "00000000 00 00000001 06 02 04 00 ff", ErrOptionOrder},
		{"duplicate option", Context{}, "00000000 00 00000001 00 01 00 01 ff", ErrOptionOrder},
		{"swarm id beyond datagram", Context{}, "00000000 00 00000001 02 0014 c89800bf ff", ErrTruncated},
		{"swarm id len truncated", Context{}, "00000000 00 00000001 02 00", ErrTruncated},
		{"swarm id huge", Context{}, "00000000 00 00000001 02 ffff 00 ff", ErrTruncated},
		{"CAM 5", Context{}, "00000000 00 00000001 06 05 ff", ErrInvalidOption},
		{"MHF 5", Context{}, "00000000 00 00000001 04 05 ff", ErrInvalidOption},
		{"discard window without CAM", Context{}, "00000000 00 00000001 07 00000010 ff", ErrInvalidOption},
		{"discard window u64 truncated", Context{}, "00000000 00 00000001 06 04 07 00000010 ff", ErrTruncated},
		{"supported msgs beyond", Context{}, "00000000 00 00000001 08 05 d9f0 ff", ErrTruncated},
		{"chunk size truncated", Context{}, "00000000 00 00000001 09 0400 ff", ErrTruncated},
		{"HAVE after handshake CAM 4 truncated", Context{}, "00000000 00 00000001 06 04 ff 03 00000000 0000000f", ErrTruncated},
		{"bad context", Context{HashSize: -1}, "00000001", ErrInvalidContext},
		{"bad context MaxMessages", Context{MaxMessages: -1}, "00000001", ErrInvalidContext},
		{"too many messages", Context{MaxMessages: 3}, "00000001 06 0a 0b 06", ErrTooManyMessages},
		{"bad context CAM", Context{CAM: 9}, "00000001", ErrInvalidContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.hex)
			prev := []Message{{Type: MsgChoke}}
			_, out, err := Parse(tt.ctx, in, prev)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(in) {
				t.Fatalf("err %#v: not a *ParseError with a sane offset", err)
			}
			if len(out) != 1 || out[0].Type != MsgChoke {
				t.Fatalf("msgs modified on error: %v", out)
			}
			if !strings.HasPrefix(err.Error(), "ppsp: ") {
				t.Fatalf("error text %q", err)
			}
		})
	}
}

func TestParseOK(t *testing.T) {
	tests := []struct {
		name string
		ctx  Context
		hex  string
		want string
	}{
		{"keep-alive", Context{}, "b2eca27f", ""},
		{"DATA empty payload", Context{}, "00000001 01 00000000 00000000 0000000000000000", "DATA [0,0] ts=0 len=0"},
		{"explicit close", Context{}, "b2dd52c3 00 00000000 ff", "HANDSHAKE src_channel=0x00000000 opts: end"},
		{"close with version", Context{}, "b2dd52c3 00 00000000 00 01 ff", "HANDSHAKE src_channel=0x00000000 opts: version=1, end"},
		{"PEX", Context{}, "00000001 06 05 7f000001 4e20 0c 00000000000000000000000000000001 0001",
			"PEX_REQ|PEX_RESv4 127.0.0.1:20000|PEX_RESv6 [::1]:1"},
		{"choke unchoke", Context{}, "00000001 0a 0b", "CHOKE|UNCHOKE"},
		{"max messages", Context{MaxMessages: 3}, "00000001 0a 0b 06", "CHOKE|UNCHOKE|PEX_REQ"},
		{"SIGNED_INTEGRITY + cert", Context{SigSize: 2}, "00000001 07 00000000 0000001f 0000000000000009 abcd 0d 0002 3000",
			"SIGNED_INTEGRITY [0,31] ts=9 sig=abcd|PEX_REScert len=2 3000"},
		{"SHA-384 INTEGRITY", Context{HashSize: 48}, "00000001 04 00000000 00000000" + strings.Repeat("ee", 48),
			"INTEGRITY [0,0] " + strings.Repeat("ee", 48)},
		{"CAM 0 all/empty", Context{CAM: CAMBins32}, "00000001 03 7fffffff 03 ffffffff 08 00000027",
			"HAVE [0,2147483647]|HAVE [empty]|REQUEST [16,23]"},
		{"CAM 3 all/empty", Context{CAM: CAMBins64}, "00000001 03 7fffffffffffffff 09 ffffffffffffffff",
			"HAVE [0,9223372036854775807]|CANCEL [empty]"},
		{"CAM 4 64-bit", Context{CAM: CAMChunkRanges64}, "00000001 03 0000000100000000 ffffffffffffffff",
			"HAVE [4294967296,18446744073709551615]"},
		{"discard window 32-bit never", Context{}, "00000000 00 00000001 06 02 07 ffffffff ff",
			"HANDSHAKE src_channel=0x00000001 opts: chunk_addr_method=2, live_discard_window=18446744073709551615, end"},
		{"supported msgs + chunk size", Context{}, "00000000 00 00000001 08 02 d9f0 09 00000400 ff",
			"HANDSHAKE src_channel=0x00000001 opts: supported_msgs(len=2)=d9f0, chunk_size=1024, end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.hex)
			ch, msgs, err := Parse(tt.ctx, in, nil)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for i := range msgs {
				lines = append(lines, msgs[i].String())
			}
			if got := strings.Join(lines, "|"); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			re, err := AppendDatagram(nil, tt.ctx, ch, msgs)
			if err != nil || !bytes.Equal(re, in) {
				t.Fatalf("re-encode %x %v", re, err)
			}
		})
	}
}

func TestAppendErrors(t *testing.T) {
	hash := make([]byte, 20)
	prefix := []byte("keep")
	tests := []struct {
		name string
		f    func(b []byte) ([]byte, error)
		want error
	}{
		{"CAM 0 not a bin", func(b []byte) ([]byte, error) { return AppendHave(b, Context{CAM: CAMBins32}, Spec{1, 2}) }, ErrInvalidSpec},
		{"CAM 0 beyond 2^31", func(b []byte) ([]byte, error) { return AppendHave(b, Context{CAM: CAMBins32}, Chunk(1<<31)) }, ErrInvalidSpec},
		{"CAM 3 not a bin", func(b []byte) ([]byte, error) { return AppendRequest(b, Context{CAM: CAMBins64}, Spec{0, 2}) }, ErrInvalidSpec},
		{"CAM 3 beyond 2^63", func(b []byte) ([]byte, error) { return AppendCancel(b, Context{CAM: CAMBins64}, Chunk(1<<63)) }, ErrInvalidSpec},
		{"CAM 2 beyond 32 bits", func(b []byte) ([]byte, error) { return AppendHave(b, Context{}, Spec{0, 1 << 32}) }, ErrInvalidSpec},
		{"CAM 2 empty", func(b []byte) ([]byte, error) { return AppendHave(b, Context{}, EmptySpec) }, ErrInvalidSpec},
		{"CAM 4 empty", func(b []byte) ([]byte, error) { return AppendAck(b, Context{CAM: CAMChunkRanges64}, EmptySpec, 1) }, ErrInvalidSpec},
		{"bad context", func(b []byte) ([]byte, error) { return AppendHave(b, Context{CAM: 7}, Chunk(0)) }, ErrInvalidContext},
		{"hash size", func(b []byte) ([]byte, error) { return AppendIntegrity(b, Context{HashSize: 32}, Chunk(0), hash) }, ErrPayloadSize},
		{"sig size", func(b []byte) ([]byte, error) {
			return AppendSignedIntegrity(b, Context{}, Chunk(0), 0, make([]byte, 63))
		}, ErrPayloadSize},
		{"INTEGRITY bad spec", func(b []byte) ([]byte, error) { return AppendIntegrity(b, Context{}, Spec{2, 1}, hash) }, ErrInvalidSpec},
		{"DATA bad spec", func(b []byte) ([]byte, error) { return AppendData(b, Context{}, Spec{2, 1}, 0, nil) }, ErrInvalidSpec},
		{"v6 in PEX_RESv4", func(b []byte) ([]byte, error) {
			return AppendPexResV4(b, netip.MustParseAddrPort("[::1]:1"))
		}, ErrInvalidAddr},
		{"v4 in PEX_RESv6", func(b []byte) ([]byte, error) {
			return AppendPexResV6(b, netip.MustParseAddrPort("1.2.3.4:1"))
		}, ErrInvalidAddr},
		{"zone in PEX_RESv6", func(b []byte) ([]byte, error) {
			return AppendPexResV6(b, netip.MustParseAddrPort("[fe80::1%eth0]:1"))
		}, ErrInvalidAddr},
		{"invalid addr", func(b []byte) ([]byte, error) { return AppendPexResV4(b, netip.AddrPort{}) }, ErrInvalidAddr},
		{"cert too long", func(b []byte) ([]byte, error) { return AppendPexResCert(b, make([]byte, 70000)) }, ErrPayloadSize},
		{"swarm id too long", func(b []byte) ([]byte, error) {
			return AppendHandshake(b, 1, LibswiftOptions(make([]byte, 70000), MHFSHA1))
		}, ErrInvalidOption},
		{"discard window without CAM", func(b []byte) ([]byte, error) {
			var o Options
			o.SetLiveDiscardWindow(5)
			return AppendHandshake(b, 1, o)
		}, ErrInvalidOption},
		{"discard window too big for CAM 2", func(b []byte) ([]byte, error) {
			var o Options
			o.SetCAM(CAMChunkRanges32)
			o.SetLiveDiscardWindow(1 << 32)
			return AppendHandshake(b, 1, o)
		}, ErrInvalidOption},
		{"MHF 9", func(b []byte) ([]byte, error) { return AppendHandshake(b, 1, LibswiftOptions(nil, 9)) }, ErrInvalidOption},
		{"CAM invalid", func(b []byte) ([]byte, error) {
			var o Options
			o.SetCAM(CAM(8))
			return AppendHandshake(b, 1, o)
		}, ErrInvalidOption},
		{"supported msgs too long", func(b []byte) ([]byte, error) {
			var o Options
			o.SetSupportedMessages(make([]byte, 256))
			return AppendHandshake(b, 1, o)
		}, ErrInvalidOption},
		{"unknown message", func(b []byte) ([]byte, error) { return AppendMessage(b, Context{}, &Message{Type: 14}) }, ErrUnknownMessage},
		{"channel 0 without handshake", func(b []byte) ([]byte, error) {
			return AppendDatagram(b, Context{}, 0, []Message{{Type: MsgPexReq}})
		}, ErrNotHandshake},
		{"channel 0 keep-alive", func(b []byte) ([]byte, error) { return AppendDatagram(b, Context{}, 0, nil) }, ErrNotHandshake},
		{"datagram with bad message", func(b []byte) ([]byte, error) {
			return AppendDatagram(b, Context{}, 1, []Message{{Type: MsgPexReq}, {Type: MsgHave, Spec: EmptySpec}})
		}, ErrInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := append(make([]byte, 0, 64), prefix...)
			out, err := tt.f(b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !bytes.Equal(out, prefix) {
				t.Fatalf("buffer modified on error: %q", out)
			}
		})
	}
}

func TestOptionsHelpers(t *testing.T) {
	// RFC 7574 §7.10 example: all messages except ACK and PEX.
	bm := SupportedMessagesBitmap(MsgHandshake, MsgData, MsgHave, MsgIntegrity, MsgSignedIntegrity,
		MsgRequest, MsgCancel, MsgChoke, MsgUnchoke)
	if !bytes.Equal(bm, []byte{0xd9, 0xf0}) {
		t.Fatalf("bitmap %x, want d9f0", bm)
	}
	var o Options
	if !o.Supports(MsgAck) {
		t.Fatal("no option 8 must mean everything is supported")
	}
	o.SetSupportedMessages(bm)
	for typ := MsgType(0); typ < 20; typ++ {
		want := typ <= MsgUnchoke && typ != MsgAck && typ != MsgPexResV4 && typ != MsgPexReq
		if o.Supports(typ) != want {
			t.Errorf("Supports(%v) = %v", typ, !want)
		}
	}
	o.Clear(OptSupportedMessages)
	if o.Has(OptSupportedMessages) || o.Has(OptEnd) {
		t.Fatal("Clear/Has")
	}
	if got := SupportedMessagesBitmap(); len(got) != 0 {
		t.Fatalf("empty bitmap %x", got)
	}
	lo := LibswiftOptions(nil, MHFSHA1)
	for c := OptionCode(0); c < 16; c++ {
		want := c == OptVersion || c == OptMinVersion || c == OptCIPM || c == OptMHF || c == OptCAM
		if lo.Has(c) != want {
			t.Errorf("LibswiftOptions Has(%d) = %v", c, !want)
		}
	}
}

func TestSigSize(t *testing.T) {
	// RFC 3110 key: exponent length 3, exponent 010001, 256-byte modulus.
	rsa := append([]byte{LSARSASHA256, 3, 1, 0, 1}, make([]byte, 256)...)
	long := append([]byte{LSARSASHA1, 0, 0, 3, 1, 0, 1}, make([]byte, 128)...)
	tests := []struct {
		lsa  uint8
		id   []byte
		want int
		ok   bool
	}{
		{LSAECDSAP256SHA256, nil, 64, true},
		{LSAECDSAP384SHA384, nil, 96, true},
		{LSAEd25519, nil, 64, true},
		{LSAEd448, nil, 114, true},
		{LSARSASHA256, rsa, 256, true},
		{LSARSASHA1, long, 128, true},
		{LSARSASHA1, nil, 0, false},
		{LSARSASHA1, []byte{5, 0, 0}, 0, false},
		{LSARSASHA1, []byte{5, 9, 1}, 0, false},
		{99, nil, 0, false},
	}
	for _, tt := range tests {
		if n, ok := SigSize(tt.lsa, tt.id); n != tt.want || ok != tt.ok {
			t.Errorf("SigSize(%d, %d bytes) = %d, %v; want %d, %v", tt.lsa, len(tt.id), n, ok, tt.want, tt.ok)
		}
	}
	var o Options
	o.SetSwarmID(rsa)
	o.SetLSA(LSARSASHA256)
	if c, err := (Context{}).Apply(&o); err != nil || c.SigSize != 256 {
		t.Fatalf("Apply: %+v %v", c, err)
	}
}

func TestCAMCodes(t *testing.T) {
	var zero Context
	if zero.CAM != CAMChunkRanges32 || zero.CAM.Code() != 2 {
		t.Fatal("zero Context must be CAM 2")
	}
	for code := 0; code < 256; code++ {
		c, ok := CAMFromCode(uint8(code))
		if ok != (code <= 4) {
			t.Fatalf("CAMFromCode(%d) ok = %v", code, ok)
		}
		if ok && (c.Code() != uint8(code) || !c.Valid() || c.SpecSize() == 0) {
			t.Fatalf("CAM code %d: %v %d", code, c, c.Code())
		}
	}
	if CAM(9).Valid() || CAM(9).Code() != 0xff || CAM(9).SpecSize() != 0 || CAM(9).String() != "CAM(9)" {
		t.Fatal("invalid CAM")
	}
	if MsgType(200).String() != "MsgType(200)" || MsgPexResCert.String() != "PEX_REScert" {
		t.Fatal("MsgType.String")
	}
}

func TestParseZeroAlloc(t *testing.T) {
	pkts, _ := loadCapture(t, captures[0])
	msgs := make([]Message, 0, 16)
	for _, p := range pkts {
		allocs := testing.AllocsPerRun(20, func() {
			_, out, err := Parse(Context{}, p.Payload, msgs[:0])
			if err != nil {
				t.Fatal(err)
			}
			msgs = out
		})
		if allocs != 0 {
			t.Fatalf("Parse allocates %.1f times per datagram of %d bytes", allocs, len(p.Payload))
		}
	}
}

func TestDefaultMaxMessages(t *testing.T) {
	dg := AppendHeader(nil, 1)
	for range DefaultMaxMessages {
		dg = AppendPexReq(dg)
	}
	if _, msgs, err := Parse(Context{}, dg, nil); err != nil || len(msgs) != DefaultMaxMessages {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	dg = AppendChoke(dg)
	if _, _, err := Parse(Context{}, dg, nil); !errors.Is(err, ErrTooManyMessages) {
		t.Fatalf("err = %v, want ErrTooManyMessages", err)
	}
}

func TestIsClose(t *testing.T) {
	_, msgs, err := Parse(Context{}, AppendClose(AppendHeader(nil, 5)), nil)
	if err != nil || len(msgs) != 1 || !msgs[0].IsClose() {
		t.Fatalf("%v %v", msgs, err)
	}
	if (&Message{Type: MsgHave}).IsClose() {
		t.Fatal("HAVE is not a close")
	}
}
