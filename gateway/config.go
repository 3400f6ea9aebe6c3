package gateway

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/rtc"
	"github.com/swarmgate/swarmgate/signaling"
)

// Config configures a Gateway. Zero values pick the documented defaults.
type Config struct {
	// Listen is the HTTP address. Default "127.0.0.1:8080".
	Listen string
	// DataDir holds the SQLite state, hash trees and cached content; it is
	// created. Required (the command defaults it).
	DataDir string
	// UDP is the PPSP socket's address. Default "0.0.0.0:7758".
	UDP string
	// Peers are static PPSP peers host:port asked for every swarm.
	Peers []string
	// Bootstrap are DHT bootstrap nodes host:port; nil means the public
	// Mainline routers, an empty non-nil list none.
	Bootstrap []string
	// NoDHT keeps the gateway off the DHT (static peers only).
	NoDHT bool
	// Quota bounds the disk used by content the gateway caches and seeds,
	// in bytes. Least recently used content is evicted first, never a swarm
	// being watched. Default 10 GiB.
	Quota int64
	// MaxSwarms bounds the swarms joined at once; idle ones beyond it are
	// left (their content stays on disk and is rejoined on demand).
	// Default 256.
	MaxSwarms int
	// FetchTimeout is how long a request waits for a swarm it does not
	// hold to prove its size, and for a chunk, before it fails.
	// Default 30 s.
	FetchTimeout time.Duration
	// TLSCert and TLSKey are PEM files to serve HTTPS with.
	TLSCert, TLSKey string
	// Domain turns on automatic certificates (ACME, TLS-ALPN-01) for that
	// name; certificates are cached under DataDir/acme.
	Domain string
	// MaxHeaderBytes bounds request headers. Default 16 KiB.
	MaxHeaderBytes int
	// ReadHeaderTimeout bounds the time to read request headers (slow
	// clients are cut off). Default 10 s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections. Default 120 s.
	IdleTimeout time.Duration
	// NoWebRTC turns off /signal and the WebRTC bridge (HTTP and UDP
	// only).
	NoWebRTC bool
	// Signal bounds the signaling broker (each limit a flag: see
	// signaling.Limits.AddFlags); zero fields take their defaults.
	Signal signaling.Limits
	// SignalHandler is how /signal upgrades requests (allowed origins,
	// handshake timeout; flags from signaling.HandlerConfig.AddFlags).
	SignalHandler signaling.HandlerConfig
	// RTC configures the gateway's WebRTC transport (ICE servers, peer
	// connection limits and timeouts); ID and Signaler are filled in.
	RTC rtc.Config
	// NoFeed turns off the gateway's feed node (internal/feed: /feed/v1/,
	// /u/<uid>).
	NoFeed bool
	// PublicURL is the gateway's base URL as visitors reach it
	// ("https://gw.example"): feed pages and Atom link content to its
	// /<root-hex> pages, and other feed nodes push to it. Default: URL().
	PublicURL string
	// FeedPeers are other feed nodes' base URLs to pull from (Litter's
	// one-hop peers). Default none.
	FeedPeers []string
	// FeedHosted are uids whose posts' content the embedded booster
	// fetches and seeds on arrival (as it does for the uids the feed node
	// follows). Posts of any uid are accepted and shown either way.
	FeedHosted []feed.UID
	// FeedPushRate bounds the feed writes (push, pull, follow requests)
	// per second from one client address, with bursts of ten times as
	// many. Default 2; negative: no limit.
	FeedPushRate float64
	// FeedFollows are uids the feed node follows, through FeedPeers (it
	// registers there for pushes and pulls from them) or, with no peers,
	// the nodes their BEP 44 head names; their posts' content is fetched
	// as for FeedHosted.
	FeedFollows []feed.UID
	// FeedClient sends the feed node's requests to other nodes. Default:
	// an http.Client with a 30 s timeout.
	FeedClient feed.HTTPDoer
	// Logger receives the gateway's logs. Default: discarded.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.UDP == "" {
		c.UDP = "0.0.0.0:7758"
	}
	if c.Quota == 0 {
		c.Quota = 10 << 30
	}
	if c.MaxSwarms == 0 {
		c.MaxSwarms = 256
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = 30 * time.Second
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 16 << 10
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 120 * time.Second
	}
	if c.FeedPushRate == 0 {
		c.FeedPushRate = 2
	}
	if c.FeedClient == nil {
		c.FeedClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}
