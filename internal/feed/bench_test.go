//go:build !js

package feed_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/feed/feedtest"
)

// BenchmarkLossDelivery: the publisher's node and five followers on
// loopback HTTP, 10% of feed messages dropped (every request of every
// node), the gap scan at a tenth of the pull period (30 s : 5 min). It
// reports the share of 100 posts held by every follower one pull period
// after the last post, and the share of (post, follower) pairs held 0.2 s after the last post
// (push plus the gap scans running meanwhile).
func BenchmarkLossDelivery(b *testing.B) {
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		pub := feedtest.Identity(b, 1)
		lc := func(seed uint64) *http.Client {
			return &http.Client{Transport: &lossy{rng: rand.New(rand.NewPCG(seed, 7)), loss: 0.10, inner: http.DefaultTransport}}
		}
		const period = 2 * time.Second
		mod := func(c *feed.Config) { c.PullInterval, c.GapInterval = period, period/10 }
		home := startNode(b, ctx, feedtest.Identity(b, 100), lc(1), func(c *feed.Config) { mod(c); c.Hosted = []feed.UID{pub.UID()} })
		var fs []*testNode
		for i := range 5 {
			f := startNode(b, ctx, feedtest.Identity(b, byte(10+i)), lc(uint64(20+i)), mod)
			f.Follow(ctx, feed.Follow{UID: pub.UID(), Nodes: []string{home.url}})
			fs = append(fs, f)
		}
		time.Sleep(2 * period) // follow requests through the loss
		plain := &http.Client{Transport: http.DefaultTransport}
		const posts = 100
		for seq := uint64(1); seq <= posts; seq++ {
			_, raw := feedtest.Sign(b, pub, seq, time.Now(), "post")
			if err := feed.Publish(ctx, plain, home.url, raw); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(200 * time.Millisecond)
		held := func() (all, pairs int) {
			for seq := uint64(1); seq <= posts; seq++ {
				every := true
				for _, f := range fs {
					if _, err := f.Store().Post(pub.UID(), seq); err == nil {
						pairs++
					} else {
						every = false
					}
				}
				if every {
					all++
				}
			}
			return
		}
		_, pushPairs := held()
		time.Sleep(period)
		all, _ := held()
		b.ReportMetric(100*float64(pushPairs)/float64(posts*len(fs)), "%pairs-held-0.2s-after-last")
		b.ReportMetric(100*float64(all)/posts, "%held-by-all-after-1-pull")
		cancel()
		for _, n := range append(fs, home) {
			n.srv.Close()
		}
	}
}
