package main

import (
	"context"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/swarmgate/swarmgate/gateway"
	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/node"
)

// cmdGateway runs the public server (package gateway).
func cmdGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGateway(ctx, "gateway", args, false, stdout, stderr)
}

// runGateway parses the gateway's flags and serves; with demoByDefault
// (`swarmgate run`) the embedded demo video is seeded unless files are.
func runGateway(ctx context.Context, name string, args []string, demoByDefault bool, stdout, stderr io.Writer) error {
	fs := newFlags(name, stderr)
	cfg := gateway.Config{}
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "HTTP address to serve on")
	fs.StringVar(&cfg.DataDir, "data", node.DefaultStateDir("gateway"), "data directory (SQLite state, hash trees, cached content)")
	fs.StringVar(&cfg.UDP, "udp", "0.0.0.0:7758", "UDP address of the PPSP socket")
	var peers, seeds listFlag
	fs.Var(&peers, "peer", "static PPSP peer host:port asked for every swarm (repeatable)")
	df := addDHTFlags(fs)
	fs.BoolVar(&cfg.NoDHT, "no-dht", false, "stay off the Mainline DHT (static --peer only)")
	quota := sizeFlag(10 << 30)
	fs.Var(&quota, "quota", "disk for content the gateway caches and seeds (least recently used evicted first)")
	fs.IntVar(&cfg.MaxSwarms, "max-swarms", 256, "swarms joined at once (idle ones beyond it are left, their content kept)")
	fs.DurationVar(&cfg.FetchTimeout, "fetch-timeout", 30*time.Second, "how long a request waits for content from the swarm")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate file for HTTPS")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM key file for HTTPS")
	fs.StringVar(&cfg.Domain, "domain", "", "serve HTTPS for this name with automatic (ACME) certificates; also listens on :80")
	fs.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", 16<<10, "largest HTTP request header")
	fs.DurationVar(&cfg.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "time a client has to send its request headers")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 2*time.Minute, "idle keep-alive connections are closed after this")
	fs.BoolVar(&cfg.NoWebRTC, "no-webrtc", false, "no /signal and no WebRTC bridge (HTTP and UDP only)")
	var iceServers listFlag
	fs.Var(&iceServers, "ice-server", "STUN/TURN server URL for WebRTC (repeatable; default none: host candidates)")
	fs.BoolVar(&cfg.RTC.LoopbackOnly, "webrtc-loopback", false, "WebRTC on the loopback interface only (tests, benchmarks)")
	fs.IntVar(&cfg.RTC.MaxPeers, "webrtc-max-peers", 256, "WebRTC peer connections open or being set up at once")
	cfg.Signal.AddFlags(fs)
	cfg.SignalHandler.AddFlags(fs)
	var feedPeers, feedHosts, feedFollows listFlag
	fs.BoolVar(&cfg.NoFeed, "no-feed", false, "no feed node (/feed/v1/, /u/<uid>)")
	fs.Var(&feedPeers, "feed-peer", "another feed node's base URL to pull posts from (repeatable)")
	fs.Var(&feedHosts, "feed-host", "a uid whose posts' content the gateway fetches and seeds on arrival (repeatable)")
	fs.Var(&feedFollows, "feed-follow", "a uid to follow through the --feed-peer nodes (or its BEP 44 head): its posts' content is fetched and seeded (repeatable)")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "the gateway's base URL as visitors reach it (feed links, pushes from other nodes; default: from --listen/--domain)")
	fs.Float64Var(&cfg.FeedPushRate, "feed-push-rate", 2, "feed write requests per second from one address (bursts of 10x; negative: no limit)")
	fs.Var(&seeds, "seed", "a local file to seed, pinned (repeatable)")
	withDemo := fs.Bool("demo", false, "seed the embedded demo video")
	verbose := fs.Bool("v", false, "verbose logs")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	seeds = append(seeds, pos...)
	if demoByDefault && len(seeds) == 0 {
		*withDemo = true
	}
	cfg.Quota = int64(quota)
	if len(iceServers) > 0 {
		cfg.RTC.ICEServers = []webrtc.ICEServer{{URLs: iceServers}}
	}
	cfg.Peers = peers
	cfg.FeedPeers = feedPeers
	for _, l := range []struct {
		name string
		in   listFlag
		out  *[]feed.UID
	}{{"feed-host", feedHosts, &cfg.FeedHosted}, {"feed-follow", feedFollows, &cfg.FeedFollows}} {
		for _, s := range l.in {
			uid, err := feed.ParseUID(s)
			if err != nil {
				return fmt.Errorf("%w: --%s: %v", errUsage, l.name, err)
			}
			*l.out = append(*l.out, uid)
		}
	}
	cfg.Bootstrap = df.bootstrapList()
	cfg.Logger = newLogger(stderr, *verbose)
	g, err := gateway.New(cfg)
	if err != nil {
		return err
	}
	base := g.URL()
	if *withDemo {
		l, err := g.SeedDemo()
		if err != nil {
			g.Close()
			return fmt.Errorf("demo: %w", err)
		}
		fmt.Fprintf(stdout, "demo video: %s%s\n", base, l.Path())
	}
	for _, s := range seeds {
		l, err := g.Seed(s, mime.TypeByExtension(filepath.Ext(s)))
		if err != nil {
			g.Close()
			return err
		}
		fmt.Fprintf(stdout, "seeding %s: %s%s\n", s, base, l.Path())
	}
	fmt.Fprintf(stdout, "gateway: %s/ (PPSP on udp %s)\n", base, node.Advertised(g.UDPAddr()))
	if f, ok := stdout.(interface{ Sync() error }); ok {
		f.Sync()
	}
	return g.Run(ctx)
}
