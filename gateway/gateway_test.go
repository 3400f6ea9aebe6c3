package gateway

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/node"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

func randomContent(n int, seed uint64) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), 7})
	b := make([]byte, n)
	r.Read(b)
	return b
}

// lyingStore serves chunks with a flipped byte: a peer whose data fails
// verification.
type lyingStore struct{ store.Swarm }

func (l lyingStore) ReadChunk(c uint64, p []byte) (int, error) {
	n, err := l.Swarm.ReadChunk(c, p)
	if n > 0 {
		p[n/2] ^= 0x5a
	}
	return n, err
}

// seeder is a UDP PPSP peer (a real node on loopback) holding content.
type seeder struct {
	n    *node.Node
	root []byte
	addr string
}

func startSeeder(t testing.TB, data []byte, lie bool) *seeder {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "content.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(node.Config{Listen: "127.0.0.1:0", StateDir: filepath.Join(dir, "state")})
	if err != nil {
		t.Fatal(err)
	}
	sw, err := node.ImportFile(n.Store, file, defaultTreeOptions)
	if err != nil {
		t.Fatal(err)
	}
	var st store.Swarm = sw
	if lie {
		st = lyingStore{sw}
	}
	if _, err := n.Engine.Add(swarm.SwarmConfig{Store: st}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.Start(ctx)
	t.Cleanup(func() {
		cancel()
		sw.Close()
		n.Close()
	})
	return &seeder{n: n, root: sw.Info().SwarmID, addr: n.Conn.LocalAddr().String()}
}

// testGateway is a gateway serving on loopback.
type testGateway struct {
	*Gateway
	base string
	stop func()
}

func startGateway(t testing.TB, cfg Config) *testGateway {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Listen, cfg.UDP, cfg.NoDHT = "127.0.0.1:0", "127.0.0.1:0", true
	cfg.RTC.LoopbackOnly = true // nothing leaves 127.0.0.0/8
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = 20 * time.Second
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	var once bool
	stop := func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return &testGateway{Gateway: g, base: "http://" + g.Addr().String(), stop: stop}
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
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
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, b
}

// threePeaks is content whose tree has three peaks (128 + 64 + 3 chunks
// and a short last chunk), so ranges cross subtrees with distinct uncles.
var threePeaks = (128+64+2)*1024 + 517

// TestRawRanges is the range suite against /raw/: a cold gateway that must
// fetch from a UDP seeder first, then ranges at the start, middle, end,
// past the end, suffix, multiple ranges, the whole file and conditional
// requests, each byte-exact against the file.
func TestRawRanges(t *testing.T) {
	data := randomContent(threePeaks, 1)
	sd := startSeeder(t, data, false)
	gw := startGateway(t, Config{Peers: []string{sd.addr}})
	l := link.Link{Root: sd.root, ChunkSize: 1024, Length: int64(len(data)), MIME: "video/mp4", Name: "clip.mp4"}
	raw := gw.base + "/raw" + l.Path()
	size := len(data)

	// Cold: the first request is a range in the middle.
	mid := size/2 + 333
	resp, body := get(t, raw, "Range", fmt.Sprintf("bytes=%d-%d", mid, mid+4999))
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[mid:mid+5000]) {
		t.Fatalf("cold middle range: %s, %d bytes, equal %v", resp.Status, len(body), bytes.Equal(body, data[mid:mid+5000]))
	}
	if got, want := resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/%d", mid, mid+4999, size); got != want {
		t.Errorf("Content-Range %q, want %q", got, want)
	}
	if resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Content-Type") != "video/mp4" ||
		resp.Header.Get("ETag") != `"`+hex.EncodeToString(sd.root)+`"` {
		t.Errorf("headers: %v", resp.Header)
	}
	cases := []struct {
		name, rng  string
		status     int
		start, end int // want data[start:end]
	}{
		{"start", "bytes=0-99", 206, 0, 100},
		{"first chunk boundary", "bytes=1023-1024", 206, 1023, 1025},
		{"end", fmt.Sprintf("bytes=%d-", size-700), 206, size - 700, size},
		{"suffix", "bytes=-1500", 206, size - 1500, size},
		{"last byte", fmt.Sprintf("bytes=%d-%d", size-1, size-1), 206, size - 1, size},
		{"end beyond size is clamped", fmt.Sprintf("bytes=%d-%d", size-10, size+1000), 206, size - 10, size},
		{"whole", "", 200, 0, size},
		{"past the end", fmt.Sprintf("bytes=%d-", size), 416, 0, 0},
		{"malformed range", "bytes=abc", 416, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.rng != "" {
				hdr = []string{"Range", c.rng}
			}
			resp, body := get(t, raw, hdr...)
			if resp.StatusCode != c.status {
				t.Fatalf("status %s, want %d", resp.Status, c.status)
			}
			if c.status == 416 {
				if c.rng != "bytes=abc" && resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
					t.Errorf("416 Content-Range %q", resp.Header.Get("Content-Range"))
				}
				return
			}
			if !bytes.Equal(body, data[c.start:c.end]) {
				t.Fatalf("%d bytes, not the file's bytes %d-%d", len(body), c.start, c.end)
			}
		})
	}
	t.Run("multiple ranges", func(t *testing.T) {
		resp, body := get(t, raw, "Range", "bytes=0-9,150000-150099")
		mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if resp.StatusCode != 206 || err != nil || mt != "multipart/byteranges" {
			t.Fatalf("%s %q %v", resp.Status, resp.Header.Get("Content-Type"), err)
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for _, want := range [][2]int{{0, 10}, {150000, 150100}} {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(p)
			if !bytes.Equal(b, data[want[0]:want[1]]) {
				t.Fatalf("part %v differs", want)
			}
		}
	})
	t.Run("conditional", func(t *testing.T) {
		etag := `"` + hex.EncodeToString(sd.root) + `"`
		resp, _ := get(t, raw, "If-None-Match", etag)
		if resp.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match: %s", resp.Status)
		}
		resp, body := get(t, raw, "Range", "bytes=5-9", "If-Range", `"other"`)
		if resp.StatusCode != 200 || len(body) != size {
			t.Fatalf("If-Range mismatch: %s, %d bytes", resp.Status, len(body))
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		resp, err := http.Head(raw)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ContentLength != int64(size) {
			t.Fatalf("HEAD: %s, length %d", resp.Status, resp.ContentLength)
		}
	})
}

