package merkle

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzVerify feeds hostile peaks, uncle hashes and chunks (as a peer could
// send them) to a tree: no panic, and nothing but the real content ever
// verifies.
func FuzzVerify(f *testing.F) {
	data := pattern(7162)
	src, _ := Build(bytes.NewReader(data), int64(len(data)), Options{}, 1)
	var seed []byte
	for _, p := range src.PeakNodes() {
		seed = binary.BigEndian.AppendUint64(seed, uint64(p.Bin))
		seed = append(seed, p.Hash...)
	}
	f.Add(seed, uint64(1), data[1024:2048])
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 3}, uint64(6), data[6*1024:])
	f.Fuzz(func(t *testing.T, nodes []byte, chunk uint64, payload []byte) {
		tr, err := New(src.Root(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var cands []Node
		for len(nodes) >= 28 && len(cands) < 100 {
			cands = append(cands, Node{Bin(binary.BigEndian.Uint64(nodes)), nodes[8:28]})
			nodes = nodes[28:]
		}
		// Try the first candidates as peaks, as the engine does.
		for k := min(len(cands), 8); k > 0; k-- {
			if tr.SetPeaks(cands[:k]) == nil {
				break
			}
		}
		tr.Verify(cands, []Chunk{{chunk, payload}}, nil, func(_ int, err error) {
			if err != nil {
				return
			}
			if tr.NumChunks() != src.NumChunks() {
				t.Fatalf("verified against a tree of %d chunks, content has %d", tr.NumChunks(), src.NumChunks())
			}
			s := int(chunk) * 1024
			if s >= len(data) || !bytes.Equal(payload, data[s:min(s+1024, len(data))]) {
				t.Fatalf("chunk %d verified with bytes that are not the content", chunk)
			}
		})
	})
}
