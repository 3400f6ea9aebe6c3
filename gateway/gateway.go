package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/feed/feedsql"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/node"
)

// defaultTreeOptions are the tree parameters of content seeded through the
// gateway: RFC 7574 defaults, SHA-1 and 1 KiB chunks.
var defaultTreeOptions = merkle.Options{ChunkSize: 1024}

// Gateway is the public server. New opens it; Run serves until ctx ends.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	node    *node.Node
	udp     net.PacketConn
	dht     *node.DHT
	cat     *catalog
	peers   []net.Addr
	metrics *metrics
	assets  *assets
	ln      net.Listener
	bridge  *bridge // nil with NoWebRTC

	feed       *feed.Node // nil with NoFeed
	feedStore  *feedsql.Store
	feedLimits *ipLimiter
	boosts     chan feed.Content
	feedWG     sync.WaitGroup // the feed node's Run and boostLoop

	ctx    context.Context // lives until Close
	cancel context.CancelFunc

	mu     sync.Mutex
	swarms map[string]*entry
	closed bool
}

// New opens the gateway's state, PPSP socket and (unless NoDHT) DHT node,
// and listens on cfg.Listen. It does not serve until Run.
func New(cfg Config) (*Gateway, error) {
	cfg.defaults()
	if cfg.DataDir == "" {
		return nil, errors.New("gateway: no data directory")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("gateway: --tls-cert and --tls-key go together")
	}
	peers, err := resolvePeers(cfg.Peers)
	if err != nil {
		return nil, err
	}
	udp, err := node.ListenUDP(cfg.UDP)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{cfg: cfg, log: cfg.Logger, udp: udp, peers: peers, ctx: ctx, cancel: cancel, swarms: make(map[string]*entry)}
	fail := func(err error) (*Gateway, error) {
		cancel()
		if g.bridge != nil {
			g.bridge.close()
		}
		if g.node != nil {
			g.node.Close()
		} else {
			udp.Close()
		}
		if g.ln != nil {
			g.ln.Close()
		}
		return nil, err
	}
	if !cfg.NoWebRTC {
		if g.bridge, err = startBridge(ctx, cfg, g.onSignalJoin, g.onSignal); err != nil {
			return fail(err)
		}
	}
	if g.node, err = node.Open(node.Config{Conn: muxConn(udp, g.bridge), StateDir: cfg.DataDir, Logger: cfg.Logger.With("part", "engine")}); err != nil {
		return fail(err)
	}
	if g.cat, err = openCatalog(g.node.Store.DB()); err != nil {
		return fail(err)
	}
	if g.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return fail(fmt.Errorf("listen %s: %w", cfg.Listen, err))
	}
	g.metrics = newMetrics(g)
	g.assets = newAssets()
	g.node.Start(ctx)
	if !cfg.NoDHT {
		d, err := node.StartDHT(ctx, node.DHTConfig{Bootstrap: cfg.Bootstrap, DHT: dhtConfig(cfg)}, udp.LocalAddr(), cfg.Logger.With("part", "dht"))
		if err != nil {
			g.Close()
			return nil, err
		}
		g.dht = d
	}
	if !cfg.NoFeed {
		if err := g.openFeed(); err != nil {
			g.Close()
			return nil, fmt.Errorf("gateway: feed: %w", err)
		}
	}
	g.rejoinHeld()
	return g, nil
}

// Addr is the HTTP listener's address.
func (g *Gateway) Addr() net.Addr { return g.ln.Addr() }

// UDPAddr is the PPSP socket's address.
func (g *Gateway) UDPAddr() net.Addr { return g.udp.LocalAddr() }

// URL is the base URL of the gateway as it listens (http or https).
func (g *Gateway) URL() string {
	scheme := "http"
	if g.cfg.TLSCert != "" || g.cfg.Domain != "" {
		scheme = "https"
	}
	host := g.ln.Addr().String()
	if g.cfg.Domain != "" {
		host = g.cfg.Domain
	} else if h, p, err := net.SplitHostPort(host); err == nil && (h == "::" || h == "0.0.0.0") {
		host = net.JoinHostPort("127.0.0.1", p)
	}
	return scheme + "://" + host
}

