package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gatewayProc is a running `swarmgate gateway` (or run) child.
type gatewayProc struct {
	seeder          // process, stderr and done
	lines  []string // what it printed before serving
	base   string   // http://127.0.0.1:PORT
}

func startGatewayProc(t *testing.T, cmdName string, args ...string) *gatewayProc {
	t.Helper()
	args = append([]string{cmdName, "--listen", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--no-dht", "--webrtc-loopback", "--data", filepath.Join(t.TempDir(), "gw")}, args...)
	cmd := command(t, "", args...)
	g := &gatewayProc{seeder: seeder{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}}
	cmd.Stderr = g.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		cmd.Wait()
		close(g.done)
	}()
	timeout := time.After(60 * time.Second)
	for g.base == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				<-g.done
				t.Fatalf("%s exited (%v); stdout %q; stderr:\n%s", cmdName, cmd.ProcessState, g.lines, g.stderr.String())
			}
			g.lines = append(g.lines, l)
			if rest, ok := strings.CutPrefix(l, "gateway: "); ok {
				g.base = strings.TrimSuffix(strings.Fields(rest)[0], "/")
			}
		case <-timeout:
			t.Fatalf("%s printed no URL in 60s; stderr:\n%s", cmdName, g.stderr.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	return g
}

func httpGet(t *testing.T, url string, hdr ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestE2EGateway: a `swarmgate seed` process holds a file; a
// `swarmgate gateway` process that has never seen it serves a range in
// the middle, then the whole file, byte-exact, and exits cleanly on
// SIGTERM.
func TestE2EGateway(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "movie.bin")
	writeRandom(t, file, (1<<20)+(256<<10)+(8<<10)+333, 11) // three peaks
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sd := startSeed(t, []string{file})
	root := linkRoot(t, sd.links[0])
	gw := startGatewayProc(t, "gateway", "--peer", sd.addr)
	raw := fmt.Sprintf("%s/raw/%s?cl=%d&mt=video/mp4", gw.base, root, len(data))
	mid := len(data) / 2
	code, body := httpGet(t, raw, "Range", fmt.Sprintf("bytes=%d-%d", mid, mid+99999))
	if code != 206 || !bytes.Equal(body, data[mid:mid+100000]) {
		t.Fatalf("middle range: %d, %d bytes", code, len(body))
	}
	code, body = httpGet(t, raw)
	if code != 200 || !bytes.Equal(body, data) {
		t.Fatalf("whole file: %d, %d bytes", code, len(body))
	}
	code, body = httpGet(t, fmt.Sprintf("%s/%s?mt=video/mp4&n=movie.mp4", gw.base, root), "Accept", "text/html")
	if code != 200 || !bytes.Contains(body, []byte("<video")) || !bytes.Contains(body, []byte("movie.mp4")) {
		t.Fatalf("link page: %d\n%s", code, body)
	}
	gw.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-gw.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("gateway did not exit within 15s of SIGTERM; stderr:\n%s", gw.stderr.String())
	}
	if c := gw.cmd.ProcessState.ExitCode(); c != 0 {
		t.Fatalf("gateway exited %d; stderr:\n%s", c, gw.stderr.String())
	}
}

// TestE2ERunDemo: `swarmgate run` (make run) serves the embedded demo
// video at the URL it prints.
func TestE2ERunDemo(t *testing.T) {
	gw := startGatewayProc(t, "run")
	var page string
	for _, l := range gw.lines {
		if rest, ok := strings.CutPrefix(l, "demo video: "); ok {
			page = rest
		}
	}
	if !strings.HasPrefix(page, gw.base+"/") {
		t.Fatalf("run printed no demo URL: %q", gw.lines)
	}
	code, body := httpGet(t, page)
	if code != 200 || !bytes.Contains(body, []byte(`<video id="player"`)) {
		t.Fatalf("demo page: %d", code)
	}
	code, body = httpGet(t, strings.Replace(page, gw.base+"/", gw.base+"/raw/", 1))
	if code != 200 || len(body) < 100000 || !bytes.Equal(body[4:8], []byte("ftyp")) {
		t.Fatalf("demo video: %d, %d bytes", code, len(body))
	}
}
