package dhtnet

import (
	"log/slog"
	"net"
	"testing"
	"time"
)

// PublicRouters are the Mainline DHT bootstrap routers used when
// Config.Bootstrap is nil outside tests.
var PublicRouters = []string{
	"router.bittorrent.com:6881",
	"router.utorrent.com:6881",
	"dht.transmissionbt.com:6881",
	"dht.libtorrent.org:25401",
}

// Config of a Node. Zero values take the defaults in the comments; Conn is
// required.
type Config struct {
	// Conn is the datagram socket of the node (required). The Node owns it
	// and closes it on Close. Its ReadFrom must only fail once closed.
	Conn net.PacketConn
	// Bootstrap lists host:port of nodes to start from when the routing
	// table is empty. nil = PublicRouters, except in test binaries, where
	// nil means none (tests must pass loopback addresses). An empty non-nil
	// slice means none.
	Bootstrap []string
	// DBPath is the SQLite file keeping the routing table across restarts
	// ("" = not persisted).
	DBPath string
	// Logger (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NodeID (default random).
	NodeID [20]byte
	// ReadOnly makes a BEP 43 read-only node: queries carry ro=1, no query
	// is answered and no routing-table maintenance runs. Leechers use it.
	ReadOnly bool

	// SendRate bounds the datagrams per second this node sends, queries and
	// replies together (default 1000; burst the same). Private to the node.
	SendRate float64

	// Alpha is the number of lookup queries in flight (default 16: the first
	// round queries all 16 seeds at once; see docs/dht.md for the cost). An
	// announce keeps up to 4 × Alpha in flight (docs/decisions.md 52).
	Alpha int
	// K is the size of the closest set a lookup converges on and announces
	// to (default 8).
	K int
	// BucketSizes are the sizes of the first buckets (default NR128:
	// 128, 64, 32, 16); deeper buckets hold 8.
	BucketSizes []int
	// MinQueryTimeout and MaxQueryTimeout clamp the RTT-adaptive soft
	// timeout of a lookup query, after which its slot is given to the next
	// candidate; a late reply is still used (defaults 100 ms and 800 ms).
	MinQueryTimeout, MaxQueryTimeout time.Duration
	// UnknownQueryTimeout is the soft timeout for nodes without an RTT
	// estimate (default 400 ms, about the 80th percentile of Mainline RTTs).
	UnknownQueryTimeout time.Duration
	// QueryTimeout is the hard timeout of a query; a node that has not
	// answered by then is dropped from the routing table (default 2 s).
	QueryTimeout time.Duration
	// MaintenanceInterval is the period of table maintenance: each tick
	// pings the stalest contact of the next bucket and verifies one new
	// candidate (default 3 s, i.e. at most 40 queries a minute).
	MaintenanceInterval time.Duration
	// BootstrapFill bounds the candidate checks (pings) a Bootstrap sends
	// after its walks to fill the enlarged buckets at once (default 256).
	BootstrapFill int
	// PeerTTL is how long announced peers are kept (default 30 min).
	PeerTTL time.Duration
	// AnnounceInterval is how often a booster re-announces (default 10 min).
	AnnounceInterval time.Duration
	// PollInterval is how often a source asks for peers (default 5 s).
	PollInterval time.Duration
	// RetryMin is the wait before looking again after a lookup that found
	// no peer (for a booster: an announce that no node took); it doubles
	// with each further empty round up to the role's interval:
	// PollInterval for a source, AnnounceInterval for a booster, RetryMax
	// for a leecher (default 100 ms).
	RetryMin time.Duration
	// RetryMax bounds a leecher's back-off while it has found no peer: at
	// worst one lookup every RetryMax (default PollInterval).
	RetryMax time.Duration
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Bootstrap == nil && !testing.Testing() {
		c.Bootstrap = PublicRouters
	}
	if c.SendRate <= 0 {
		c.SendRate = 1000
	}
	if c.Alpha <= 0 {
		c.Alpha = 16
	}
	if c.K <= 0 {
		c.K = 8
	}
	if c.BucketSizes == nil {
		c.BucketSizes = NR128
	}
	if c.MinQueryTimeout <= 0 {
		c.MinQueryTimeout = 100 * time.Millisecond
	}
	if c.MaxQueryTimeout <= 0 {
		c.MaxQueryTimeout = 800 * time.Millisecond
	}
	if c.UnknownQueryTimeout <= 0 {
		c.UnknownQueryTimeout = 400 * time.Millisecond
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 2 * time.Second
	}
	if c.MaintenanceInterval <= 0 {
		c.MaintenanceInterval = 3 * time.Second
	}
	if c.BootstrapFill <= 0 {
		c.BootstrapFill = 256
	}
	if c.PeerTTL <= 0 {
		c.PeerTTL = 30 * time.Minute
	}
	if c.AnnounceInterval <= 0 {
		c.AnnounceInterval = 10 * time.Minute
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = c.PollInterval
	}
	c.RetryMax = max(c.RetryMax, c.RetryMin)
}
