package ppsp

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"github.com/swarmgate/swarmgate/internal/pcapfile"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzParse seeds from the captures")

// captures are loopback captures of libswift and libperegrine exchanging
// m74.jpg (26 chunks of 1024 B), copied from the shared test data.
var captures = []string{
	"libswift-seed_libswift-leech_m74",
	"libswift-seed_peregrine-leech_m74",
	"peregrine-seed_libswift-leech_m74",
}

// decodedBlock is one datagram of a *.decoded.txt file.
type decodedBlock struct {
	Header string   // "#3 127.0.0.1:20000 -> 127.0.0.1:20001 (1248B)"
	Hex    string   // only for short datagrams
	Lines  []string // "dst_channel=0x…", then one line per message or "(keep-alive: …)"
}

func readDecoded(t *testing.T, path string) []decodedBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []decodedBlock
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			blocks = append(blocks, decodedBlock{Header: line})
		case strings.TrimSpace(line) == "":
		case len(blocks) == 0:
			t.Fatalf("%s: line before first datagram: %q", path, line)
		case strings.HasPrefix(strings.TrimSpace(line), "hex: "):
			blocks[len(blocks)-1].Hex = strings.TrimPrefix(strings.TrimSpace(line), "hex: ")
		default:
			blocks[len(blocks)-1].Lines = append(blocks[len(blocks)-1].Lines, strings.TrimSpace(line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// formatDatagram renders a parsed datagram like the *.decoded.txt files.
func formatDatagram(channel uint32, msgs []Message) []string {
	lines := []string{fmt.Sprintf("dst_channel=0x%08x", channel)}
	if len(msgs) == 0 {
		return append(lines, "(keep-alive: channel ID only)")
	}
	for i := range msgs {
		lines = append(lines, msgs[i].String())
	}
	return lines
}

func loadCapture(t *testing.T, name string) ([]pcapfile.Packet, []decodedBlock) {
	t.Helper()
	pkts, err := pcapfile.Read(filepath.Join("testdata", name+".pcap"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readDecoded(t, filepath.Join("testdata", name+".decoded.txt"))
	if len(pkts) != len(blocks) {
		t.Fatalf("%s: %d datagrams in pcap, %d in decoded.txt", name, len(pkts), len(blocks))
	}
	return pkts, blocks
}

// TestCaptures decodes every datagram of the captures, compares the result
// with the reference decode line by line, and checks that re-encoding gives
// the captured bytes.
func TestCaptures(t *testing.T) {
	for _, name := range captures {
		t.Run(name, func(t *testing.T) {
			pkts, blocks := loadCapture(t, name)
			var msgs []Message
			for i, p := range pkts {
				blk := blocks[i]
				wantHeader := fmt.Sprintf("#%d %v -> %v (%dB)", i, p.Src, p.Dst, len(p.Payload))
				if blk.Header != wantHeader {
					t.Errorf("datagram %d: header %q, want %q", i, blk.Header, wantHeader)
				}
				if blk.Hex != "" && blk.Hex != hex.EncodeToString(p.Payload) {
					t.Errorf("datagram %d: pcap bytes differ from decoded.txt hex", i)
				}
				ch, out, err := Parse(Context{}, p.Payload, msgs[:0])
				if err != nil {
					t.Errorf("datagram %d: %v", i, err)
					continue
				}
				msgs = out
				got := formatDatagram(ch, msgs)
				if strings.Join(got, "\n") != strings.Join(blk.Lines, "\n") {
					t.Errorf("datagram %d:\n got: %s\nwant: %s", i, strings.Join(got, "\n      "), strings.Join(blk.Lines, "\n      "))
				}
				enc, err := AppendDatagram(nil, Context{}, ch, msgs)
				if err != nil {
					t.Errorf("datagram %d: re-encode: %v", i, err)
				} else if !bytes.Equal(enc, p.Payload) {
					t.Errorf("datagram %d: re-encoded bytes differ\n got %x\nwant %x", i, enc, p.Payload)
				}
			}
		})
	}
}

// TestLegacyFallbackCapture checks the datagrams libswift sends to a silent
// peer: PPSPP handshakes, then its pre-IETF handshake, which must be
// recognised as ErrLegacyHandshake.
func TestLegacyFallbackCapture(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "libswift-leech-vs-silent-peer_legacy-fallback.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var nLegacy, nPPSPP int
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		b, err := hex.DecodeString(f[len(f)-1])
		if err != nil {
			t.Fatal(err)
		}
		ch, msgs, err := Parse(Context{}, b, nil)
		switch {
		case b[4] == 0x04:
			nLegacy++
			if !errors.Is(err, ErrLegacyHandshake) {
				t.Errorf("%x: err %v, want ErrLegacyHandshake", b, err)
			}
		default:
			nPPSPP++
			if err != nil || ch != 0 || len(msgs) != 1 || msgs[0].Type != MsgHandshake {
				t.Errorf("%x: %v %v", b, msgs, err)
			}
		}
	}
	if nLegacy == 0 || nPPSPP == 0 {
		t.Fatalf("legacy %d, ppspp %d", nLegacy, nPPSPP)
	}
}

// TestFuzzCorpusFromCaptures checks (or with -update-corpus writes) one
// FuzzParse seed per captured datagram and one FuzzOptions seed per
// captured HANDSHAKE.
func TestFuzzCorpusFromCaptures(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	optDir := filepath.Join("testdata", "fuzz", "FuzzOptions")
	check := func(file string, want []byte) {
		t.Helper()
		if *updateCorpus {
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (regenerate with go test -run TestFuzzCorpusFromCaptures -update-corpus)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale (regenerate with -update-corpus)", file)
		}
	}
	for _, name := range captures {
		pkts, _ := loadCapture(t, name)
		for i, p := range pkts {
			check(filepath.Join(dir, fmt.Sprintf("%s_%03d", name, i)), fuzzSeed(p.Payload, 2, 0, 0))
			// FuzzOptions gets the option list of each captured HANDSHAKE.
			if len(p.Payload) > 9 && p.Payload[4] == byte(MsgHandshake) {
				check(filepath.Join(optDir, fmt.Sprintf("%s_%03d", name, i)),
					fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", p.Payload[9:]))
			}
		}
	}
}

// fuzzSeed renders FuzzParse arguments in the "go test fuzz v1" format.
func fuzzSeed(data []byte, cam, mhf uint8, chunkSize uint16) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\nuint8(%d)\nuint8(%d)\nuint16(%d)\n", data, cam, mhf, chunkSize)
}