// TestLyingUDPPeer: with a liar and an honest seeder, every byte served is
// the file's, and the liar is dropped.
func TestLyingUDPPeer(t *testing.T) {
	data := randomContent(threePeaks, 2)
	liar := startSeeder(t, data, true)
	honest := startSeeder(t, data, false)
	gw := startGateway(t, Config{Peers: []string{liar.addr, honest.addr}})
	l := link.Link{Root: honest.root, ChunkSize: 1024, Length: -1}
	resp, body := get(t, gw.base+"/raw"+l.Path())
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("%s, %d bytes, equal %v", resp.Status, len(body), bytes.Equal(body, data))
	}
	e := gw.lookup(honest.root)
	if e == nil || e.s.Stats().PeersDropped == 0 {
		t.Fatal("the lying peer was not dropped")
	}
}

// TestBadRequests: malformed, unknown and hostile requests get a clear
// error, and the gateway keeps serving.
func TestBadRequests(t *testing.T) {
	gw := startGateway(t, Config{FetchTimeout: 300 * time.Millisecond, ReadHeaderTimeout: time.Second})
	unknown := strings.Repeat("ab", 20)
	cases := []struct {
		path   string
		status int
	}{
		{"/raw/xyz", 400},
		{"/raw/" + strings.Repeat("a", 41), 400},
		{"/raw/" + unknown + "?cs=1000", 400},
		{"/raw/" + unknown + "?hf=9", 400},
		{"/raw/" + unknown, 504}, // nobody has it: fails after the fetch timeout
		{"/raw/" + unknown + "/../../etc/passwd", 404},
		{"/api/swarm/nothex", 400},
		{"/nothex", 404},
		{"/static/x/none.css", 404},
		{"/" + strings.Repeat("0", 5000), 404},
		{"/open?link=ftp://x/y", 400},
	}
	for _, c := range cases {
		resp, body := get(t, gw.base+c.path)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %s (%q), want %d", c.path, resp.Status, body, c.status)
		}
	}
	resp, _ := get(t, gw.base+"/healthz")
	if resp.StatusCode != 200 {
		t.Fatalf("healthz after bad requests: %s", resp.Status)
	}
	// A client that never finishes its headers is cut off.
	c, err := net.Dial("tcp", gw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n"))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("slow client was not closed by the server: %v", err)
	}
}

