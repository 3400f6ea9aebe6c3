package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/swarmgate/swarmgate/signaling"
)

// benchSignal measures the signaling broker: idle WebSocket sessions held
// (memory per session, from this process's RSS; the clients run in child
// processes, one source address 127.0.1.N each) and join-to-offer latency
// with many sessions joining one swarm at once.
func benchSignal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench signal", stderr)
	sessions := fs.Int("sessions", 50000, "idle WebSocket sessions to hold (capped by the open-file limit)")
	perProc := fs.Int("per-process", 16000, "client sessions per child process (one source address each)")
	joiners := fs.Int("join", 1000, "sessions joining one swarm at once for the latency run (0 skips it)")
	var lim signaling.Limits
	lim.AddFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if lim.IdleTimeout == signaling.DefaultIdleTimeout {
		lim.IdleTimeout = 30 * time.Minute // the idle clients never ping
	}
	fmt.Fprintf(stdout, "signaling bench: limits sessions=%d per-ip=%d (raise with --signal-sessions, --signal-sessions-per-ip)\n",
		lim.MaxSessions, lim.MaxSessionsPerIP)
	if *sessions > 0 {
		if err := benchIdle(ctx, *sessions, *perProc, lim, stdout, stderr); err != nil {
			return err
		}
	}
	if *joiners > 0 {
		return benchJoin(ctx, *joiners, lim, stdout)
	}
	return nil
}

// serveSignal starts a broker and its HTTP server on loopback.
func serveSignal(lim signaling.Limits) (*signaling.Broker, string, func(), error) {
	b := signaling.NewBroker(signaling.Config{Limits: lim})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/signal", signaling.NewHandler(b, signaling.HandlerConfig{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return b, ln.Addr().String(), func() { b.Close(); srv.Close() }, nil
}

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func benchIdle(ctx context.Context, n, perProc int, lim signaling.Limits, stdout, stderr io.Writer) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		if maxFD := int(rl.Cur) - 256; n > maxFD {
			fmt.Fprintf(stdout, "open-file limit %d (hard %d): holding %d sessions instead of %d\n", rl.Cur, rl.Max, maxFD, n)
			n = maxFD
		}
	}
	b, addr, stop, err := serveSignal(lim)
	if err != nil {
		return err
	}
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	runtime.GC()
	debug.FreeOSMemory()
	base := rssBytes()
	baseG := runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap, baseStack := ms.HeapInuse, ms.StackInuse
	t0 := time.Now()
	var procs []*exec.Cmd
	var stdins []io.Closer
	defer func() {
		for _, c := range stdins {
			c.Close()
		}
		for _, p := range procs {
			p.Wait()
		}
	}()
	type result struct {
		n   int
		err error
	}
	results := make(chan result)
	for i, left := 0, n; left > 0; i++ {
		k := min(left, perProc)
		left -= k
		src := fmt.Sprintf("127.0.1.%d", i+1)
		cmd := exec.CommandContext(ctx, exe, "bench", "signal-clients", "--addr", addr, "--src", src, "--count", strconv.Itoa(k))
		cmd.Stderr = stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		stdins = append(stdins, in)
		go func() {
			line, err := bufio.NewReader(out).ReadString('\n')
			var got int
			if err == nil {
				_, err = fmt.Sscanf(line, "ready %d", &got)
			}
			results <- result{got, err}
		}()
	}
	held := 0
	for range procs {
		r := <-results
		if r.err != nil {
			return fmt.Errorf("client process: %v", r.err)
		}
		held += r.n
	}
	setup := time.Since(t0)
	if s := b.Stats(); s.Sessions != held {
		return fmt.Errorf("broker holds %d sessions, clients report %d", s.Sessions, held)
	}
	if held < n {
		fmt.Fprintf(stdout, "only %d of %d sessions were accepted (per-IP or total limit? --signal-sessions-per-ip, --signal-sessions)\n", held, n)
	}
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(500 * time.Millisecond)
	rss := rssBytes()
	runtime.ReadMemStats(&ms)
	heap, stack := ms.HeapInuse, ms.StackInuse
	gor := runtime.NumGoroutine() - baseG
	per := float64(rss-base) / float64(max(held, 1))
	fmt.Fprintf(stdout, "idle sessions: %d held (set up in %v, %d client processes)\n", held, setup.Round(time.Millisecond), len(procs))
	fmt.Fprintf(stdout, "  broker process RSS %.1f MiB (baseline %.1f MiB): %.1f KiB per session; Go heap %.1f KiB and stacks %.1f KiB per session; %.2f goroutines per session\n",
		float64(rss)/(1<<20), float64(base)/(1<<20), per/1024, float64(heap-baseHeap)/float64(max(held, 1))/1024,
		float64(stack-baseStack)/float64(max(held, 1))/1024, float64(gor)/float64(max(held, 1)))
	fmt.Fprintf(stdout, "  50,000 sessions at this rate: %.0f MiB RSS (aim < 1024 MiB)\n", (float64(base)+per*50000)/(1<<20))
	return nil
}

// benchSignalClients is the child process of benchIdle: it opens count
// WebSocket sessions from --src to --addr with a minimal client (upgrade,
// hello, read the welcome), prints "ready N" and holds them until stdin
// closes.
func benchSignalClients(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench signal-clients", stderr)
	addr := fs.String("addr", "", "broker address")
	src := fs.String("src", "127.0.0.1", "source address")
	count := fs.Int("count", 1000, "sessions")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(*src)}, Timeout: 30 * time.Second}
	var mu sync.Mutex
	var conns []net.Conn
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(*count) {
				c, err := rawSession(ctx, &d, *addr)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(stderr, "signal-clients %s: %d sessions failed, first: %v\n", *src, f, firstErr.Load())
	}
	fmt.Fprintf(stdout, "ready %d\n", len(conns))
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return nil
}

