package gateway

import (
	"encoding/hex"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/time/rate"

	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/feed/feedsql"
	"github.com/swarmgate/swarmgate/ui"
)

// feedPageLimit is how many posts /u/<uid> shows (the feed node's own
// page and Atom show as many).
const feedPageLimit = 50

// openFeed opens the gateway's feed node (internal/feed): its posts in
// DataDir/feed.db, its key in DataDir/feed.key. The node is open (posts
// of any uid are taken, as on a public gateway) and links content to the
// gateway's /<root-hex> pages.
func (g *Gateway) openFeed() error {
	id, _, err := feed.LoadOrCreateKey(filepath.Join(g.cfg.DataDir, "feed.key"))
	if err != nil {
		return err
	}
	st, err := feedsql.Open(filepath.Join(g.cfg.DataDir, "feed.db"))
	if err != nil {
		return err
	}
	base := g.publicURL()
	fc := feed.Config{Store: st, Identity: id, URL: base, Client: g.cfg.FeedClient, Peers: g.cfg.FeedPeers,
		Hosted: g.cfg.FeedHosted, Open: true, LinkBase: base, OnPost: g.onPost, Logger: g.log.With("part", "feed")}
	if g.dht != nil {
		fc.Directory = g.dht.Node
	}
	n, err := feed.NewNode(fc)
	if err != nil {
		st.Close()
		return err
	}
	g.feed, g.feedStore = n, st
	g.boosts = make(chan feed.Content, 64)
	g.feedLimits = newIPLimiter(rate.Limit(g.cfg.FeedPushRate), max(int(g.cfg.FeedPushRate*10), 1))
	return nil
}

// follow adds the configured follows (a restart keeps their history and
// re-sends the follow requests).
func (g *Gateway) follow() {
	for _, u := range g.cfg.FeedFollows {
		if err := g.feed.Follow(g.ctx, feed.Follow{UID: u, Nodes: g.cfg.FeedPeers}); err != nil {
			g.log.Warn("feed: follow", "uid", u.String(), "err", err)
		}
	}
}

// publicURL is PublicURL, else the address the gateway listens on.
func (g *Gateway) publicURL() string {
	if g.cfg.PublicURL != "" {
		return strings.TrimRight(g.cfg.PublicURL, "/")
	}
	return g.URL()
}

// Feed is the gateway's feed node (nil with NoFeed).
func (g *Gateway) Feed() *feed.Node { return g.feed }

// mountFeed adds the feed node's routes to mux: its own handler for the
// API and the .atom and .json forms of /u/<uid>, the gateway's UI for
// the page. Writes are rate-limited per client address.
func (g *Gateway) mountFeed(mux *http.ServeMux) {
	h := g.feed.Handler()
	for _, r := range feed.Routes {
		switch {
		case r == "GET /u/{uid}":
			mux.HandleFunc(r, func(w http.ResponseWriter, r *http.Request) { g.serveFeedPage(w, r, h) })
		case strings.HasPrefix(r, "POST "):
			mux.Handle(r, g.feedLimits.wrap(h))
		default:
			mux.Handle(r, h)
		}
	}
}

// serveFeedPage is /u/<uid>: the feed as a page of the gateway's UI,
// readable without JavaScript, with its Atom feed as the alternate.
func (g *Gateway) serveFeedPage(w http.ResponseWriter, r *http.Request, api http.Handler) {
	name := r.PathValue("uid")
	if strings.HasSuffix(name, ".atom") || strings.HasSuffix(name, ".json") {
		api.ServeHTTP(w, r)
		return
	}
	uid, err := feed.ParseUID(name)
	if err != nil {
		g.fail(w, r, http.StatusNotFound, "No such feed", "A feed page is /u/<uid>, the publisher's 56-character uid: "+err.Error())
		return
	}
	d, err := g.feed.Page(uid, feedPageLimit)
	if err != nil {
		g.log.Warn("feed page", "err", err)
		g.fail(w, r, http.StatusInternalServerError, "Could not read the feed", "The gateway's feed store failed; try again.")
		return
	}
	for i := range d.Posts {
		for j := range d.Posts[i].Links {
			l := &d.Posts[i].Links[j]
			l.URL = localPath(l.URL, g.publicURL()) // same-origin: works whatever host the visitor used
		}
	}
	render(w, r, http.StatusOK, ui.FeedPage(d))
}

// localPath turns an absolute link on base into its path and query.
func localPath(u, base string) string {
	if rest, ok := strings.CutPrefix(u, base); ok && strings.HasPrefix(rest, "/") {
		return rest
	}
	return u
}

// onPost is the feed node's hook for each new verified post (it must not
// block): the embedded booster fetches and seeds the content linked by
// posts of uids the gateway hosts or follows, a repost's links included.
func (g *Gateway) onPost(p *feed.Post) {
	if len(p.Links) == 0 || !g.boosted(p.UID) {
		return
	}
	for _, c := range p.Links {
		select {
		case g.boosts <- c:
		default:
			g.log.Warn("feed: boost queue full; link skipped", "uid", p.UID.Fingerprint(), "seq", p.Seq)
		}
	}
}

// boosted reports whether the embedded booster boosts uid's links.
func (g *Gateway) boosted(uid feed.UID) bool {
	for _, u := range g.cfg.FeedHosted {
		if u == uid {
			return true
		}
	}
	return g.feed.Following(uid)
}

// boostLoop joins the swarms onPost queued, one at a time.
func (g *Gateway) boostLoop() {
	for {
		select {
		case <-g.ctx.Done():
			return
		case c := <-g.boosts:
			l := c.Link()
			if _, err := g.join(l); err != nil {
				g.log.Warn("feed: not boosted", "root", hex.EncodeToString(c.Root), "err", err)
				continue
			}
			g.log.Info("feed: boosting", "root", hex.EncodeToString(c.Root), "name", c.Name)
		}
	}
}

// ipLimiter rate-limits requests per client IP (a bounded table: when it
// is full it starts over, which at worst lets a burst through again).
type ipLimiter struct {
	r     rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

const ipLimiterEntries = 4096

func newIPLimiter(r rate.Limit, burst int) *ipLimiter {
	return &ipLimiter{r: r, burst: burst, m: make(map[string]*rate.Limiter)}
}

func (l *ipLimiter) allow(ip string) bool {
	if l.r <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[ip]
	if lim == nil {
		if len(l.m) >= ipLimiterEntries {
			clear(l.m)
		}
		lim = rate.NewLimiter(l.r, l.burst)
		l.m[ip] = lim
	}
	return lim.Allow()
}

func (l *ipLimiter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		if !l.allow(ip) {
			w.Header().Set("Retry-After", "10")
			http.Error(w, "too many feed requests from this address; try again later", http.StatusTooManyRequests)
			return
		}
		h.ServeHTTP(w, r)
	})
}
