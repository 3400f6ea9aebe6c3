package main

import (
	"bufio"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startLine starts a long-running swarmgate command and returns the first
// line it prints on stdout.
func startLine(t *testing.T, args ...string) string {
	t.Helper()
	cmd := command(t, "", args...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("%v exited without output; stderr:\n%s", args, stderr.String())
		}
		go func() {
			for range lines {
			}
		}()
		return strings.TrimSpace(l)
	case <-time.After(20 * time.Second):
		t.Fatalf("%v printed nothing in 20s; stderr:\n%s", args, stderr.String())
	}
	return ""
}

// overlay starts n DHT nodes on loopback, all bootstrapped from the first,
// and returns their addresses. Nothing leaves 127.0.0.1.
func overlay(t *testing.T, n int) []string {
	t.Helper()
	first := startLine(t, "dht-node", "--listen", "127.0.0.1:0")
	addrs := []string{first}
	for i := 1; i < n; i++ {
		addrs = append(addrs, startLine(t, "dht-node", "--listen", "127.0.0.1:0", "--bootstrap", first))
	}
	time.Sleep(500 * time.Millisecond) // let the nodes meet
	return addrs
}

// TestE2EDHTSeedGet: a seeder announces on the DHT; `get ROOT` with no peer
// finds it through a different node as a read-only leecher.
func TestE2EDHTSeedGet(t *testing.T) {
	nodes := overlay(t, 6)
	dir := t.TempDir()
	content := filepath.Join(dir, "content.bin")
	sum := writeRandom(t, content, 3<<20+11, 21)
	s := startSeed(t, []string{content}, "--dht", "--bootstrap", nodes[0])
	defer s.stop(t)
	root := linkRoot(t, s.links[0])
	time.Sleep(500 * time.Millisecond) // the announce is under way at once
	out := filepath.Join(dir, "out.bin")
	r := runBin(t, 60*time.Second, "get", root, "-o", out, "--bootstrap", nodes[3], "--progress=false", "--stall", "20s")
	mustSucceed(t, r, "get via the DHT")
	sameContent(t, out, sum, 3<<20+11)
}

// TestE2EDHTPublishBoost is reverse peer discovery (thesis ch. 11 §IV-A):
// a booster told of a root announces before it holds a byte; `publish`
// (a source that never announces) finds it, connects out, uploads one full
// copy and exits; a leecher then gets the content from the booster alone.
func TestE2EDHTPublishBoost(t *testing.T) {
	nodes := overlay(t, 6)
	dir := t.TempDir()
	content := filepath.Join(dir, "video.bin")
	sum := writeRandom(t, content, 2<<20+5, 22)
	root := hashRoot(t, content)
	boost := startLine(t, "boost", root, "--listen", "127.0.0.1:0", "--state", filepath.Join(dir, "booster"), "--bootstrap", nodes[1])
	if !strings.HasPrefix(boost, "boosting tswift://127.0.0.1:") {
		t.Fatalf("boost printed %q", boost)
	}
	time.Sleep(500 * time.Millisecond)
	r := runBin(t, 60*time.Second, "publish", content, "--listen", "127.0.0.1:0", "--state", filepath.Join(dir, "source"), "--bootstrap", nodes[2], "--timeout", "45s")
	mustSucceed(t, r, "publish")
	if !strings.Contains(r.stderr, "holds a full copy") {
		t.Fatalf("publish stderr: %s", r.stderr)
	}
	// The source is gone; the booster alone serves the leecher.
	out := filepath.Join(dir, "out.bin")
	r = runBin(t, 60*time.Second, "get", root, "-o", out, "--bootstrap", nodes[4], "--progress=false", "--stall", "20s")
	mustSucceed(t, r, "get from the booster")
	sameContent(t, out, sum, 2<<20+5)
}
