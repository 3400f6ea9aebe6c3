package feed

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testIdentity is a fixed key (seed 0x01..0x20) so golden bytes are stable.
func testIdentity(t testing.TB, b byte) *Identity {
	t.Helper()
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = b + byte(i)
	}
	id, err := IdentityFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func goldenPost(t testing.TB) (*Post, []byte) {
	t.Helper()
	id := testIdentity(t, 1)
	root, _ := hex.DecodeString("c89800bfc82ed01ed6e3bfd5408c51274491f7d4")
	p := &Post{Seq: 1, Time: goldenTime, Text: "hello swarm",
		Links: []Content{{Root: root, ChunkSize: 1024, Length: 1048576, Name: "demo.mp4", MIME: "video/mp4"}}}
	raw, err := p.Sign(id)
	if err != nil {
		t.Fatal(err)
	}
	return p, raw
}

// TestGoldenPost pins the version 1 encoding (docs/feed.md): an existing
// encoding never changes; a new layout gets a new version byte.
func TestGoldenPost(t *testing.T) {
	_, raw := goldenPost(t)
	want, err := os.ReadFile(filepath.Join("testdata", "post-v1.hex"))
	if err != nil {
		t.Fatal(err)
	}
	var hexs strings.Builder
	for _, line := range strings.Split(string(want), "\n") {
		line, _, _ = strings.Cut(line, "#")
		hexs.WriteString(strings.ReplaceAll(strings.TrimSpace(line), " ", ""))
	}
	wb, err := hex.DecodeString(hexs.String())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, wb) {
		t.Fatalf("encoding changed:\n got %x\nwant %x", raw, wb)
	}
	p, err := ParsePost(wb, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Text != "hello swarm" || p.Seq != 1 || p.Links[0].Name != "demo.mp4" || p.UID != testIdentity(t, 1).UID() {
		t.Fatalf("parsed %+v", p)
	}
}

func TestPostRoundTrip(t *testing.T) {
	id, other := testIdentity(t, 1), testIdentity(t, 50)
	root32 := bytes.Repeat([]byte{7}, 32)
	cases := []*Post{
		{Seq: 1, Time: time.UnixMilli(1), Text: ""},
		{Seq: 7, Time: time.UnixMilli(1764547200123), Text: strings.Repeat("é", 140)},
		{Seq: 2, Time: time.UnixMilli(5), Kind: KindRepost, Ref: Ref{UID: other.UID(), Seq: 9}, Links: []Content{{Root: root32, HashFunc: 2, ChunkSize: 1 << 20, Length: 0}}},
		{Seq: 3, Time: time.UnixMilli(5), Kind: KindReply, Ref: Ref{UID: other.UID(), Seq: 1}, Text: "yes"},
	}
	for _, p := range cases {
		t.Run(p.Kind.String(), func(t *testing.T) {
			raw, err := p.Sign(id)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParsePost(raw, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			re, err := q.Marshal()
			if err != nil || !bytes.Equal(re, raw) {
				t.Fatalf("re-encoding differs: %v", err)
			}
			if q.Text != p.Text || q.Kind != p.Kind || q.Ref != p.Ref || q.Seq != p.Seq || !q.Time.Equal(p.Time) {
				t.Fatalf("got %+v want %+v", q, p)
			}
		})
	}
}

func TestPostRejects(t *testing.T) {
	id := testIdentity(t, 1)
	_, raw := goldenPost(t)
	flip := func(i int) []byte { b := bytes.Clone(raw); b[i] ^= 1; return b }
	cases := map[string][]byte{
		"forged text":      flip(60),
		"forged signature": flip(len(raw) - 1),
		"other uid":        flip(5),
		"truncated":        raw[:len(raw)-1],
		"trailing":         append(bytes.Clone(raw), 0),
		"version":          flip(0),
		"empty":            nil,
		"oversized":        make([]byte, MaxPostBytes+1),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParsePost(b, Limits{}); !errors.Is(err, ErrBadPost) {
				t.Fatalf("err %v, want ErrBadPost", err)
			}
		})
	}
	bad := map[string]*Post{
		"seq 0":          {Seq: 0},
		"no time":        {Seq: 1},
		"141 characters": {Seq: 1, Text: strings.Repeat("a", 141)},
		"not utf-8":      {Seq: 1, Text: "\xff"},
		"repost no ref":  {Seq: 1, Kind: KindRepost},
		"post with ref":  {Seq: 1, Ref: Ref{Seq: 1, UID: id.UID()}},
		"unknown kind":   {Seq: 1, Kind: 9},
		"bad chunk size": {Seq: 1, Links: []Content{{Root: make([]byte, 20), ChunkSize: 1000}}},
		"bad root":       {Seq: 1, Links: []Content{{Root: make([]byte, 21), ChunkSize: 1024}}},
		"bad name":       {Seq: 1, Links: []Content{{Root: make([]byte, 20), ChunkSize: 1024, Name: "../x"}}},
		"bad mime":       {Seq: 1, Links: []Content{{Root: make([]byte, 20), ChunkSize: 1024, MIME: "video"}}},
		"too many links": {Seq: 1, Links: make([]Content, MaxLinks+1)},
	}
	for name, p := range bad {
		t.Run(name, func(t *testing.T) {
			if name != "no time" {
				p.Time = time.UnixMilli(5)
			}
			raw, err := p.Sign(id)
			if err == nil {
				_, err = ParsePost(raw, Limits{})
			}
			if !errors.Is(err, ErrBadPost) {
				t.Fatalf("err %v, want ErrBadPost", err)
			}
		})
	}
	// A node with a higher text limit accepts what the default refuses.
	long := &Post{Seq: 1, Time: time.UnixMilli(5), Text: strings.Repeat("a", 200)}
	if _, err := long.Sign(id); err != nil {
		t.Fatal(err)
	}
	rawLong, _ := long.Marshal()
	if _, err := ParsePost(rawLong, Limits{MaxText: 280}); err != nil {
		t.Fatal(err)
	}
}

