package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/booster"
	"github.com/swarmgate/swarmgate/internal/feed"
)

type daemon struct {
	cmd    *exec.Cmd
	data   string
	url    string
	stderr *syncBuffer
	done   chan error
}

// startBooster runs `swarmgate booster` and waits for its banner.
func startBooster(t *testing.T, data string, args ...string) *daemon {
	t.Helper()
	args = append([]string{"booster", "--data", data, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"}, args...)
	d := &daemon{data: data, stderr: &syncBuffer{}, done: make(chan error, 1)}
	d.cmd = command(t, "", args...)
	d.cmd.Stderr = d.stderr
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "feed "); ok {
				got <- u
			}
		}
		close(got)
		d.done <- d.cmd.Wait()
	}()
	select {
	case u, ok := <-got:
		if !ok {
			t.Fatalf("booster exited; stderr:\n%s", d.stderr.String())
		}
		d.url = u
	case <-time.After(60 * time.Second):
		t.Fatalf("booster did not start; stderr:\n%s", d.stderr.String())
	}
	return d
}

func (d *daemon) ctl(t *testing.T, args ...string) result {
	t.Helper()
	return runBin(t, 60*time.Second, append(append([]string{"booster"}, args...), "--data", d.data)...)
}

func (d *daemon) status(t *testing.T) booster.Status {
	t.Helper()
	r := d.ctl(t, "status", "--json")
	mustSucceed(t, r, "booster status")
	var st booster.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status: %v\n%s", err, r.stdout)
	}
	return st
}

// holds reports whether the booster holds root completely.
func (d *daemon) holds(t *testing.T, root string) bool {
	for _, s := range d.status(t).Swarms {
		if s.Root == root && s.Complete {
			return true
		}
	}
	return false
}

func (d *daemon) term(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("booster did not shut down cleanly on SIGTERM: %v\n%s", err, d.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("booster ignored SIGTERM")
	}
}

// waitHolds waits (at most d) until the booster holds root whole; on a
// timeout the failure carries the booster's status and the end of its log.
func (b *daemon) waitHolds(t *testing.T, what, root string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !b.holds(t, root) {
		if time.Now().After(deadline) {
			log := b.stderr.String()
			log = log[max(0, len(log)-8000):]
			t.Fatalf("timed out: %s\nstatus: %s\nlog (end):\n%s", what, b.ctl(t, "status").stdout, log)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestE2EBoosters: a publisher's feed node, boosters as separate processes
// on a private DHT overlay. `publish --text` pushes a signed post; every
// booster following the uid announces, fetches and seeds; a booster that
// knows only the uid finds the feed through BEP 44; a booster offline
// during posts catches up; a repost by a followed uid makes a booster
// fetch content of a uid it does not follow; SIGTERM shuts down cleanly
// and a restart resumes without fetching again.
func TestE2EBoosters(t *testing.T) {
	nodes := overlay(t, 6)
	dir := t.TempDir()
	pubKey := filepath.Join(dir, "pub.key")
	pub, _, err := feed.LoadOrCreateKey(pubKey)
	if err != nil {
		t.Fatal(err)
	}
	maria, _, err := feed.LoadOrCreateKey(filepath.Join(dir, "maria.key"))
	if err != nil {
		t.Fatal(err)
	}
	fast := []string{"--pull-interval", "2s", "--gap-interval", "1s"}
	home := startBooster(t, filepath.Join(dir, "home"), append([]string{"--feed-only", "--host-uid", pub.UID().String(),
		"--host-uid", maria.UID().String(), "--bootstrap", nodes[0]}, fast...)...)
	var bs []*daemon
	for i := range 2 {
		b := startBooster(t, filepath.Join(dir, "b"+string(rune('1'+i))), append([]string{"--bootstrap", nodes[1+i]}, fast...)...)
		mustSucceed(t, b.ctl(t, "follow", pub.UID().String(), "--node", home.url), "follow")
		bs = append(bs, b)
	}
	time.Sleep(2 * time.Second) // the follow requests ride the first pull round

	publish := func(name string, size int64, seed uint64, text string) string {
		content := filepath.Join(dir, name)
		writeRandom(t, content, size, seed)
		r := runBin(t, 120*time.Second, "publish", content, "--text", text, "--node", home.url, "--key", pubKey,
			"--listen", "127.0.0.1:0", "--state", filepath.Join(dir, "source-"+name), "--bootstrap", nodes[5], "--timeout", "90s", "--poll", "1s")
		mustSucceed(t, r, "publish")
		if !strings.Contains(r.stdout, "posted "+pub.UID().String()+"/") {
			t.Fatalf("publish stdout: %s", r.stdout)
		}
		return hashRoot(t, content)
	}
	root1 := publish("one.bin", 1<<20+3, 31, "first video")
	for _, b := range bs {
		b.waitHolds(t, "booster holds the content", root1, 90*time.Second)
	}

	// BEP 44: a booster that knows only the uid.
	b3 := startBooster(t, filepath.Join(dir, "b3"), append([]string{"--bootstrap", nodes[3]}, fast...)...)
	mustSucceed(t, b3.ctl(t, "follow", pub.UID().String()), "follow by uid only")
	b3.waitHolds(t, "BEP 44 follower holds the content", root1, 90*time.Second)

	// Offline: booster 2 stops (SIGTERM) during two posts, then returns.
	bs[1].term(t)
	root2 := publish("two.bin", 300<<10, 32, "second")
	root3 := publish("three.bin", 200<<10, 33, "third")
	b2 := startBooster(t, bs[1].data, append([]string{"--bootstrap", nodes[2]}, fast...)...)
	if !b2.holds(t, root1) {
		t.Fatal("restart did not resume the held swarm")
	}
	for _, root := range []string{root2, root3} {
		b2.waitHolds(t, "returning booster catches up", root, 90*time.Second)
	}
	st := b2.status(t)
	if len(st.Follows) != 1 || st.Follows[0].Head != 3 {
		t.Fatalf("returning booster's feed: %+v", st.Follows)
	}

	// Meta-boosting: a booster that follows only Maria boosts the content
	// of a post by a uid it does not follow once Maria reposts it.
	b4 := startBooster(t, filepath.Join(dir, "b4"), append([]string{"--bootstrap", nodes[4]}, fast...)...)
	mustSucceed(t, b4.ctl(t, "follow", maria.UID().String(), "--node", home.url), "follow maria")
	time.Sleep(2 * time.Second)
	st = bs[0].status(t)
	var orig feed.Content
	for _, s := range st.Swarms {
		if s.Root == root1 {
			orig.Root, _ = hex.DecodeString(s.Root)
			orig.ChunkSize, orig.Length, orig.Name = 1024, s.Length, s.Name
		}
	}
	rp := &feed.Post{Seq: 1, Time: time.Now(), Kind: feed.KindRepost, Ref: feed.Ref{UID: pub.UID(), Seq: 1}, Links: []feed.Content{orig}}
	raw, err := rp.Sign(maria)
	if err != nil {
		t.Fatal(err)
	}
	if err := feed.Publish(context.Background(), http.DefaultClient, home.url, raw); err != nil {
		t.Fatal(err)
	}
	b4.waitHolds(t, "repost boosted", root1, 90*time.Second)
	if st := b4.status(t); len(st.Follows) != 1 || st.Follows[0].UID != maria.UID().String() {
		t.Fatalf("b4 follows %+v", st.Follows)
	}
}
