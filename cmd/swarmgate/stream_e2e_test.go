package main

import (
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"
)

// TestE2EStreamToStdout: `get -o -` writes the content to stdout in order,
// each chunk once verified, and nothing else.
func TestE2EStreamToStdout(t *testing.T) {
	dir := t.TempDir()
	content := filepath.Join(dir, "video.bin")
	const size = 6<<20 + 321
	sum := writeRandom(t, content, size, 31)
	s := startSeed(t, []string{content})
	defer s.stop(t)
	r := runBin(t, 60*time.Second, "get", linkRoot(t, s.links[0]), "--peer", s.addr, "-o", "-", "--progress=false")
	mustSucceed(t, r, "get -o -")
	if len(r.stdout) != size || sha256.Sum256([]byte(r.stdout)) != sum {
		t.Fatalf("stdout has %d bytes, not the %d-byte content", len(r.stdout), size)
	}
}
