package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/swarmgate/swarmgate/internal/client"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/node"
	"github.com/swarmgate/swarmgate/internal/rtc"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// benchGateway measures the gateway as a separate process on loopback:
// time to first byte of a mid-file range on a gateway that has never seen
// the content (it finds and fetches it from a UDP seeder), /raw/
// throughput of content it holds, and goodput through the WebRTC bridge to
// a native client (content on the UDP seeder, the gateway relaying) with
// the gateway's CPU per GiB, beside raw pion-to-pion data-channel
// throughput in the same run.
func benchGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench gateway", stderr)
	size := sizeFlag(100 << 20)
	fs.Var(&size, "size", "content size")
	runs := fs.Int("runs", 5, "cold gateways started for the time-to-first-byte figure")
	bridgeRuns := fs.Int("bridge-runs", 3, "bridge runs, each followed by a raw pion run")
	profile := fs.String("cpuprofile", "", "write CPU profiles of the first bridge run: the gateway's to FILE.gateway, this process's (seeder and client) to FILE")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "swarmgate-bench-gw-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "content.bin")
	if err := os.WriteFile(file, pseudoRandom(int(size), 17), 0o644); err != nil {
		return err
	}
	// The UDP seeder, in this process.
	sd, err := node.Open(node.Config{Listen: "127.0.0.1:0", StateDir: filepath.Join(dir, "seed")})
	if err != nil {
		return err
	}
	defer sd.Close()
	sw, err := node.ImportFile(sd.Store, file, merkle.Options{ChunkSize: 1024})
	if err != nil {
		return err
	}
	defer sw.Close()
	if _, err := sd.Engine.Add(swarm.SwarmConfig{Store: sw}); err != nil {
		return err
	}
	sd.Start(ctx)
	l := node.InfoLink(sw.Info())
	l.MIME = "video/mp4" // as a link page gives it (no sniffing read at offset 0)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	start := func(k int, extra ...string) (*exec.Cmd, string, error) {
		args := append([]string{"gateway", "--listen", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--no-dht", "--webrtc-loopback",
			"--peer", sd.Conn.LocalAddr().String(), "--data", filepath.Join(dir, fmt.Sprintf("gw%d", k))}, extra...)
		cmd := exec.CommandContext(ctx, self, args...)
		cmd.Env = append(os.Environ(), "SWARMGATE_BOOTSTRAP=none")
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, "", err
		}
		if err := cmd.Start(); err != nil {
			return nil, "", err
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "gateway: "); ok {
				go io.Copy(io.Discard, out)
				return cmd, strings.TrimSuffix(strings.Fields(rest)[0], "/"), nil
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		return nil, "", fmt.Errorf("gateway printed no URL")
	}
	stop := func(cmd *exec.Cmd) {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	mid := int64(size) / 2
	var ttfb []time.Duration
	for k := 0; k < *runs; k++ {
		cmd, base, err := start(k)
		if err != nil {
			return err
		}
		d, err := firstByte(ctx, fmt.Sprintf("%s/raw%s", base, l.Path()), fmt.Sprintf("bytes=%d-%d", mid, mid+65535))
		stop(cmd)
		if err != nil {
			return fmt.Errorf("cold range: %w", err)
		}
		ttfb = append(ttfb, d)
	}
	sort.Slice(ttfb, func(i, j int) bool { return ttfb[i] < ttfb[j] })
	fmt.Fprintf(stdout, "gateway: %d MiB content, gateway process on loopback, UDP seeder in the bench process\n", int64(size)>>20)
	fmt.Fprintf(stdout, "  cold gateway, first byte of a 64 KiB range in the middle (find size + fetch from the UDP seeder): p50 %v, min %v, max %v (%d gateways)\n",
		ttfb[len(ttfb)/2].Round(100*time.Microsecond), ttfb[0].Round(100*time.Microsecond), ttfb[len(ttfb)-1].Round(100*time.Microsecond), len(ttfb))

	// Held: a gateway seeding the file itself (pinned), /raw/ throughput.
	cmd, base, err := start(100, "--seed", file)
	if err != nil {
		return err
	}
	raw := fmt.Sprintf("%s/raw%s", base, l.Path())
	if _, err := getAll(ctx, raw); err != nil { // the first read warms the page cache
		stop(cmd)
		return err
	}
	t0 := time.Now()
	n, err := getAll(ctx, raw)
	secs := time.Since(t0).Seconds()
	stop(cmd)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  /raw/ of content the gateway holds: %d MiB in %.2f s = %.0f MiB/s\n", n>>20, secs, float64(n)/(1<<20)/secs)

	// Bridge: a cold gateway relays from the UDP seeder to a native client
	// over WebRTC (the gateway's CPU from /proc), alternating with raw
	// pion-to-pion runs so that both see the same machine load.
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	var ratios []float64
	for k := 0; k < *bridgeRuns; k++ {
		var extra []string
		if *profile != "" && k == 0 {
			extra = []string{"--cpuprofile", *profile + ".gateway"}
		}
		cmd, base, err := start(200+k, extra...)
		if err != nil {
			return err
		}
		got, secs, gcpu, err := bridgeRun(ctx, cmd, base, l)
		stop(cmd)
		if *profile != "" && k == 0 {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return err
		}
		bridged := float64(got) / (1 << 20) / secs
		rawDC, err := benchRawDC(ctx, int64(size), 17000, false)
		if err != nil {
			return fmt.Errorf("raw pion: %w", err)
		}
		ratios = append(ratios, bridged/rawDC.mibs())
		fmt.Fprintf(stdout, "  bridge run %d, UDP seeder -> cold gateway -> WebRTC -> native client, every chunk verified twice: %d MiB in %.2f s = %.1f MiB/s, gateway CPU %.1f s/GiB relayed; raw pion data channel next (unordered, unreliable, 17000 B messages): %.1f MiB/s; bridge / raw = %.2f\n",
			k+1, got>>20, secs, bridged, gcpu/(float64(got)/(1<<30)), rawDC.mibs(), bridged/rawDC.mibs())
	}
	sort.Float64s(ratios)
	fmt.Fprintf(stdout, "  bridge / raw pion: median %.2f, min %.2f, max %.2f over %d alternating runs (aim >= 0.8)\n",
		ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1], len(ratios))
	return nil
}

