package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/swarmgate/swarmgate/booster"
	"github.com/swarmgate/swarmgate/internal/feed"
)

// benchBoost measures issue 8's figures with real processes on loopback:
// a private DHT overlay, the publisher's feed node, N boosters following
// the uid; `publish --text` posts a file of --size. It prints the time from
// publish to every booster having joined (announced) the swarm, and to
// every booster holding the full copy, and the bytes the source uploaded
// over the content length.
func benchBoost(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench boost", stderr)
	var size sizeFlag = 50 << 20
	fs.Var(&size, "size", "content size")
	nb := fs.Int("boosters", 5, "boosters")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "swarmgate-bench-boost-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ps, err := newBenchProcs("XDG_STATE_HOME=" + dir)
	if err != nil {
		return err
	}
	defer ps.stop()
	start := ps.value
	boot, err := start("", "dht-node", "--listen", "127.0.0.1:0")
	if err != nil {
		return err
	}
	for range 5 {
		if _, err := start("", "dht-node", "--listen", "127.0.0.1:0", "--bootstrap", boot); err != nil {
			return err
		}
	}
	time.Sleep(time.Second)
	pub, _, err := feed.LoadOrCreateKey(filepath.Join(dir, "pub.key"))
	if err != nil {
		return err
	}
	common := []string{"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--bootstrap", boot}
	home, err := start("feed ", append([]string{"booster", "--data", filepath.Join(dir, "home"), "--feed-only", "--host-uid", pub.UID().String()}, common...)...)
	if err != nil {
		return err
	}
	var socks []string
	for i := range *nb {
		data := filepath.Join(dir, fmt.Sprintf("b%d", i))
		if _, err := start("feed ", append([]string{"booster", "--data", data}, common...)...); err != nil {
			return err
		}
		sock := filepath.Join(data, "booster.sock")
		b, _ := json.Marshal(map[string]any{"uid": pub.UID().String(), "nodes": []string{home}})
		if err := daemonCall(ctx, sock, http.MethodPost, "/follow", b, nil); err != nil {
			return err
		}
		socks = append(socks, sock)
	}
	time.Sleep(3 * time.Second) // bootstrap and follow requests settle
	content := filepath.Join(dir, "content.bin")
	if err := writeBenchFile(content, int64(size)); err != nil {
		return err
	}
	stats := filepath.Join(dir, "source.json")
	t0 := time.Now()
	pubCmd := exec.Command(ps.self, "publish", content, "--text", "bench", "--node", home, "--key", filepath.Join(dir, "pub.key"),
		"--listen", "127.0.0.1:0", "--bootstrap", boot, "--poll", "1s", "--timeout", "5m", "--stats-json", stats)
	pubCmd.Env = append(os.Environ(), "XDG_STATE_HOME="+dir)
	pubErr := make(chan error, 1)
	go func() { pubErr <- pubCmd.Run() }()
	joined := make([]time.Duration, len(socks))
	full := make([]time.Duration, len(socks))
	var wg sync.WaitGroup
	for i, sock := range socks {
		wg.Go(func() {
			for time.Since(t0) < 5*time.Minute && ctx.Err() == nil {
				var st booster.Status
				if daemonCall(ctx, sock, http.MethodGet, "/status", nil, &st) == nil && len(st.Swarms) > 0 {
					if joined[i] == 0 {
						joined[i] = time.Since(t0)
					}
					if st.Swarms[0].Complete {
						full[i] = time.Since(t0)
						return
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if err := <-pubErr; err != nil {
		return fmt.Errorf("publish: %v", err)
	}
	var src struct {
		Content  int64  `json:"content_bytes"`
		Uploaded uint64 `json:"uploaded_bytes"`
	}
	b, err := os.ReadFile(stats)
	if err != nil {
		return err
	}
	json.Unmarshal(b, &src)
	var lastJoin, lastFull time.Duration
	for i := range socks {
		if full[i] == 0 {
			return fmt.Errorf("booster %d never held the full copy", i)
		}
		lastJoin, lastFull = max(lastJoin, joined[i]), max(lastFull, full[i])
	}
	fmt.Fprintf(stdout, "bench boost: %d boosters, %d MiB: all announced %.0f ms after publish started, all hold the full copy at %.2f s; source uploaded %.3f× the content (%d of %d bytes)\n",
		len(socks), int64(size)>>20, lastJoin.Seconds()*1000, lastFull.Seconds(), float64(src.Uploaded)/float64(src.Content), src.Uploaded, src.Content)
	return nil
}

func writeBenchFile(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	var x uint64 = 88172645463325252
	for n > 0 {
		for i := 0; i+8 <= len(buf); i += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			for k := range 8 {
				buf[i+k] = byte(x >> (8 * k))
			}
		}
		m := min(n, int64(len(buf)))
		if _, err := f.Write(buf[:m]); err != nil {
			f.Close()
			return err
		}
		n -= m
	}
	return f.Close()
}
