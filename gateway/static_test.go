package gateway

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/andybalholm/brotli"
)

// TestPrecompressedAssets: forms written at build time (ui/precompress.go)
// are served when their .sha256 matches the file, ignored when it is
// stale, and are never assets of their own.
func TestPrecompressedAssets(t *testing.T) {
	raw := bytes.Repeat([]byte("swarmgate wasm "), 4096)
	sum := sha256.Sum256(raw)
	// Marked forms: not what compressing raw gives, so the test sees which
	// were taken. Each still decodes to raw.
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.Write(raw)
	zw.Close()
	var br bytes.Buffer
	bw := brotli.NewWriterLevel(&br, 0)
	bw.Write(raw)
	bw.Close()
	for _, tc := range []struct {
		name, sum string
		prebuilt  bool
	}{
		{"matching", hex.EncodeToString(sum[:]) + "\n", true},
		{"stale", strings.Repeat("00", 32), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"wasm/client.wasm":        {Data: raw},
				"wasm/client.wasm.gz":     {Data: gz.Bytes()},
				"wasm/client.wasm.br":     {Data: br.Bytes()},
				"wasm/client.wasm.sha256": {Data: []byte(tc.sum)},
				"site.css.gz":             {Data: []byte("a file of its own")},
			}
			a := compressAssets(fsys, "v1")
			f := a.files["wasm/client.wasm"]
			if f == nil {
				t.Fatal("wasm asset missing")
			}
			for _, p := range []string{"wasm/client.wasm.gz", "wasm/client.wasm.br", "wasm/client.wasm.sha256"} {
				if a.files[p] != nil {
					t.Errorf("%s served as an asset of its own", p)
				}
			}
			if a.files["site.css.gz"] == nil {
				t.Error("a .gz without a base file must stay an asset")
			}
			if got := bytes.Equal(f.brotl, br.Bytes()) && bytes.Equal(f.gzip, gz.Bytes()); got != tc.prebuilt {
				t.Errorf("prebuilt forms taken: %v, want %v", got, tc.prebuilt)
			}
			for enc, body := range map[string][]byte{"gzip": f.gzip, "br": f.brotl} {
				var r io.Reader
				if enc == "gzip" {
					zr, err := gzip.NewReader(bytes.NewReader(body))
					if err != nil {
						t.Fatal(err)
					}
					r = zr
				} else {
					r = brotli.NewReader(bytes.NewReader(body))
				}
				if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, raw) {
					t.Errorf("%s form does not decode to the file (%v)", enc, err)
				}
			}
		})
	}
}