// Run serves HTTP until ctx ends, then shuts down (in-flight requests get
// five seconds) and closes the gateway.
func (g *Gateway) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: g.cfg.ReadHeaderTimeout,
		IdleTimeout:       g.cfg.IdleTimeout,
		MaxHeaderBytes:    g.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return g.ctx },
	}
	ln := g.ln
	var redirect *http.Server
	switch {
	case g.cfg.Domain != "":
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(g.cfg.Domain),
			Cache:      autocert.DirCache(filepath.Join(g.cfg.DataDir, "acme")),
		}
		ln = tls.NewListener(ln, m.TLSConfig())
		// Port 80 answers HTTP-01 challenges and redirects to https.
		redirect = &http.Server{Addr: ":80", Handler: m.HTTPHandler(nil), ReadHeaderTimeout: g.cfg.ReadHeaderTimeout}
		go func() {
			if err := redirect.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				g.log.Warn("http redirect listener", "err", err)
			}
		}()
	case g.cfg.TLSCert != "":
		cert, err := tls.LoadX509KeyPair(g.cfg.TLSCert, g.cfg.TLSKey)
		if err != nil {
			g.Close()
			return fmt.Errorf("tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12})
	}
	go g.quotaLoop(g.ctx, 10*time.Second)
	if g.feed != nil {
		g.feedWG.Go(func() {
			g.follow()
			g.feed.Run(g.ctx)
		})
		g.feedWG.Go(g.boostLoop)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.cancel() // ends waiting readers and the signaling sessions
	srv.Shutdown(sctx)
	if redirect != nil {
		redirect.Shutdown(sctx)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if cerr := g.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close leaves every swarm and closes the DHT node, engine, store and
// sockets. Run calls it; call it only when Run was not.
func (g *Gateway) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	for _, e := range g.swarms {
		g.leaveLocked(e)
	}
	g.mu.Unlock()
	g.cancel()
	g.ln.Close()
	g.feedWG.Wait()
	if g.feedStore != nil {
		g.feedStore.Close()
	}
	if g.dht != nil {
		g.dht.Stop()
	}
	err := g.node.Close()
	if g.bridge != nil {
		g.bridge.close()
	}
	return err
}

// Handler is the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", g.serveHome)
	mux.HandleFunc("GET /open", g.serveOpen)
	mux.HandleFunc("GET /publish", g.servePublish)
	mux.HandleFunc("GET /raw/{root}", g.serveRaw)
	mux.HandleFunc("GET /api/swarm/{root}", g.serveStatus)
	mux.HandleFunc("GET /qr/{root}", g.serveQR)
	mux.HandleFunc("GET /sw.js", g.serveWorker)
	mux.Handle("GET /static/", g.assets)
	mux.HandleFunc("GET /healthz", g.serveHealth)
	mux.Handle("GET /metrics", g.metrics.handler())
	if g.bridge != nil {
		mux.Handle("GET /signal", g.bridge.handler)
	}
	if g.feed != nil {
		g.mountFeed(mux)
	}
	mux.HandleFunc("GET /{root}", g.servePage)
	return g.metrics.instrument(securityHeaders(mux))
}

// securityHeaders adds the headers every response carries.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// parseLink reads the link from a request path /<prefix><root-hex> and its
// query keys (cs, cl, hf, mt, n; internal/link).
func parseLink(r *http.Request, prefix string) (link.Link, error) {
	rest := strings.TrimPrefix(r.URL.Path, prefix)
	if rest == "" || strings.Contains(rest, "/") {
		return link.Link{}, fmt.Errorf("%w: want %s<root-hex>", link.ErrBadLink, prefix)
	}
	s := "http://gateway/" + rest
	if r.URL.RawQuery != "" {
		s += "?" + r.URL.RawQuery
	}
	return link.Parse(s)
}

// joinFailed answers a request whose swarm could not be joined.
func (g *Gateway) joinFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errBusy) {
		w.Header().Set("Retry-After", "10")
		g.fail(w, r, http.StatusServiceUnavailable, "The gateway is busy", err.Error())
		return
	}
	g.log.Warn("join", "err", err)
	g.fail(w, r, http.StatusInternalServerError, "Could not join the swarm", err.Error())
}

func (g *Gateway) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}