// TestPages: the front page lists what the gateway holds; the link page
// has a player of /raw/ that works without JavaScript; the status API
// reports progress; assets are precompressed and immutable.
func TestPages(t *testing.T) {
	gw := startGateway(t, Config{})
	l, err := gw.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, gw.base+l.Path())
	page := string(body)
	if resp.StatusCode != 200 || !strings.Contains(page, `<video id="player"`) || !strings.Contains(page, `src="/raw`+l.Path()[:41]) ||
		!strings.Contains(page, "swarmgate-demo.mp4") || !strings.Contains(page, "478 of 478 chunks verified") {
		t.Fatalf("link page: %s\n%s", resp.Status, page)
	}
	// The page offers the gateway a connection before the broker lists it
	// (load.js), and asks for no media before its script starts.
	if gw.bridge != nil && !strings.Contains(page, `data-gateway="`+gw.bridge.client.ID()+`"`) {
		t.Errorf("link page lacks the gateway's peer ID %q", gw.bridge.client.ID())
	}
	if !strings.Contains(page, `preload="none"`) {
		t.Error(`link page's player is not preload="none"`)
	}
	resp, body = get(t, gw.base+"/")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "swarmgate-demo.mp4") {
		t.Fatalf("front page does not list the demo: %s", body)
	}
	resp, body = get(t, gw.base+"/api/swarm/"+hex.EncodeToString(l.Root))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"have":478,"total":478`) {
		t.Fatalf("status: %s", body)
	}
	resp, body = get(t, gw.base+"/raw"+l.Path())
	if resp.StatusCode != 200 || !bytes.Equal(body, demoMP4) {
		t.Fatal("demo video differs")
	}
	css := gw.base + "/static/" + gw.assets.version + "/style.css"
	req, _ := http.NewRequest("GET", css, nil)
	req.Header.Set("Accept-Encoding", "br, gzip")
	r2, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.Header.Get("Content-Encoding") != "br" || !strings.Contains(r2.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("asset headers: %v", r2.Header)
	}
	resp, body = get(t, gw.base+"/metrics")
	for _, m := range []string{"swarmgate_swarms 1", "swarmgate_http_requests_total", "swarmgate_transport_bytes_total", "swarmgate_raw_bytes_total", "swarmgate_chunks_duplicate_total", "swarmgate_chunks_resent_total", `swarmgate_webrtc_datagrams_dropped_total{where="recv"}`} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// TestQuota: unwatched cached content is evicted least recently used
// first; pinned content never is.
func TestQuota(t *testing.T) {
	a := startSeeder(t, randomContent(100<<10, 3), false)
	b := startSeeder(t, randomContent(100<<10, 4), false)
	gw := startGateway(t, Config{Peers: []string{a.addr, b.addr}, Quota: 150 << 10})
	if _, err := gw.SeedDemo(); err != nil { // pinned, 478 KiB: over the quota alone
		t.Fatal(err)
	}
	for _, sd := range []*seeder{a, b} {
		l := link.Link{Root: sd.root, ChunkSize: 1024, Length: -1}
		if resp, _ := get(t, gw.base+"/raw"+l.Path()); resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
		time.Sleep(5 * time.Millisecond) // distinct last-used times
	}
	used := gw.enforceQuota()
	if used > 150<<10 {
		t.Fatalf("cached %d bytes after eviction, quota %d", used, 150<<10)
	}
	if _, err := gw.node.Store.Get(a.root); err == nil {
		t.Error("least recently used content was not evicted")
	}
	if _, err := gw.node.Store.Get(b.root); err != nil {
		t.Error("most recently used content was evicted")
	}
	if len(gw.node.Store.Dir()) == 0 {
		t.Fatal("no store dir")
	}
	if n := len(mustList(t, gw)); n != 2 {
		t.Errorf("%d swarms held, want the demo and b", n)
	}
}

func mustList(t *testing.T, gw *testGateway) []store.Info {
	infos, err := gw.node.Store.List()
	if err != nil {
		t.Fatal(err)
	}
	return infos
}

// TestNoLeaks: readers that go away mid-stream leave no goroutines behind.
func TestNoLeaks(t *testing.T) {
	data := randomContent(threePeaks, 5)
	sd := startSeeder(t, data, false)
	gw := startGateway(t, Config{Peers: []string{sd.addr}})
	l := link.Link{Root: sd.root, ChunkSize: 1024, Length: -1}
	get(t, gw.base+"/raw"+l.Path()) // warm: the swarm is joined
	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	base := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		resp, err := client.Get(gw.base + "/raw" + l.Path())
		if err != nil {
			t.Fatal(err)
		}
		io.CopyN(io.Discard, resp.Body, 1000)
		resp.Body.Close() // mid-stream
	}
	tr.CloseIdleConnections()
	e := gw.lookup(sd.root)
	deadline := time.Now().Add(20 * time.Second)
	for (runtime.NumGoroutine() > base+2 || e.watchers.Load() != 0) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, baseline %d:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
	if e.watchers.Load() != 0 {
		t.Fatal("readers still count as watchers")
	}
}
