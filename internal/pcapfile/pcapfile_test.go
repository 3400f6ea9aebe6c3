package pcapfile

import (
	"os"
	"path/filepath"
	"testing"
)

var captures = []string{
	"libswift-seed_libswift-leech_m74.pcap",
	"libswift-seed_peregrine-leech_m74.pcap",
	"peregrine-seed_libswift-leech_m74.pcap",
}

func TestReadCaptures(t *testing.T) {
	for _, name := range captures {
		pkts, err := Read(filepath.Join("..", "ppsp", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if len(pkts) < 50 {
			t.Errorf("%s: %d datagrams", name, len(pkts))
		}
		for _, p := range pkts {
			if !p.Src.Addr().IsLoopback() || !p.Dst.Addr().IsLoopback() || len(p.Payload) < 4 {
				t.Fatalf("%s: odd datagram %v -> %v (%d B)", name, p.Src, p.Dst, len(p.Payload))
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range captures {
		b, err := os.ReadFile(filepath.Join("..", "ppsp", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 600)])
	}
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1})
	f.Fuzz(func(t *testing.T, b []byte) {
		pkts, err := Parse("fuzz", b)
		if err != nil {
			return
		}
		for _, p := range pkts {
			if len(p.Payload) > len(b) {
				t.Fatal("payload longer than the file")
			}
		}
	})
}
