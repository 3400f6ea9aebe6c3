//go:build !js

package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPDoer sends HTTP requests (*http.Client is one). Injected so that
// tests can drop messages and no default client is used below cmd/.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// Config configures a Node. Zero values are the defaults in the comments.
type Config struct {
	// Store holds the node's state (required).
	Store Store
	// Identity is the node's own key: it signs the node's follow requests.
	// Required to follow.
	Identity *Identity
	// URL is this node's base URL as other nodes reach it (pushes arrive
	// at URL + "/feed/v1/posts"). Required to follow.
	URL string
	// Client sends requests to other nodes (required for Run and Follow).
	Client HTTPDoer
	// Peers are other nodes' base URLs (Litter's one-hop peers): pulled
	// from and asked for gaps, besides each follow's own nodes.
	Peers []string
	// Directory finds a followed uid's nodes when the follow names none
	// (BEP 44). Optional.
	Directory Directory
	// Hosted are uids this node serves as the publisher's node: their
	// posts are accepted from anyone (the publisher's CLI pushes them).
	Hosted []UID
	// Open accepts posts of any uid (a public gateway). Default: only
	// followed and hosted uids.
	Open bool
	// PullInterval is Litter Alg. 2's period (default 5 min).
	PullInterval time.Duration
	// GapInterval is §3.4's scan period (default 30 s).
	GapInterval time.Duration
	// PullWindow is the time range a pull asks for, back from now
	// (default 0: all of the feed).
	PullWindow time.Duration
	// MaxSkew bounds how far in the future a post or follow request may
	// be, and how old a follow request may be (default 10 min).
	MaxSkew time.Duration
	// MaxBody bounds a request or answer body (default 1 MiB).
	MaxBody int64
	// MaxPullPosts bounds the posts in one answer or push (default 1000).
	MaxPullPosts int
	// MaxFollowers bounds the registered followers per uid (default 10000).
	MaxFollowers int
	// MaxGapSeqs bounds the seqs asked for per uid per scan (default 256).
	MaxGapSeqs int
	// PushQueue bounds the pushes waiting to be sent (default 4096); when
	// full, pushes are dropped and pull recovers them.
	PushQueue int
	// PushWorkers is the number of concurrent pushes (default 8).
	PushWorkers int
	// RequestTimeout bounds each request to another node (default 10 s).
	RequestTimeout time.Duration
	// Limits are the post limits (140 characters by default).
	Limits Limits
	// LinkBase is a gateway base URL ("https://gw.example") for content
	// links in Atom and pages (default: ppsp:// links).
	LinkBase string
	// OnPost is called with each new verified post once it is stored. It
	// must not block.
	OnPost func(p *Post)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default: discard).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.PullInterval <= 0 {
		c.PullInterval = 5 * time.Minute
	}
	if c.GapInterval <= 0 {
		c.GapInterval = 30 * time.Second
	}
	if c.MaxSkew <= 0 {
		c.MaxSkew = 10 * time.Minute
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 1 << 20
	}
	if c.MaxPullPosts <= 0 {
		c.MaxPullPosts = 1000
	}
	if c.MaxFollowers <= 0 {
		c.MaxFollowers = 10000
	}
	if c.MaxGapSeqs <= 0 {
		c.MaxGapSeqs = 256
	}
	if c.PushQueue <= 0 {
		c.PushQueue = 4096
	}
	if c.PushWorkers <= 0 {
		c.PushWorkers = 8
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.URL = strings.TrimRight(c.URL, "/")
}

// Node is a feed node: it stores verified posts, pushes new ones to
// registered followers, pulls and recovers gaps from other nodes, and
// serves all of that over HTTP (Handler).
type Node struct {
	cfg    Config
	log    *slog.Logger
	st     Store
	pushes chan push
	kick   chan struct{}

	mu     sync.Mutex
	hosted map[UID]bool

	stats counters
}

type push struct {
	url string
	raw []byte
}

type counters struct {
	received, added, rejected, duplicates, equivocations atomic.Int64
	pushed, pushFailed, pushDropped                      atomic.Int64
	pulls, pullFailed, gapAsks, followsIn                atomic.Int64
}

