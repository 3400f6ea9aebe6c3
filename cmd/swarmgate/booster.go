package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/swarmgate/swarmgate/booster"
	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/node"
)

const boosterUsage = `swarmgate booster: follow publishers through the signed feed; boost what they post.

  swarmgate booster [run] [--config FILE] [--data DIR] [flags]   the daemon
  swarmgate booster follow UID [--node URL]...   follow (no --node: find its nodes in the DHT, BEP 44)
  swarmgate booster unfollow UID
  swarmgate booster status [--json]
  swarmgate booster pin ROOT [--off]
  swarmgate booster seed FILE                    seed a local file from the daemon (pinned)
  swarmgate booster boost LINK                   boost a link now
  swarmgate booster opml-export | opml-import FILE

The commands other than run talk to the running daemon over its unix socket
(--socket, default DATA/booster.sock).
`

func cmdBooster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "run":
		return boosterRun(ctx, args, nil, stdout, stderr)
	case "follow", "unfollow", "status", "pin", "seed", "boost", "opml-export", "opml-import":
		return boosterCtl(ctx, sub, args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, boosterUsage)
		return nil
	}
	fmt.Fprint(stderr, boosterUsage)
	return fmt.Errorf("%w: unknown booster command %q", errUsage, sub)
}

// boosterFlags are the daemon's flags; the config file sets the same names.
func boosterFlags(fs *flag.FlagSet) (*booster.Config, func() (int64, int64), *string, *bool, *listFlag, *listFlag, *dhtFlags) {
	c := &booster.Config{}
	var quota, upload sizeFlag
	quota = 10 << 30
	fs.StringVar(&c.DataDir, "data", node.DefaultStateDir("booster"), "data directory (state, content, feed key, socket)")
	fs.StringVar(&c.Listen, "listen", "0.0.0.0:7758", "PPSP UDP address")
	fs.StringVar(&c.HTTPListen, "http", "0.0.0.0:7759", "feed HTTP address")
	fs.StringVar(&c.URL, "url", "", "feed base URL others reach this node at (default http://HTTP-ADDRESS)")
	fs.StringVar(&c.Socket, "socket", "", "local API unix socket (default DATA/booster.sock)")
	fs.Var(&quota, "quota", "disk quota for boosted content (LRU eviction, pins kept)")
	fs.Var(&upload, "upload-rate", "upload cap in bytes/s, e.g. 2MiB (0 = none)")
	fs.IntVar(&c.MaxSwarms, "max-swarms", 64, "swarms boosted at once")
	fs.IntVar(&c.MaxPerPublisher, "max-per-publisher", 16, "swarms boosted per followed uid")
	fs.DurationVar(&c.BoostWindow, "boost-window", 24*time.Hour, "boost posts at most this much older than the follow")
	fs.DurationVar(&c.PullInterval, "pull-interval", 5*time.Minute, "feed pull period (Litter Alg. 2)")
	fs.DurationVar(&c.GapInterval, "gap-interval", 30*time.Second, "feed gap scan period (Litter §3.4)")
	fs.BoolVar(&c.FeedOnly, "feed-only", false, "keep the feed node only; boost nothing")
	fs.BoolVar(&c.Open, "open", false, "accept posts of any uid (a public feed node)")
	fs.BoolVar(&c.NoDHT, "no-dht", false, "no DHT (boosters are then found only by --peer and the feed)")
	fs.StringVar(&c.Gateway, "gateway", "", "gateway URL to keep a signaling session with, so that its browsers reach this booster over WebRTC (behind NAT too)")
	fs.BoolVar(&c.RTC.LoopbackOnly, "webrtc-loopback", false, "WebRTC on the loopback interface only (tests, benchmarks)")
	fs.IntVar(&c.RTC.MaxPeers, "webrtc-max-peers", 256, "WebRTC peer connections open or being set up at once")
	fs.Func("ice-server", "STUN/TURN server URL for WebRTC (repeatable; default none: host candidates)", func(v string) error {
		if len(c.RTC.ICEServers) == 0 {
			c.RTC.ICEServers = []webrtc.ICEServer{{}}
		}
		c.RTC.ICEServers[0].URLs = append(c.RTC.ICEServers[0].URLs, v)
		return nil
	})
	var peers, hosts listFlag
	fs.Var(&peers, "peer", "other feed node base URL to pull from (repeatable)")
	fs.Var(&hosts, "host-uid", "be the publisher's node for this uid (repeatable)")
	df := addDHTFlags(fs)
	hcache := hashCacheFlag(fs, seedHashCache)
	idle := idleReleaseFlag(fs)
	config := fs.String("config", "", "config file: one \"flag = value\" per line, # comments (flags and SWARMGATE_* win)")
	verbose := fs.Bool("v", false, "verbose logs")
	sizes := func() (int64, int64) {
		c.HashCache, c.IdleRelease = int(*hcache), *idle
		return int64(quota), int64(upload)
	}
	return c, sizes, config, verbose, &peers, &hosts, df
}

// applyConfigFile sets flags from a config file given by --config (or its
// environment twin); flags on the command line and env twins apply after.
func applyConfigFile(fs *flag.FlagSet, args []string) error {
	path := os.Getenv("SWARMGATE_CONFIG")
	for i, a := range args {
		if v, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "config="); ok && strings.HasPrefix(a, "-") {
			path = v
		} else if strings.TrimLeft(a, "-") == "config" && strings.HasPrefix(a, "-") && i+1 < len(args) {
			path = args[i+1]
		}
	}
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: config: %v", errUsage, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, " ")
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || fs.Lookup(k) == nil || k == "config" {
			return fmt.Errorf("%w: %s:%d: unknown setting %q", errUsage, path, ln, k)
		}
		if err := fs.Set(k, v); err != nil {
			return fmt.Errorf("%w: %s:%d: %s: %v", errUsage, path, ln, k, err)
		}
	}
	return sc.Err()
}

