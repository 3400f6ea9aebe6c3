package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/swarmgate/swarmgate/booster"
	"github.com/swarmgate/swarmgate/internal/client"
	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/link"
)

// benchShare measures issue 8's last figure with real processes on
// loopback, no DHT: a gateway seeding a file of --size; N boosters that
// keep a signaling session with it and follow a publisher through its
// feed node; the publisher's post linking the file, pushed to the
// gateway, reaches them and they fetch it (over WebRTC, from the gateway
// and each other). Once every booster holds it, a native client
// (internal/client, what the browser runs) watches through the gateway
// (/signal, WebRTC to the gateway and to the boosters it lists). It
// prints the bytes the client got from the gateway and from each booster,
// the gateway's share and the time, run after run.
func benchShare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench share", stderr)
	var size sizeFlag = 50 << 20
	fs.Var(&size, "size", "content size")
	nb := fs.Int("boosters", 3, "boosters seeding")
	runs := fs.Int("runs", 3, "native clients watching, one after the other")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "swarmgate-bench-share-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ps, err := newBenchProcs("XDG_STATE_HOME="+dir, "SWARMGATE_BOOTSTRAP=none")
	if err != nil {
		return err
	}
	defer ps.stop()
	start := ps.start
	content := filepath.Join(dir, "content.mp4")
	if err := writeBenchFile(content, int64(size)); err != nil {
		return err
	}
	lines, err := start("gateway: ", "gateway", "--listen", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--no-dht", "--webrtc-loopback",
		"--data", filepath.Join(dir, "gw"), "--feed-push-rate", "-1", "--seed", content)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(strings.Fields(lines[len(lines)-1])[0], "/")
	var l link.Link
	for _, s := range lines {
		if _, u, ok := strings.Cut(s, "seeding "+content+": "); ok {
			if l, err = link.Parse(u); err != nil {
				return fmt.Errorf("gateway's link %q: %v", u, err)
			}
		}
	}
	if len(l.Root) == 0 {
		return fmt.Errorf("the gateway printed no link: %q", lines)
	}
	pub, err := feed.NewIdentity(nil)
	if err != nil {
		return err
	}
	var socks []string
	for i := range *nb {
		data := filepath.Join(dir, fmt.Sprintf("b%d", i))
		if _, err := start("feed ", "booster", "--data", data, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--no-dht",
			"--gateway", base, "--webrtc-loopback", "--pull-interval", "2s"); err != nil {
			return err
		}
		sock := filepath.Join(data, "booster.sock")
		b, _ := json.Marshal(map[string]any{"uid": pub.UID().String(), "nodes": []string{base}})
		if err := daemonCall(ctx, sock, http.MethodPost, "/follow", b, nil); err != nil {
			return err
		}
		socks = append(socks, sock)
	}
	time.Sleep(time.Second) // the follow requests reach the gateway
	p := &feed.Post{Seq: 1, Time: time.Now(), Text: "bench share", Links: []feed.Content{feed.ContentOf(l)}}
	raw, err := p.Sign(pub)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := feed.Publish(ctx, &http.Client{Timeout: 10 * time.Second}, base, raw); err != nil {
		return err
	}
	for _, sock := range socks {
		for {
			var st booster.Status
			if err := daemonCall(ctx, sock, http.MethodGet, "/status", nil, &st); err != nil {
				return err
			}
			if len(st.Swarms) > 0 && st.Swarms[0].Complete {
				break
			}
			if time.Since(t0) > 5*time.Minute || ctx.Err() != nil {
				return fmt.Errorf("booster %s never held the full copy: %+v", sock, st.Swarms)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	fmt.Fprintf(stdout, "bench share: %d MiB, gateway seeding it, %d boosters got the post through the gateway's feed and hold the full copy after %.2f s; a native client watches through the gateway:\n",
		int64(size)>>20, len(socks), time.Since(t0).Seconds())
	var shares []float64
	for k := range *runs {
		share, err := shareRun(ctx, k+1, base, l, stdout)
		if err != nil {
			return err
		}
		shares = append(shares, share)
	}
	sort.Float64s(shares)
	fmt.Fprintf(stdout, "  gateway share of the bytes served: median %.1f%%, min %.1f%%, max %.1f%% over %d runs (aim <= 20%%)\n",
		100*shares[len(shares)/2], 100*shares[0], 100*shares[len(shares)-1], len(shares))
	return nil
}

// shareRun is one native client watching l through the gateway at base.
func shareRun(ctx context.Context, k int, base string, l link.Link, stdout io.Writer) (float64, error) {
	t0 := time.Now()
	c, err := client.Start(ctx, client.Config{SignalURL: "ws" + strings.TrimPrefix(base, "http") + "/signal",
		Link: link.Link{Root: l.Root, HashFunc: l.HashFunc, ChunkSize: l.ChunkSize, Length: -1}, RTC: rtcLoopback()})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	r, err := c.Reader(ctx, time.Minute)
	if err != nil {
		return 0, err
	}
	got, err := io.Copy(io.Discard, r)
	if err != nil {
		return 0, fmt.Errorf("client read: %w", err)
	}
	secs := time.Since(t0).Seconds()
	st := c.Status(1) // FromGateway: by the role the broker listed
	fromGW, total := st.FromGateway, st.FromGateway+st.FromPeers
	var ids []string
	from := c.Swarm().DownloadedFrom()
	for id := range from {
		if strings.HasPrefix(id, "booster-") {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var boosters []string
	for _, id := range ids {
		boosters = append(boosters, fmt.Sprintf("%.1f", float64(from[id])/(1<<20)))
	}
	if total == 0 || got != l.Length {
		return 0, fmt.Errorf("run %d: read %d bytes of %d, %d counted from peers", k, got, l.Length, total)
	}
	share := float64(fromGW) / float64(total)
	fmt.Fprintf(stdout, "  run %d: %d MiB in %.2f s (%.1f MiB/s); from the gateway %.1f MiB, from the boosters %s MiB; gateway share %.1f%%\n",
		k, got>>20, secs, float64(got)/(1<<20)/secs, float64(fromGW)/(1<<20), strings.Join(boosters, " / "), 100*share)
	return share, nil
}
