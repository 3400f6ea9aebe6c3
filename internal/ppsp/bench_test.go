package ppsp

import (
	"github.com/swarmgate/swarmgate/internal/pcapfile"
	"testing"
)

// benchDatagram returns datagram #3 of the libswift capture: 7×INTEGRITY
// (3 peaks, 4 uncles) + DATA of 1024 bytes, 1248 bytes in all.
func benchDatagram(b *testing.B, i int) []byte {
	pkts, err := pcapfile.Read("testdata/libswift-seed_libswift-leech_m74.pcap")
	if err != nil {
		b.Fatal(err)
	}
	return pkts[i].Payload
}

func BenchmarkParse(b *testing.B) {
	dg := benchDatagram(b, 3)
	msgs := make([]Message, 0, 16)
	b.SetBytes(int64(len(dg)))
	b.ReportAllocs()
	for b.Loop() {
		_, out, err := Parse(Context{}, dg, msgs[:0])
		if err != nil || len(out) != 8 {
			b.Fatal(err)
		}
		msgs = out
	}
}

// BenchmarkParseSmall: HAVE + ACK + REQUEST, the leecher's typical reply.
func BenchmarkParseSmall(b *testing.B) {
	dg := benchDatagram(b, 4)
	msgs := make([]Message, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		_, out, err := Parse(Context{}, dg, msgs[:0])
		if err != nil || len(out) != 3 {
			b.Fatal(err)
		}
		msgs = out
	}
}

func BenchmarkAppendData(b *testing.B) {
	payload := make([]byte, 1024)
	buf := make([]byte, 0, 1500)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		var err error
		buf = AppendHeader(buf[:0], 0xb2eca27f)
		buf, err = AppendData(buf, Context{}, Chunk(i), 1795346576221840+i, payload)
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAppendIntegrityData builds the capture's 1248-byte datagram.
func BenchmarkAppendIntegrityData(b *testing.B) {
	dg := benchDatagram(b, 3)
	_, msgs, err := Parse(Context{}, dg, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1500)
	b.SetBytes(int64(len(dg)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendHeader(buf[:0], 0xb2eca27f)
		for j := range msgs {
			if buf, err = AppendMessage(buf, Context{}, &msgs[j]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