// Stats are a node's counters.
type Stats struct {
	Received, Added, Rejected, Duplicates, Equivocations int64
	Pushed, PushFailed, PushDropped                      int64
	Pulls, PullFailed, GapAsks, FollowsReceived          int64
}

// NewNode makes a node on cfg.Store.
func NewNode(cfg Config) (*Node, error) {
	if cfg.Store == nil {
		return nil, errors.New("feed: Config.Store is required")
	}
	cfg.setDefaults()
	if cfg.URL != "" {
		if err := checkNodeURL(cfg.URL); err != nil {
			return nil, fmt.Errorf("feed: Config.URL: %v", err)
		}
	}
	n := &Node{cfg: cfg, log: cfg.Logger, st: cfg.Store, pushes: make(chan push, cfg.PushQueue),
		kick: make(chan struct{}, 1), hosted: make(map[UID]bool)}
	for _, u := range cfg.Hosted {
		n.hosted[u] = true
	}
	return n, nil
}

// Store returns the node's store.
func (n *Node) Store() Store { return n.st }

// Stats returns the counters.
func (n *Node) Stats() Stats {
	s := &n.stats
	return Stats{Received: s.received.Load(), Added: s.added.Load(), Rejected: s.rejected.Load(),
		Duplicates: s.duplicates.Load(), Equivocations: s.equivocations.Load(), Pushed: s.pushed.Load(),
		PushFailed: s.pushFailed.Load(), PushDropped: s.pushDropped.Load(), Pulls: s.pulls.Load(),
		PullFailed: s.pullFailed.Load(), GapAsks: s.gapAsks.Load(), FollowsReceived: s.followsIn.Load()}
}

// Host makes this node the publisher's node of uid.
func (n *Node) Host(uid UID) {
	n.mu.Lock()
	n.hosted[uid] = true
	n.mu.Unlock()
}

// accepts reports whether posts of uid are taken.
func (n *Node) accepts(uid UID) bool {
	if n.cfg.Open {
		return true
	}
	n.mu.Lock()
	h := n.hosted[uid]
	n.mu.Unlock()
	return h || n.Following(uid)
}

// Following reports whether this node follows uid.
func (n *Node) Following(uid UID) bool {
	fs, err := n.st.Follows()
	if err != nil {
		return false
	}
	for _, f := range fs {
		if f.UID == uid {
			return true
		}
	}
	return false
}

// ErrNotAccepted is returned for a post of a uid this node neither
// follows nor hosts.
var ErrNotAccepted = errors.New("feed: uid not followed or hosted here")

// Receive takes one post encoding from anywhere (Litter Alg. 1
// RECEIVEPOST): if the signature is valid, the uid is followed or hosted
// and the post is new, it is stored, OnPost is called and the post is
// pushed on to the uid's followers (except from, the base URL it came
// from, if known). It reports whether the post was new.
func (n *Node) Receive(raw []byte, from string) (bool, error) {
	n.stats.received.Add(1)
	p, err := ParsePost(raw, n.cfg.Limits)
	if err != nil {
		n.stats.rejected.Add(1)
		return false, err
	}
	if p.Time.After(n.cfg.Now().Add(n.cfg.MaxSkew)) {
		n.stats.rejected.Add(1)
		return false, fmt.Errorf("%w: time %v is in the future", ErrBadPost, p.Time.UTC())
	}
	if !n.accepts(p.UID) {
		n.stats.rejected.Add(1)
		return false, fmt.Errorf("%w: %s", ErrNotAccepted, p.UID.Fingerprint())
	}
	added, err := n.st.AddPost(p, raw)
	if errors.Is(err, ErrEquivocation) {
		n.stats.equivocations.Add(1)
		n.log.Warn("equivocation: kept the first post, flagged the uid", "uid", p.UID.String(), "seq", p.Seq)
		return false, err
	}
	if err != nil {
		return false, err
	}
	if !added {
		n.stats.duplicates.Add(1)
		return false, nil
	}
	n.stats.added.Add(1)
	n.log.Debug("new post", "uid", p.UID.Fingerprint(), "seq", p.Seq, "kind", p.Kind, "links", len(p.Links))
	if n.cfg.OnPost != nil {
		n.cfg.OnPost(p)
	}
	n.pushToFollowers(p.UID, raw, from)
	return true, nil
}