// boosterRun runs the daemon; links (from `swarmgate boost`) are boosted at
// start.
func boosterRun(ctx context.Context, args, links []string, stdout, stderr io.Writer) error {
	fs := newFlags("booster", stderr)
	c, sizes, _, verbose, peers, hosts, df := boosterFlags(fs)
	if err := applyConfigFile(fs, args); err != nil {
		return err
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	links = append(links, pos...)
	c.Quota, c.UploadRate = sizes()
	c.Peers = *peers
	for _, h := range *hosts {
		u, err := feed.ParseUID(h)
		if err != nil {
			return fmt.Errorf("%w: --host-uid: %v", errUsage, err)
		}
		c.Hosted = append(c.Hosted, u)
	}
	c.DHTListen, c.Bootstrap = df.listen, df.bootstrapList()
	c.Logger = newLogger(stderr, *verbose)
	b, err := booster.New(*c)
	if err != nil {
		return err
	}
	for _, s := range links {
		l, err := boostLink(b, s)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "boosting %s\n", l.TSwift(node.Advertised(b.PeerAddr())))
	}
	fmt.Fprintf(stdout, "booster %s\nuid %s\nfeed %s\npeer %s\n", b.UID().Fingerprint(), b.UID(), b.URL(), node.Advertised(b.PeerAddr()))
	return b.Run(ctx)
}

// socketClients holds one HTTP client per daemon socket (connections are
// reused, not leaked per call).
var socketClients sync.Map

// socketClient is an HTTP client to the daemon's unix socket.
func socketClient(sock string) *http.Client {
	if c, ok := socketClients.Load(sock); ok {
		return c.(*http.Client)
	}
	c, _ := socketClients.LoadOrStore(sock, newSocketClient(sock))
	return c.(*http.Client)
}

func newSocketClient(sock string) *http.Client {
	return &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
}

// daemonCall sends one local API request; errNoDaemon when none runs.
func daemonCall(ctx context.Context, sock, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://booster"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	res, err := socketClient(sock).Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s (start one with `swarmgate booster`): %v", errNoDaemon, sock, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if res.StatusCode != http.StatusOK {
		var e struct{ Error string }
		json.Unmarshal(b, &e)
		return fmt.Errorf("booster: %s", e.Error)
	}
	if w, ok := out.(io.Writer); ok {
		_, err := w.Write(b)
		return err
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

var errNoDaemon = errors.New("no booster daemon")

func boosterCtl(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("booster "+sub, stderr)
	data := fs.String("data", node.DefaultStateDir("booster"), "the daemon's data directory")
	sock := fs.String("socket", "", "local API socket (default DATA/booster.sock)")
	var nodes listFlag
	fs.Var(&nodes, "node", "feed node base URL serving the uid (follow; repeatable)")
	name := fs.String("name", "", "display name (follow)")
	off := fs.Bool("off", false, "unpin (pin)")
	asJSON := fs.Bool("json", false, "print JSON (status)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *sock == "" {
		*sock = filepath.Join(*data, "booster.sock")
	}
	one := func() (string, error) {
		if len(pos) != 1 {
			return "", fmt.Errorf("%w: booster %s takes one argument", errUsage, sub)
		}
		return pos[0], nil
	}
	call := func(path string, req any, out any) error {
		b, _ := json.Marshal(req)
		return daemonCall(ctx, *sock, http.MethodPost, path, b, out)
	}
	switch sub {
	case "follow", "unfollow":
		uid, err := one()
		if err != nil {
			return err
		}
		if _, err := feed.ParseUID(uid); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return call("/"+sub, map[string]any{"uid": uid, "nodes": []string(nodes), "name": *name}, nil)
	case "pin":
		root, err := one()
		if err != nil {
			return err
		}
		return call("/pin", map[string]any{"root": root, "pin": !*off}, nil)
	case "seed":
		path, err := one()
		if err != nil {
			return err
		}
		abs, _ := filepath.Abs(path)
		var out map[string]string
		if err := call("/seed", map[string]any{"path": abs}, &out); err != nil {
			return err
		}
		fmt.Fprintln(stdout, out["link"])
		return nil
	case "boost":
		l, err := one()
		if err != nil {
			return err
		}
		return call("/boost", map[string]any{"link": l}, nil)
	case "opml-export":
		return daemonCall(ctx, *sock, http.MethodGet, "/opml", nil, stdout)
	case "opml-import":
		path, err := one()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var out map[string]int
		if err := daemonCall(ctx, *sock, http.MethodPost, "/opml", b, &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "followed %d\n", out["followed"])
		return nil
	}
	var st booster.Status
	if err := daemonCall(ctx, *sock, http.MethodGet, "/status", nil, &st); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(stdout, "booster %s  uid %s\nfeed %s  peer %s\nused %d of %d bytes\n", st.Fingerprint, st.UID, st.URL, st.PeerAddr, st.Used, st.Quota)
	for _, f := range st.Follows {
		flag := ""
		if f.Flagged != "" {
			flag = "  FLAGGED: " + f.Flagged
		}
		fmt.Fprintf(stdout, "follow %s %s head %d nodes %s%s\n", f.Fingerprint, f.Name, f.Head, strings.Join(f.Nodes, ","), flag)
	}
	for _, s := range st.Swarms {
		pin := ""
		if s.Pinned {
			pin = " pinned"
		}
		fmt.Fprintf(stdout, "swarm %s %s %d/%d chunks, %d peers, uploaded %d%s\n", s.Root, s.Name, s.Have, s.Total, s.Peers, s.Uploaded, pin)
	}
	return nil
}
