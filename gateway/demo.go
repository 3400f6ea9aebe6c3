package gateway

import (
	"bytes"
	_ "embed"
	"os"
	"path/filepath"

	"github.com/swarmgate/swarmgate/internal/link"
)

// demoMP4 is a 12 s 640×360 H.264/AAC faststart clip (ffmpeg testsrc2 and
// a 440 Hz tone), the content `make run` seeds.
//
//go:embed demo/demo.mp4
var demoMP4 []byte

// SeedDemo writes the embedded demo video into the data directory (once)
// and seeds it as pinned content.
func (g *Gateway) SeedDemo() (link.Link, error) {
	path := filepath.Join(g.cfg.DataDir, "demo", "swarmgate-demo.mp4")
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, demoMP4) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return link.Link{}, err
		}
		if err := os.WriteFile(path, demoMP4, 0o644); err != nil {
			return link.Link{}, err
		}
	}
	return g.Seed(path, "video/mp4")
}