// pushToFollowers queues raw for every registered follower of uid
// (Litter Alg. 1 PUBLISHPOSTS); a full queue drops (pull recovers).
func (n *Node) pushToFollowers(uid UID, raw []byte, from string) {
	frs, err := n.st.Followers(uid)
	if err != nil {
		n.log.Warn("followers", "err", err)
		return
	}
	for _, fr := range frs {
		if fr.URL == from || fr.URL == n.cfg.URL {
			continue
		}
		select {
		case n.pushes <- push{url: fr.URL, raw: raw}:
		default:
			n.stats.pushDropped.Add(1)
		}
	}
}

// Run sends pushes, pulls every PullInterval (the first at once) and
// scans for gaps every GapInterval until ctx ends.
func (n *Node) Run(ctx context.Context) error {
	if n.cfg.Client == nil {
		return errors.New("feed: Config.Client is required to run")
	}
	var wg sync.WaitGroup
	for range n.cfg.PushWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case p := <-n.pushes:
					n.sendPush(ctx, p)
				}
			}
		})
	}
	pull := time.NewTicker(n.cfg.PullInterval)
	gap := time.NewTicker(n.cfg.GapInterval)
	defer pull.Stop()
	defer gap.Stop()
	n.PullAll(ctx)
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-pull.C:
			n.PullAll(ctx)
		case <-n.kick:
			n.PullAll(ctx)
		case <-gap.C:
			n.RecoverGaps(ctx)
		}
	}
	wg.Wait()
	return nil
}

func (n *Node) sendPush(ctx context.Context, p push) {
	_, err := n.post(ctx, p.url+"/feed/v1/posts", BatchType, AppendBatch(nil, p.raw))
	if err != nil {
		n.stats.pushFailed.Add(1)
		n.log.Debug("push failed", "to", p.url, "err", err)
		return
	}
	n.stats.pushed.Add(1)
}

// post sends body to url and returns the answer's body (bounded).
func (n *Node) post(ctx context.Context, url, ctype string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ctype)
	res, err := n.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, n.cfg.MaxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n.cfg.MaxBody {
		return nil, fmt.Errorf("answer from %s exceeds %d bytes", url, n.cfg.MaxBody)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", url, res.Status, strings.TrimSpace(string(b[:min(len(b), 200)])))
	}
	return b, nil
}

// nodesFor lists where uid's posts may be found: its follow's nodes
// (publisher's node first), then the peers.
func (n *Node) nodesFor(f Follow) []string {
	out := slices.Clone(f.Nodes)
	for _, p := range n.cfg.Peers {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return slices.DeleteFunc(out, func(u string) bool { return u == n.cfg.URL })
}

// PullAll is one round of Litter Alg. 2 REQUESTPOSTS: each known node is
// asked for the posts of the uids it may hold above our highest seq. The
// follow requests are re-sent too, so a node that lost them learns them
// again.
func (n *Node) PullAll(ctx context.Context) {
	fs, err := n.st.Follows()
	if err != nil {
		n.log.Warn("follows", "err", err)
		return
	}
	byNode := map[string][]Follow{}
	var order []string
	for _, f := range fs {
		for _, u := range n.nodesFor(f) {
			if _, ok := byNode[u]; !ok {
				order = append(order, u)
			}
			byNode[u] = append(byNode[u], f)
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, n.cfg.PushWorkers)
	for _, u := range order {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for _, f := range byNode[u] {
				if slices.Contains(f.Nodes, u) {
					n.sendFollow(ctx, u, f.UID, false)
				}
			}
			var req PullRequest
			for _, f := range byNode[u] {
				h, _ := n.st.Head(f.UID)
				req.Want = append(req.Want, Want{UID: f.UID, After: h})
			}
			if n.cfg.PullWindow > 0 {
				req.From = n.cfg.Now().Add(-n.cfg.PullWindow).UnixMilli()
			}
			n.pull(ctx, u, &req)
		})
	}
	wg.Wait()
}

