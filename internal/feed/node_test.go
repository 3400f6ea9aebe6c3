//go:build !js

package feed_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/feed/feedtest"
)

// lossy drops a share of requests (feed messages) before they leave.
type lossy struct {
	mu      sync.Mutex
	rng     *rand.Rand
	loss    float64
	dropped atomic.Int64
	inner   http.RoundTripper
}

func (l *lossy) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	drop := l.rng.Float64() < l.loss
	l.mu.Unlock()
	if drop {
		l.dropped.Add(1)
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, errors.New("dropped by the test")
	}
	return l.inner.RoundTrip(r)
}

type testNode struct {
	*feed.Node
	srv *httptest.Server
	url string
	new chan *feed.Post
}

// startNode runs a node on a loopback HTTP server.
func startNode(t testing.TB, ctx context.Context, id *feed.Identity, client *http.Client, mod func(*feed.Config)) *testNode {
	t.Helper()
	tn := &testNode{new: make(chan *feed.Post, 1000)}
	var h atomic.Value
	tn.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(tn.srv.Close)
	tn.url = tn.srv.URL
	cfg := feed.Config{Store: feed.NewMemStore(), Identity: id, URL: tn.url, Client: client,
		PullInterval: time.Second, GapInterval: 300 * time.Millisecond,
		OnPost: func(p *feed.Post) { tn.new <- p }}
	if mod != nil {
		mod(&cfg)
	}
	n, err := feed.NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn.Node = n
	h.Store(n.Handler())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	t.Cleanup(func() { <-done })
	return tn
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPushPullGaps(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := feedtest.Identity(t, 1)
	plain := &http.Client{Transport: http.DefaultTransport}
	home := startNode(t, ctx, feedtest.Identity(t, 100), plain, func(c *feed.Config) { c.Hosted = []feed.UID{pub.UID()} })
	var followers []*testNode
	for i := range 5 {
		f := startNode(t, ctx, feedtest.Identity(t, byte(10+i)), plain, nil)
		if err := f.Follow(ctx, feed.Follow{UID: pub.UID(), Nodes: []string{home.url}}); err != nil {
			t.Fatal(err)
		}
		followers = append(followers, f)
	}
	waitFor(t, "follow requests", 20*time.Second, func() bool {
		frs, _ := home.Store().Followers(pub.UID())
		return len(frs) == 5
	})
	// Push: one post reaches every follower without a pull round.
	_, raw := feedtest.Sign(t, pub, 1, time.Now(), "first")
	if err := feed.Publish(ctx, plain, home.url, raw); err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		select {
		case p := <-f.new:
			if p.Seq != 1 || p.Text != "first" {
				t.Fatalf("got %+v", p)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("post not pushed")
		}
	}
	// A forged post is refused and never stored.
	forged := bytes.Clone(raw)
	forged[len(forged)-3] ^= 1
	if err := feed.Publish(ctx, plain, home.url, forged); err == nil {
		t.Fatal("forged post accepted")
	}
	// A post of a uid nobody follows or hosts is refused.
	_, stranger := feedtest.Sign(t, feedtest.Identity(t, 200), 1, time.Now(), "spam")
	if err := feed.Publish(ctx, plain, home.url, stranger); err == nil || !strings.Contains(err.Error(), "not followed") {
		t.Fatalf("stranger's post: %v", err)
	}
	// Gaps: seqs 2..4 reach only the home node (stored directly, as if
	// every push were lost); the followers find them by pull or gap scan.
	for seq := uint64(2); seq <= 4; seq++ {
		p, raw := feedtest.Sign(t, pub, seq, time.Now(), "later")
		if _, err := home.Store().AddPost(p, raw); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range followers {
		waitFor(t, "pull", 20*time.Second, func() bool { h, _ := f.Store().Head(pub.UID()); return h == 4 })
	}
}

// TestLoss: with 10% of feed messages dropped (pushes, pulls, follow
// requests, both ways), every follower still gets every post through pull
// and gap recovery.
func TestLoss(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := feedtest.Identity(t, 1)
	lc := func(seed uint64) *http.Client {
		return &http.Client{Transport: &lossy{rng: rand.New(rand.NewPCG(seed, 1)), loss: 0.10, inner: http.DefaultTransport}}
	}
	home := startNode(t, ctx, feedtest.Identity(t, 100), lc(1), func(c *feed.Config) { c.Hosted = []feed.UID{pub.UID()} })
	var followers []*testNode
	for i := range 5 {
		f := startNode(t, ctx, feedtest.Identity(t, byte(10+i)), lc(uint64(10+i)), func(c *feed.Config) {
			c.Peers = []string{home.url}
		})
		f.Follow(ctx, feed.Follow{UID: pub.UID(), Nodes: []string{home.url}})
		followers = append(followers, f)
	}
	plain := &http.Client{Transport: http.DefaultTransport}
	const posts = 30
	for seq := uint64(1); seq <= posts; seq++ {
		_, raw := feedtest.Sign(t, pub, seq, time.Now(), "post")
		if err := feed.Publish(ctx, plain, home.url, raw); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range followers {
		waitFor(t, "every post", 60*time.Second, func() bool {
			h, _ := f.Store().Head(pub.UID())
			miss, _ := f.Store().Missing(pub.UID(), 100)
			return h == posts && len(miss) == 0
		})
		_ = i
	}
}

func TestEquivocationAndFollowChecks(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := feedtest.Identity(t, 1)
	plain := &http.Client{Transport: http.DefaultTransport}
	home := startNode(t, ctx, feedtest.Identity(t, 100), plain, func(c *feed.Config) { c.Hosted = []feed.UID{pub.UID()} })
	_, r1 := feedtest.Sign(t, pub, 1, time.Now(), "one")
	_, r2 := feedtest.Sign(t, pub, 1, time.Now(), "other")
	if err := feed.Publish(ctx, plain, home.url, r1); err != nil {
		t.Fatal(err)
	}
	if err := feed.Publish(ctx, plain, home.url, r2); err == nil || !strings.Contains(err.Error(), "equivocation") {
		t.Fatalf("equivocation: %v", err)
	}
	d, _ := home.Page(pub.UID(), 10)
	if d.Flagged == "" || len(d.Posts) != 1 || d.Posts[0].Text != "one" {
		t.Fatalf("page %+v", d)
	}
	res, err := plain.Get(home.url + "/u/" + pub.UID().String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "flagged") {
		t.Fatal("page does not show the flag")
	}

	post := func(b []byte) int {
		res, err := plain.Post(home.url+"/feed/v1/follow", "application/octet-stream", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	fol := feedtest.Identity(t, 5)
	r := feed.FollowRequest{Publisher: pub.UID(), Time: time.Now(), URL: "http://127.0.0.1:9"}
	raw, _ := r.Sign(fol)
	if c := post(raw); c != 200 {
		t.Fatalf("follow: %d", c)
	}
	if c := post(raw); c != http.StatusForbidden {
		t.Fatalf("replayed follow: %d", c)
	}
	old := feed.FollowRequest{Publisher: pub.UID(), Time: time.Now().Add(-time.Hour), URL: "http://127.0.0.1:9"}
	raw, _ = old.Sign(feedtest.Identity(t, 6))
	if c := post(raw); c != http.StatusForbidden {
		t.Fatalf("stale follow: %d", c)
	}
	other := feed.FollowRequest{Publisher: feedtest.Identity(t, 77).UID(), Time: time.Now(), URL: "http://127.0.0.1:9"}
	raw, _ = other.Sign(fol)
	if c := post(raw); c != http.StatusForbidden {
		t.Fatalf("follow of a uid not served: %d", c)
	}
	if c := post([]byte("garbage")); c != http.StatusBadRequest {
		t.Fatalf("garbage: %d", c)
	}
	if c := post(make([]byte, 5000)); c != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: %d", c)
	}
}

func TestRepostAndAtom(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	adam, maria := feedtest.Identity(t, 1), feedtest.Identity(t, 2)
	plain := &http.Client{Transport: http.DefaultTransport}
	home := startNode(t, ctx, feedtest.Identity(t, 100), plain, func(c *feed.Config) {
		c.Hosted = []feed.UID{adam.UID(), maria.UID()}
		c.LinkBase = "https://gw.example"
	})
	b := startNode(t, ctx, feedtest.Identity(t, 10), plain, nil)
	b.Follow(ctx, feed.Follow{UID: maria.UID(), Nodes: []string{home.url}})
	waitFor(t, "follow", 20*time.Second, func() bool { frs, _ := home.Store().Followers(maria.UID()); return len(frs) == 1 })
	c := feed.Content{Root: bytes.Repeat([]byte{9}, 20), ChunkSize: 1024, Length: 5000, Name: "v.mp4", MIME: "video/mp4"}
	orig := &feed.Post{Seq: 1, Time: time.Now(), Text: "my video", Links: []feed.Content{c}}
	raw, _ := orig.Sign(adam)
	feed.Publish(ctx, plain, home.url, raw)
	rp := &feed.Post{Seq: 1, Time: time.Now(), Kind: feed.KindRepost, Ref: orig.ID(), Links: orig.Links}
	raw, _ = rp.Sign(maria)
	if err := feed.Publish(ctx, plain, home.url, raw); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-b.new:
		if p.Kind != feed.KindRepost || p.Ref.UID != adam.UID() || len(p.Links) != 1 {
			t.Fatalf("%+v", p)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("repost not pushed")
	}
	// The booster follows Maria only: Adam's own post is not taken.
	if h, _ := b.Store().Head(adam.UID()); h != 0 {
		t.Fatal("unfollowed uid stored")
	}
	res, err := plain.Get(home.url + "/u/" + adam.UID().String() + ".atom")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var f struct {
		Entries []struct {
			ID    string `xml:"id"`
			Links []struct {
				Rel  string `xml:"rel,attr"`
				Href string `xml:"href,attr"`
				Type string `xml:"type,attr"`
			} `xml:"link"`
		} `xml:"entry"`
	}
	if err := xml.NewDecoder(res.Body).Decode(&f); err != nil {
		t.Fatal(err)
	}
	if len(f.Entries) != 1 || len(f.Entries[0].Links) != 1 || f.Entries[0].Links[0].Rel != "enclosure" ||
		!strings.HasPrefix(f.Entries[0].Links[0].Href, "https://gw.example/0909") || f.Entries[0].Links[0].Type != "video/mp4" {
		t.Fatalf("%+v", f)
	}
}
