package dhtnet

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/feed"
)

func testFeedIdentity(t *testing.T, b byte) *feed.Identity {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b + byte(i)
	}
	id, err := feed.IdentityFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestItems: a publisher puts its head (BEP 44) from a read-only node; a
// follower that knows only the uid finds it; a lower seq and a forged
// item are refused by the nodes that store it.
func TestItems(t *testing.T) {
	o := newOverlay(t, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub := o.join(t, true)
	fol := o.join(t, true)
	id := testFeedIdentity(t, 1)
	h := feed.Head{Seq: 3, Nodes: []string{"http://127.0.0.1:8080"}}
	var err error
	for try := 0; try < 5; try++ { // a loaded machine can lose the first walk
		if err = feed.PublishHead(ctx, pub, id, h); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := feed.LookupHead(ctx, fol, id.UID())
	if err != nil || got.Seq != 3 || got.Nodes[0] != "http://127.0.0.1:8080" {
		t.Fatal(got, err)
	}
	// A newer head replaces it.
	h.Seq = 4
	if err := feed.PublishHead(ctx, pub, id, h); err != nil {
		t.Fatal(err)
	}
	if got, err := feed.LookupHead(ctx, fol, id.UID()); err != nil || got.Seq != 4 {
		t.Fatal(got, err)
	}
	// An older one is refused everywhere it lands (BEP 44 error 302).
	old, _ := feed.SignHead(id, feed.Head{Seq: 2, Nodes: h.Nodes})
	if err := pub.PutItem(ctx, old); err == nil {
		t.Fatal("a lower seq was stored")
	}
	// A forged item never leaves the putter, and a stored forgery is never returned.
	forged := old
	forged.Seq = 9
	if err := pub.PutItem(ctx, forged); err == nil {
		t.Fatal("forged item put")
	}
	if code, _ := o.nodes[0].items.put(forged, nil, time.Now()); code != 0 {
		t.Fatal("test setup: direct store refused")
	}
	if got, err := feed.LookupHead(ctx, fol, id.UID()); err != nil || got.Seq != 4 {
		t.Fatalf("forged item surfaced: %v %v", got, err)
	}
	// An unknown uid has no head.
	if _, err := fol.GetItem(ctx, testFeedIdentity(t, 9).UID(), []byte(feed.HeadSalt)); !errors.Is(err, ErrNoItem) {
		t.Fatal(err)
	}
}