// Kick asks Run for a pull round now (after a new follow).
func (n *Node) Kick() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// pull sends one pull request and takes what comes back; it returns how
// many new posts arrived.
func (n *Node) pull(ctx context.Context, node string, req *PullRequest) int {
	for len(req.Want) > MaxPullUIDs {
		rest := &PullRequest{Want: req.Want[MaxPullUIDs:], From: req.From, To: req.To}
		req.Want = req.Want[:MaxPullUIDs]
		defer n.pull(ctx, node, rest)
	}
	n.stats.pulls.Add(1)
	body, _ := json.Marshal(req)
	b, err := n.post(ctx, node+"/feed/v1/pull", "application/json", body)
	if err != nil {
		n.stats.pullFailed.Add(1)
		n.log.Debug("pull failed", "from", node, "err", err)
		return 0
	}
	raws, err := ParseBatch(b, n.cfg.MaxPullPosts)
	if err != nil {
		n.log.Debug("pull answer", "from", node, "err", err)
	}
	added := 0
	for _, raw := range raws {
		if ok, err := n.Receive(raw, node); ok {
			added++
		} else if err != nil {
			n.log.Debug("pulled post rejected", "from", node, "err", err)
		}
	}
	return added
}

// RecoverGaps is Litter §3.4: for each followed uid with missing seqs,
// ask the publisher's node for exactly those, then each other node in
// turn while some are still missing.
func (n *Node) RecoverGaps(ctx context.Context) {
	fs, err := n.st.Follows()
	if err != nil {
		return
	}
	for _, f := range fs {
		for _, u := range n.nodesFor(f) {
			miss, err := n.st.Missing(f.UID, n.cfg.MaxGapSeqs)
			if err != nil || len(miss) == 0 || ctx.Err() != nil {
				break
			}
			n.stats.gapAsks.Add(1)
			h, _ := n.st.Head(f.UID)
			n.pull(ctx, u, &PullRequest{Want: []Want{{UID: f.UID, After: h, Seqs: miss}}})
		}
	}
}

// Follow adds f and registers with its nodes by a signed follow request;
// with no nodes given, they are looked up in the Directory (BEP 44). The
// follow is kept even when no node answers (pulls retry).
func (n *Node) Follow(ctx context.Context, f Follow) error {
	if n.cfg.Identity == nil || n.cfg.URL == "" {
		return errors.New("feed: following needs Config.Identity and Config.URL")
	}
	if f.UID == n.cfg.Identity.UID() {
		return errors.New("feed: a node cannot follow its own uid")
	}
	for _, u := range f.Nodes {
		if err := checkNodeURL(u); err != nil {
			return err
		}
	}
	if len(f.Nodes) == 0 && n.cfg.Directory != nil {
		h, err := LookupHead(ctx, n.cfg.Directory, f.UID)
		if err != nil {
			n.log.Info("no head in the DHT", "uid", f.UID.String(), "err", err)
		} else {
			f.Nodes = h.Nodes
		}
	}
	if f.Since.IsZero() {
		f.Since = n.cfg.Now()
	}
	if old, err := n.existingFollow(f.UID); err == nil {
		f.Since = old.Since
		if f.Name == "" {
			f.Name = old.Name
		}
	}
	if err := n.st.SetFollow(f); err != nil {
		return err
	}
	n.Kick()
	return nil
}

func (n *Node) existingFollow(uid UID) (Follow, error) {
	fs, err := n.st.Follows()
	if err != nil {
		return Follow{}, err
	}
	for _, f := range fs {
		if f.UID == uid {
			return f, nil
		}
	}
	return Follow{}, ErrNotFound
}

// Unfollow removes uid and tells its nodes.
func (n *Node) Unfollow(ctx context.Context, uid UID) error {
	f, err := n.existingFollow(uid)
	if err != nil {
		return err
	}
	if err := n.st.DeleteFollow(uid); err != nil {
		return err
	}
	for _, u := range f.Nodes {
		n.sendFollow(ctx, u, uid, true)
	}
	return nil
}