// rawSession upgrades a TCP connection to WebSocket (RFC 6455 §4.1), sends
// a masked hello and reads the welcome.
func rawSession(ctx context.Context, d *net.Dialer, addr string) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var key [16]byte
	rand.Read(key[:])
	req := "GET /signal HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	hello := []byte(`{"v":1,"type":"hello","role":"peer"}`)
	frame := []byte{0x81, 0x80 | byte(len(hello)), 1, 2, 3, 4}
	for i, ch := range hello {
		frame = append(frame, ch^frame[2+i%4])
	}
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 512)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		c.Close()
		return nil, fmt.Errorf("upgrade: %q %v", strings.TrimSpace(status), err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	// Only after the upgrade: gorilla/websocket refuses early frames.
	if _, err := c.Write(frame); err != nil {
		c.Close()
		return nil, err
	}
	var h [4]byte
	if _, err := io.ReadFull(br, h[:2]); err != nil {
		c.Close()
		return nil, err
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		if _, err := io.ReadFull(br, h[2:4]); err != nil {
			c.Close()
			return nil, err
		}
		n = int(binary.BigEndian.Uint16(h[2:4]))
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(br, msg); err != nil {
		c.Close()
		return nil, err
	}
	if !strings.Contains(string(msg), `"welcome"`) {
		c.Close()
		return nil, fmt.Errorf("no welcome: %s", msg)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// benchJoin: a gateway session (in process, trusted, as in the gateway)
// is in a swarm; n WebSocket clients join it at once and each offers to
// the first peer of its list. Latency is from the client's join to the
// gateway receiving its offer.
func benchJoin(ctx context.Context, n int, lim signaling.Limits, stdout io.Writer) error {
	b, addr, stop, err := serveSignal(lim)
	if err != nil {
		return err
	}
	defer stop()
	const swarm = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
	cc, sc := signaling.Pipe()
	go b.Serve(ctx, sc, signaling.SessionOptions{Trusted: true})
	gw, err := signaling.NewClient(ctx, cc, signaling.ClientConfig{Role: signaling.RoleGateway})
	if err != nil {
		return err
	}
	defer gw.Close()
	gw.Join(swarm)
	if m, err := gw.Recv(ctx); err != nil || m.Type != signaling.TypePeers {
		return fmt.Errorf("gateway join: %v %+v", err, m)
	}
	clients := make([]*signaling.Client, n)
	var dialErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := signaling.Dial(ctx, "ws://"+addr+"/signal", signaling.ClientConfig{Role: signaling.RolePeer})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && dialErr == nil {
				dialErr = err
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	if dialErr != nil {
		return fmt.Errorf("dial (raise --signal-sessions-per-ip?): %w", dialErr)
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	sdp := "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:efghijklmnopqrstuvwxyz012345\r\n" +
		"a=fingerprint:sha-256 " + strings.Repeat("AB:", 31) + "AB\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n"
	joinAt := make(map[string]time.Time, n)
	var listLat []time.Duration
	start := make(chan struct{})
	var ready sync.WaitGroup
	for _, c := range clients {
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready.Done()
			<-start
			t := time.Now()
			mu.Lock()
			joinAt[c.ID()] = t
			mu.Unlock()
			c.Join(swarm)
			for {
				m, err := c.Recv(ctx)
				if err != nil {
					return
				}
				if m.Type == signaling.TypePeers {
					mu.Lock()
					listLat = append(listLat, time.Since(t))
					mu.Unlock()
					if len(m.Peers) > 0 {
						c.Offer(m.Peers[0].ID, sdp)
					}
					break
				}
			}
			for { // drain joined updates until closed
				if _, err := c.Recv(ctx); err != nil {
					return
				}
			}
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	var lat []time.Duration
	deadline, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for len(lat) < n {
		m, err := gw.Recv(deadline)
		if err != nil {
			return fmt.Errorf("gateway got %d of %d offers: %v", len(lat), n, err)
		}
		if m.Type != signaling.TypeOffer {
			continue
		}
		now := time.Now()
		mu.Lock()
		t, ok := joinAt[m.From]
		mu.Unlock()
		if !ok {
			return errors.New("offer from an unknown session")
		}
		lat = append(lat, now.Sub(t))
	}
	wall := time.Since(t0)
	for _, c := range clients {
		c.Close()
	}
	wg.Wait()
	mu.Lock()
	ll := slices.Clone(listLat)
	mu.Unlock()
	pct := func(d []time.Duration, p float64) time.Duration {
		slices.Sort(d)
		return d[min(len(d)-1, int(p*float64(len(d))))]
	}
	fmt.Fprintf(stdout, "join-to-offer, %d sessions joining one swarm at once (offer to the gateway): p50 %v, p99 %v, max %v; all %d offers in %v\n",
		n, pct(lat, 0.50).Round(10*time.Microsecond), pct(lat, 0.99).Round(10*time.Microsecond), pct(lat, 1).Round(10*time.Microsecond), n, wall.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  join-to-peer-list: p50 %v, p99 %v; relayed %d\n",
		pct(ll, 0.50).Round(10*time.Microsecond), pct(ll, 0.99).Round(10*time.Microsecond), b.Stats().Relayed)
	return nil
}
