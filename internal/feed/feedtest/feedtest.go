// Package feedtest is the conformance suite every feed.Store passes.
package feedtest

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/feed"
)

// Identity returns a fixed test identity (seed b, b+1, …).
func Identity(t testing.TB, b byte) *feed.Identity {
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

// Sign makes a signed post of id.
func Sign(t testing.TB, id *feed.Identity, seq uint64, at time.Time, text string) (*feed.Post, []byte) {
	t.Helper()
	p := &feed.Post{Seq: seq, Time: at, Text: text}
	raw, err := p.Sign(id)
	if err != nil {
		t.Fatal(err)
	}
	return p, raw
}

// Run runs the suite; open returns a fresh empty store (reopen, if not
// nil, closes and reopens the same store to check persistence).
func Run(t *testing.T, open func(t *testing.T) feed.Store, reopen func(t *testing.T, s feed.Store) feed.Store) {
	t0 := time.UnixMilli(1764547200000)
	a, b := Identity(t, 1), Identity(t, 2)
	t.Run("posts", func(t *testing.T) {
		s := open(t)
		defer func() { s.Close() }()
		var raws [][]byte
		for _, seq := range []uint64{1, 2, 4, 7} {
			p, raw := Sign(t, a, seq, t0.Add(time.Duration(seq)*time.Minute), "p")
			raws = append(raws, raw)
			if ok, err := s.AddPost(p, raw); !ok || err != nil {
				t.Fatal(ok, err)
			}
			if ok, err := s.AddPost(p, raw); ok || err != nil {
				t.Fatal("duplicate added", ok, err)
			}
		}
		if reopen != nil {
			s = reopen(t, s)
		}
		if h, _ := s.Head(a.UID()); h != 7 {
			t.Fatalf("head %d", h)
		}
		if h, _ := s.Head(b.UID()); h != 0 {
			t.Fatalf("head of unknown %d", h)
		}
		if got, _ := s.Post(a.UID(), 4); !bytes.Equal(got, raws[2]) {
			t.Fatal("Post(4)")
		}
		if _, err := s.Post(a.UID(), 3); !errors.Is(err, feed.ErrNotFound) {
			t.Fatal("Post(3)", err)
		}
		miss, _ := s.Missing(a.UID(), 10)
		if !slices.Equal(miss, []uint64{3, 5, 6}) {
			t.Fatalf("missing %v", miss)
		}
		if miss, _ := s.Missing(a.UID(), 2); len(miss) != 2 {
			t.Fatalf("limit: %v", miss)
		}
		ps, _ := s.Posts(a.UID(), 1, time.Time{}, time.Time{}, 10)
		if len(ps) != 3 || !bytes.Equal(ps[0], raws[1]) {
			t.Fatalf("after 1: %d", len(ps))
		}
		ps, _ = s.Posts(a.UID(), 0, t0.Add(2*time.Minute), t0.Add(4*time.Minute), 10)
		if len(ps) != 2 {
			t.Fatalf("time range: %d", len(ps))
		}
		if ps, _ = s.Posts(a.UID(), 0, time.Time{}, time.Time{}, 1); len(ps) != 1 {
			t.Fatal("limit")
		}
		rec, _ := s.Recent(a.UID(), 2)
		if len(rec) != 2 || !bytes.Equal(rec[0], raws[3]) {
			t.Fatal("recent")
		}
	})
	t.Run("equivocation", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		p1, r1 := Sign(t, a, 3, t0, "first")
		p2, r2 := Sign(t, a, 3, t0, "second")
		s.AddPost(p1, r1)
		if ok, err := s.AddPost(p2, r2); ok || !errors.Is(err, feed.ErrEquivocation) {
			t.Fatal(ok, err)
		}
		if got, _ := s.Post(a.UID(), 3); !bytes.Equal(got, r1) {
			t.Fatal("the first post is not kept")
		}
		if r, ok, _ := s.Flagged(a.UID()); !ok || r == "" {
			t.Fatal("not flagged")
		}
		if _, ok, _ := s.Flagged(b.UID()); ok {
			t.Fatal("other uid flagged")
		}
	})
	t.Run("follows", func(t *testing.T) {
		s := open(t)
		defer func() { s.Close() }()
		f := feed.Follow{UID: a.UID(), Name: "Adam", Nodes: []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}, Since: t0}
		if err := s.SetFollow(f); err != nil {
			t.Fatal(err)
		}
		s.SetFollow(feed.Follow{UID: b.UID(), Since: t0})
		if reopen != nil {
			s = reopen(t, s)
		}
		fs, _ := s.Follows()
		if len(fs) != 2 {
			t.Fatalf("%d follows", len(fs))
		}
		var got feed.Follow
		for _, x := range fs {
			if x.UID == a.UID() {
				got = x
			}
		}
		if got.Name != "Adam" || !slices.Equal(got.Nodes, f.Nodes) || !got.Since.Equal(t0) {
			t.Fatalf("%+v", got)
		}
		s.DeleteFollow(a.UID())
		if fs, _ := s.Follows(); len(fs) != 1 {
			t.Fatal("delete")
		}
	})
	t.Run("followers", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		r := &feed.FollowRequest{Publisher: a.UID(), Time: t0, URL: "http://127.0.0.1:5"}
		if _, err := r.Sign(b); err != nil {
			t.Fatal(err)
		}
		if err := s.SetFollower(r); err != nil {
			t.Fatal(err)
		}
		frs, _ := s.Followers(a.UID())
		if len(frs) != 1 || frs[0].URL != r.URL || frs[0].Follower != b.UID() {
			t.Fatalf("%+v", frs)
		}
		if got, err := s.Follower(a.UID(), b.UID()); err != nil || !got.Time.Equal(t0) {
			t.Fatal(got, err)
		}
		u := &feed.FollowRequest{Publisher: a.UID(), Time: t0.Add(time.Second), Unfollow: true, URL: r.URL}
		u.Sign(b)
		s.SetFollower(u)
		if frs, _ := s.Followers(a.UID()); len(frs) != 0 {
			t.Fatal("unfollow kept the follower")
		}
	})
}