func TestUID(t *testing.T) {
	u := testIdentity(t, 1).UID()
	s := u.String()
	if len(s) != 56 {
		t.Fatalf("len %d", len(s))
	}
	v, err := ParseUID(strings.ToUpper(s))
	if err != nil || v != u {
		t.Fatalf("round trip: %v", err)
	}
	typo := []byte(s)
	typo[10] = map[bool]byte{true: 'b', false: 'a'}[typo[10] == 'a']
	if _, err := ParseUID(string(typo)); !errors.Is(err, ErrBadUID) {
		t.Fatalf("typo accepted: %v", err)
	}
	if f := u.Fingerprint(); len(f) != 14 || f[4] != '-' {
		t.Fatalf("fingerprint %q", f)
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "feed.key")
	id, created, err := LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatal(err, created)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	id2, created, err := LoadOrCreateKey(path)
	if err != nil || created || id2.UID() != id.UID() {
		t.Fatal("reload", err, created)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadKey(path); err == nil || !strings.Contains(err.Error(), "others can read") {
		t.Fatalf("world-readable key accepted: %v", err)
	}
}

func TestFollowRequest(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	r := FollowRequest{Publisher: b.UID(), Time: time.UnixMilli(1764547200000), URL: "http://127.0.0.1:8080"}
	raw, err := r.Sign(a)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseFollowRequest(raw)
	if err != nil || q.Follower != a.UID() || q.URL != r.URL || q.Unfollow {
		t.Fatal(q, err)
	}
	for i := range raw {
		c := bytes.Clone(raw)
		c[i] ^= 0x20
		if _, err := ParseFollowRequest(c); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	for _, u := range []string{"ftp://x", "http://", "javascript:alert(1)", "http://u:p@h", strings.Repeat("h", 600)} {
		r := FollowRequest{Publisher: b.UID(), URL: u}
		if _, err := r.Sign(a); !errors.Is(err, ErrBadFollow) {
			t.Fatalf("%q: %v", u, err)
		}
	}
}

func TestHeadItem(t *testing.T) {
	id := testIdentity(t, 1)
	h := Head{Seq: 5, Nodes: []string{"http://127.0.0.1:1/", "https://gw.example/x"}}
	m, err := SignHead(id, h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseHead(id.UID(), m)
	if err != nil || got.Seq != 5 || len(got.Nodes) != 2 {
		t.Fatal(got, err)
	}
	bad := m
	bad.Seq = 6
	if _, err := ParseHead(id.UID(), bad); !errors.Is(err, ErrBadHead) {
		t.Fatalf("re-sequenced item accepted: %v", err)
	}
	if _, err := ParseHead(testIdentity(t, 2).UID(), m); !errors.Is(err, ErrBadHead) {
		t.Fatal("item of another key accepted")
	}
	for _, v := range []string{"d1:nle", "d1:nl3:abcee", "d1:nl01:aee", "d1:nl99999:aee", "de", "d1:nlee "} {
		if _, err := decodeHeadValue([]byte(v)); err == nil {
			t.Fatalf("%q accepted", v)
		}
	}
}

func TestBatch(t *testing.T) {
	_, raw := goldenPost(t)
	b := AppendBatch(AppendBatch(nil, raw), raw)
	got, err := ParseBatch(b, 10)
	if err != nil || len(got) != 2 || !bytes.Equal(got[1], raw) {
		t.Fatal(err)
	}
	if _, err := ParseBatch(b, 1); err == nil {
		t.Fatal("over the count limit accepted")
	}
	if _, err := ParseBatch(b[:len(b)-1], 10); err == nil {
		t.Fatal("truncated batch accepted")
	}
}

var goldenTime = time.UnixMilli(1764547200000)