func (n *Node) sendFollow(ctx context.Context, node string, uid UID, unfollow bool) {
	if n.cfg.Identity == nil || n.cfg.URL == "" {
		return
	}
	r := FollowRequest{Publisher: uid, Time: n.cfg.Now(), Unfollow: unfollow, URL: n.cfg.URL}
	b, err := r.Sign(n.cfg.Identity)
	if err != nil {
		n.log.Warn("follow request", "err", err)
		return
	}
	if _, err := n.post(ctx, node+"/feed/v1/follow", "application/octet-stream", b); err != nil {
		n.log.Debug("follow request failed", "to", node, "err", err)
	}
}

// ErrFollowRefused is wrapped when a valid follow request is not taken.
var ErrFollowRefused = errors.New("feed: follow request refused")

// ReceiveFollow takes a follow request: signature, time (within MaxSkew,
// newer than the follower's last), a publisher this node serves and the
// per-uid follower limit are checked before it is stored.
func (n *Node) ReceiveFollow(raw []byte) error {
	r, err := ParseFollowRequest(raw)
	if err != nil {
		return err
	}
	now := n.cfg.Now()
	if d := r.Time.Sub(now); d > n.cfg.MaxSkew || d < -n.cfg.MaxSkew {
		return fmt.Errorf("%w: time %v is not within %v of now (replayed or clock off)", ErrFollowRefused, r.Time.UTC(), n.cfg.MaxSkew)
	}
	if !n.accepts(r.Publisher) {
		return fmt.Errorf("%w: %s is not served here", ErrFollowRefused, r.Publisher.Fingerprint())
	}
	old, err := n.st.Follower(r.Publisher, r.Follower)
	switch {
	case err == nil:
		if !r.Time.After(old.Time) {
			return fmt.Errorf("%w: not newer than the follower's last request (replayed)", ErrFollowRefused)
		}
	case errors.Is(err, ErrNotFound):
		if r.Unfollow {
			return nil
		}
		frs, err := n.st.Followers(r.Publisher)
		if err != nil {
			return err
		}
		if len(frs) >= n.cfg.MaxFollowers {
			return fmt.Errorf("%w: %d followers already, limit %d", ErrFollowRefused, len(frs), n.cfg.MaxFollowers)
		}
	default:
		return err
	}
	n.stats.followsIn.Add(1)
	return n.st.SetFollower(r)
}

// Answer is Litter Alg. 2 PROCESSREQUEST: the posts of each wanted uid
// above its seq (and the explicit seqs) in the time range, bounded by
// MaxPullPosts and MaxBody, as a batch.
func (n *Node) Answer(req *PullRequest) ([]byte, error) {
	from, to := msTime(req.From), msTime(req.To)
	var out []byte
	count := 0
	add := func(raw []byte) bool {
		if count >= n.cfg.MaxPullPosts || int64(len(out)+2+len(raw)) > n.cfg.MaxBody {
			return false
		}
		out = AppendBatch(out, raw)
		count++
		return true
	}
	for _, w := range req.Want {
		for _, seq := range w.Seqs {
			raw, err := n.st.Post(w.UID, seq)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if !add(raw) {
				return out, nil
			}
		}
		raws, err := n.st.Posts(w.UID, w.After, from, to, n.cfg.MaxPullPosts-count)
		if err != nil {
			return nil, err
		}
		for _, raw := range raws {
			if !add(raw) {
				return out, nil
			}
		}
	}
	return out, nil
}

// Publish pushes a signed post to a node (the publisher's node): the CLI's
// side of `swarmgate publish --text`.
func Publish(ctx context.Context, c HTTPDoer, node string, raw []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(node, "/")+"/feed/v1/posts", bytes.NewReader(AppendBatch(nil, raw)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", BatchType)
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, MaxPushAnswer))
	return CheckPushAnswer(node, res.StatusCode, res.Status, b)
}