// bridgeRun downloads the whole link through the gateway at base with a
// native client over WebRTC, every chunk verified, and reports the bytes,
// seconds and the gateway's CPU seconds meanwhile.
func bridgeRun(ctx context.Context, cmd *exec.Cmd, base string, l link.Link) (int64, float64, float64, error) {
	cpu0 := procCPU(cmd.Process.Pid)
	t0 := time.Now()
	c, err := client.Start(ctx, client.Config{SignalURL: "ws" + strings.TrimPrefix(base, "http") + "/signal",
		Link: link.Link{Root: l.Root, ChunkSize: l.ChunkSize, Length: -1}, RTC: rtcLoopback()})
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Close()
	r, err := c.Reader(ctx, time.Minute)
	if err != nil {
		return 0, 0, 0, err
	}
	got, err := io.Copy(io.Discard, r)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bridge read: %w", err)
	}
	return got, time.Since(t0).Seconds(), procCPU(cmd.Process.Pid) - cpu0, nil
}

func rtcLoopback() rtc.Config { return rtc.Config{LoopbackOnly: true} }

// firstByte is the time from sending a GET with rng to its first body
// byte, the body then read and checked for length.
func firstByte(ctx context.Context, url, rng string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Range", rng)
	var t0 time.Time
	var first time.Duration
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest:         func(httptrace.WroteRequestInfo) { t0 = time.Now() },
		GotFirstResponseByte: func() { first = time.Since(t0) },
	}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 206 {
		return 0, fmt.Errorf("status %s", resp.Status)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return first, nil
}

func getAll(ctx context.Context, url string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("status %s", resp.Status)
	}
	return io.Copy(io.Discard, resp.Body)
}

// procCPU is a process's user+system CPU seconds from /proc/PID/stat.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}
