//go:build !js

package signaling

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// startServer serves a broker's Handler on loopback.
func startServer(t *testing.T, lim Limits, hc HandlerConfig) (*Broker, string) {
	t.Helper()
	b := NewBroker(Config{Limits: lim})
	srv := httptest.NewUnstartedServer(NewHandler(b, hc))
	srv.Config.ReadHeaderTimeout = 2 * time.Second
	srv.Start()
	t.Cleanup(func() {
		b.Close()
		srv.Close()
	})
	return b, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dialT(t *testing.T, url string, cfg ClientConfig) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := Dial(ctx, url, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recvT(t *testing.T, c *Client, want string) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	m, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("waiting for %s: %v", want, err)
	}
	got := m.Type
	if m.Type == TypeError {
		got += ":" + m.Code
	}
	if got != want {
		t.Fatalf("got %s (%+v), want %s", got, m, want)
	}
	return m
}

// TestClientOverWebSocket runs the whole exchange a browser and a booster
// make, through the gorilla adapter and Client.
func TestClientOverWebSocket(t *testing.T) {
	_, url := startServer(t, Limits{}, HandlerConfig{})
	booster := dialT(t, url, ClientConfig{Role: RoleBooster})
	if err := booster.Join(swarmA); err != nil {
		t.Fatal(err)
	}
	recvT(t, booster, TypePeers)
	browser := dialT(t, url, ClientConfig{Role: RoleLeecher})
	browser.Join(swarmA)
	list := recvT(t, browser, TypePeers)
	if len(list.Peers) != 1 || list.Peers[0].ID != booster.ID() {
		t.Fatalf("list %+v", list)
	}
	sdp := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" + strings.Repeat("a=x\r\n", 200)
	browser.Offer(booster.ID(), sdp)
	if m := recvT(t, booster, TypeOffer); m.From != browser.ID() || m.SDP != sdp {
		t.Fatalf("offer %+v", m)
	}
	booster.Answer(browser.ID(), "v=0 answer")
	recvT(t, browser, TypeAnswer)
	mid := "0"
	booster.Candidate(browser.ID(), Candidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", SDPMid: &mid})
	if m := recvT(t, browser, TypeCandidate); *m.Candidate.SDPMid != "0" {
		t.Fatalf("candidate %+v", m)
	}
	browser.Offer(browser.ID(), "x")
	recvT(t, browser, "error:"+CodeSelf)
	if err := browser.Offer(booster.ID(), strings.Repeat("a", DefaultMaxMessageBytes)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized offer: %v", err)
	}
	if err := browser.Join("not-a-swarm"); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("bad swarm: %v", err)
	}
	browser.Leave(swarmA)
	browser.Close()
	if _, err := browser.Recv(context.Background()); err != ErrClosed {
		t.Fatalf("Recv after Close: %v", err)
	}
}

func TestClientPingsKeepSessionAlive(t *testing.T) {
	_, url := startServer(t, Limits{IdleTimeout: 1500 * time.Millisecond}, HandlerConfig{})
	c := dialT(t, url, ClientConfig{})
	if c.Limits().IdleMillis != 1500 {
		t.Fatalf("limits %+v", c.Limits())
	}
	select {
	case <-c.Done():
		t.Fatalf("session ended: %v", c.Err())
	case <-time.After(4 * time.Second):
	}
	// Without pings the broker closes it.
	silent := dialT(t, url, ClientConfig{PingInterval: time.Hour})
	recvT(t, silent, "error:"+CodeIdle)
	select {
	case <-silent.Done():
	case <-time.After(wait):
		t.Fatal("idle session not closed")
	}
}

func TestHandlerRefuses(t *testing.T) {
	_, url := startServer(t, Limits{MaxMessageBytes: 1024, HelloTimeout: time.Second},
		HandlerConfig{AllowedOrigins: []string{"https://ok.example"}})
	httpURL := "http" + strings.TrimPrefix(url, "ws")
	t.Run("origin", func(t *testing.T) {
		_, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"https://evil.example"}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("foreign origin: %v %v", err, resp)
		}
		c, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"https://ok.example"}})
		if err != nil {
			t.Fatalf("allowed origin: %v", err)
		}
		c.Close()
		c, _, err = websocket.DefaultDialer.Dial(url, http.Header{"Origin": {httpURL}})
		if err != nil {
			t.Fatalf("same origin: %v", err)
		}
		c.Close()
	})
	t.Run("oversized", func(t *testing.T) {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.WriteMessage(websocket.TextMessage, []byte(`{"v":1,"type":"hello","role":"peer","pad":"`+strings.Repeat("z", 5000)+`"}`))
		c.SetReadDeadline(time.Now().Add(wait))
		_, _, err = c.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Fatalf("want close 1009, got %v", err)
		}
	})
	t.Run("slow loris", func(t *testing.T) {
		// Half a WebSocket frame and then nothing: closed at the hello deadline.
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.UnderlyingConn().Write([]byte{0x81, 0xfe, 0x01}) // text frame, 16-bit length, one byte of it
		c.SetReadDeadline(time.Now().Add(wait))
		_, p, err := c.ReadMessage()
		if err != nil || !strings.Contains(string(p), CodeHelloTimeout) {
			t.Fatalf("want hello-timeout, got %q %v", p, err)
		}
	})
	t.Run("per ip", func(t *testing.T) {
		_, url := startServer(t, Limits{MaxSessionsPerIP: 2}, HandlerConfig{})
		var held []*Client
		for i := 0; i < 2; i++ {
			held = append(held, dialT(t, url, ClientConfig{}))
		}
		_, resp, err := websocket.DefaultDialer.Dial(url, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third session from one address: %v %v", err, resp)
		}
		for _, c := range held {
			c.Close()
		}
	})
	t.Run("not websocket", func(t *testing.T) {
		resp, err := http.Get(httpURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain GET: %d", resp.StatusCode)
		}
	})
}

// TestHandlerSlowHeaders: a client that never finishes its request
// headers is cut by the server's ReadHeaderTimeout and holds no session.
func TestHandlerSlowHeaders(t *testing.T) {
	b, url := startServer(t, Limits{}, HandlerConfig{})
	addr := strings.TrimPrefix(url, "ws://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"))
	c.SetReadDeadline(time.Now().Add(wait))
	if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		// net/http may answer 408 before closing; either way it must close.
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("connection still open")
		}
	}
	if s := b.Stats(); s.Sessions != 0 {
		t.Fatalf("a half-sent request holds a session: %+v", s)
	}
}

// TestWebSocketGoroutinesReturn: goroutines return to the baseline after
// WebSocket clients leave.
func TestWebSocketGoroutinesReturn(t *testing.T) {
	b := NewBroker(Config{})
	srv := httptest.NewServer(NewHandler(b, HandlerConfig{}))
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	http.DefaultClient.CloseIdleConnections()
	base := runtime.NumGoroutine()
	baseFDs := openFDs(t)
	var cs []*Client
	for i := 0; i < 30; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		c, err := Dial(ctx, url, ClientConfig{Role: []Role{RolePeer, RoleLeecher, RoleBooster}[i%3]})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c.Join(swarmA)
		cs = append(cs, c)
	}
	for _, c := range cs {
		recvT(t, c, TypePeers)
	}
	for _, c := range cs {
		c.Close()
	}
	deadline := time.Now().Add(wait)
	for b.Stats().Sessions != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := b.Stats(); s.Sessions != 0 || s.Swarms != 0 {
		t.Fatalf("after all left: %+v", s)
	}
	waitGoroutines(t, base)
	deadline = time.Now().Add(wait)
	for openFDs(t) > baseFDs && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := openFDs(t); n > baseFDs {
		t.Fatalf("%d open files after the clients left, %d before", n, baseFDs)
	}
	b.Close()
	srv.Close()
}

// openFDs counts this process's open file descriptors (Linux /proc).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting open files: %v", err)
	}
	return len(ents)
}

// TestGatewaySessionOverPipe: the gateway's own session, in process and
// trusted, is listed first to browsers and receives their offers.
func TestGatewaySessionOverPipe(t *testing.T) {
	b, url := startServer(t, Limits{}, HandlerConfig{})
	cc, sc := Pipe()
	go b.Serve(context.Background(), sc, SessionOptions{Trusted: true})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	gw, err := NewClient(ctx, cc, ClientConfig{Role: RoleGateway, ID: "gateway-self-0000001"})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	gw.Join(swarmA)
	recvT(t, gw, TypePeers)
	booster := dialT(t, url, ClientConfig{Role: RoleBooster})
	booster.Join(swarmA)
	recvT(t, booster, TypePeers)
	recvT(t, gw, TypeJoined)
	browser := dialT(t, url, ClientConfig{Role: RolePeer})
	browser.Join(swarmA)
	list := recvT(t, browser, TypePeers)
	if len(list.Peers) != 2 || list.Peers[0] != (PeerInfo{"gateway-self-0000001", RoleGateway}) {
		t.Fatalf("browser's list %+v", list)
	}
	browser.Offer(gw.ID(), "v=0 to the gateway")
	if m := recvT(t, gw, TypeJoined); m.Peer.ID != browser.ID() {
		t.Fatalf("gateway heard %+v", m)
	}
	if m := recvT(t, gw, TypeOffer); m.From != browser.ID() {
		t.Fatalf("gateway got %+v", m)
	}
	// An untrusted client cannot take the gateway role.
	_, err = Dial(ctx, url, ClientConfig{Role: RoleGateway})
	var se *ServerError
	if !errors.As(err, &se) || se.Code != CodeBadRole {
		t.Fatalf("untrusted gateway: %v", err)
	}
}

func TestHandlerFlags(t *testing.T) {
	var hc HandlerConfig
	var lim Limits
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	hc.AddFlags(fs)
	lim.AddFlags(fs)
	if err := fs.Parse([]string{"--signal-origin", "https://a.example, https://b.example:8443", "--signal-origin", "*",
		"--signal-sessions-per-ip", "5000", "--signal-idle-timeout", "2m"}); err != nil {
		t.Fatal(err)
	}
	if len(hc.AllowedOrigins) != 3 || hc.AllowedOrigins[1] != "https://b.example:8443" || hc.HandshakeTimeout != 10*time.Second {
		t.Fatalf("handler config %+v", hc)
	}
	if lim.MaxSessionsPerIP != 5000 || lim.IdleTimeout != 2*time.Minute || lim.MaxSessions != DefaultMaxSessions {
		t.Fatalf("limits %+v", lim)
	}
	if err := fs.Parse([]string{"--signal-origin", "evil.example/path"}); err == nil {
		t.Fatal("malformed origin accepted")
	}
}
