package gateway

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/feed"
)

// signedPost signs a post of id with seq, text and links.
func signedPost(t *testing.T, id *feed.Identity, seq uint64, text string, links ...feed.Content) []byte {
	t.Helper()
	p := &feed.Post{Seq: seq, Time: time.Now(), Text: text, Links: links}
	raw, err := p.Sign(id)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newIdentity(t *testing.T) *feed.Identity {
	t.Helper()
	id, err := feed.NewIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func pushBatch(t *testing.T, base string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/feed/v1/posts", bytes.NewReader(body))
	req.Header.Set("Content-Type", feed.BatchType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res, b.Bytes()
}

// TestFeedPages pushes signed posts to a real gateway over loopback and
// reads them back as the UI page, Atom and JSON; forged and oversized
// pushes are refused and never shown.
func TestFeedPages(t *testing.T) {
	gw := startGateway(t, Config{})
	id := newIdentity(t)
	uid := id.UID().String()
	c := feed.Content{Root: bytes.Repeat([]byte{0xab}, 20), ChunkSize: 1024, Length: 5 << 20, Name: "clip.mp4", MIME: "video/mp4"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := feed.Publish(ctx, http.DefaultClient, gw.base, signedPost(t, id, 1, "first <b>clip</b>", c)); err != nil {
		t.Fatal(err)
	}

	res, page := get(t, gw.base+"/u/"+uid, "Accept", "text/html")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/u/<uid>: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	root := hex.EncodeToString(c.Root)
	for _, want := range []string{
		`<link rel="alternate" type="application/atom+xml"`,
		`href="` + uid + `.atom"`,
		"first &lt;b&gt;clip&lt;/b&gt;", // escaped, never markup
		`href="/` + root + `?`,          // the gateway's link page
		id.UID().Fingerprint(),
		`class="brand"`, // the gateway's layout
	} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("/u/<uid> lacks %q:\n%s", want, page)
		}
	}

	res, body := get(t, gw.base+"/u/"+uid+".atom")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf(".atom: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	var atom struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		Entries []struct {
			Content string `xml:"content"`
			Links   []struct {
				Rel    string `xml:"rel,attr"`
				Href   string `xml:"href,attr"`
				Type   string `xml:"type,attr"`
				Length int64  `xml:"length,attr"`
			} `xml:"link"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal(body, &atom); err != nil {
		t.Fatalf(".atom does not parse: %v\n%s", err, body)
	}
	if len(atom.Entries) != 1 {
		t.Fatalf(".atom: %d entries, want 1", len(atom.Entries))
	}
	enc := 0
	for _, l := range atom.Entries[0].Links {
		if l.Rel == "enclosure" {
			enc++
			if !strings.HasPrefix(l.Href, gw.base+"/"+root+"?") || l.Type != "video/mp4" || l.Length != c.Length {
				t.Errorf("enclosure %+v, want the gateway link of %s", l, root)
			}
		}
	}
	if enc != 1 {
		t.Errorf(".atom: %d enclosures, want 1", enc)
	}

	// A forged post (one byte of the text changed after signing) and a
	// post whose uid was swapped for another key are refused with 400.
	good := signedPost(t, id, 2, "second post", c)
	forged := bytes.Clone(good)
	forged[bytes.Index(forged, []byte("second"))] = 'S'
	other := newIdentity(t).UID()
	swapped := bytes.Clone(good)
	copy(swapped[1:33], other[:])
	for name, raw := range map[string][]byte{"forged text": forged, "other uid": swapped} {
		res, body := pushBatch(t, gw.base, feed.AppendBatch(nil, raw))
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s %s, want 400", name, res.Status, body)
		}
	}
	res, body = pushBatch(t, gw.base, make([]byte, 2<<20))
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB push: %s %s, want 413", res.Status, body)
	}
	res, body = pushBatch(t, gw.base, []byte{0xff, 0xff, 1, 2, 3})
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("truncated batch: %s %s, want 400", res.Status, body)
	}

	var d feed.PageData
	res, body = get(t, gw.base+"/u/"+uid+".json")
	if err := json.Unmarshal(body, &d); err != nil || res.StatusCode != 200 {
		t.Fatalf(".json: %s %v %s", res.Status, err, body)
	}
	if d.Head != 1 || len(d.Posts) != 1 || d.Posts[0].Text != "first <b>clip</b>" {
		t.Errorf("after forgeries: head %d, posts %+v; want only post 1", d.Head, d.Posts)
	}
	_, page = get(t, gw.base+"/u/"+uid, "Accept", "text/html")
	if bytes.Contains(page, []byte("Second post")) || bytes.Contains(page, []byte("second post")) {
		t.Errorf("a refused post is shown")
	}
	if _, body = get(t, gw.base+"/u/"+other.String()+".json"); bytes.Contains(body, []byte("second")) {
		t.Errorf("the swapped-uid post is stored under %s: %s", other.Fingerprint(), body)
	}

	// The real post 2 is taken; a bad uid is a 404 page.
	if err := feed.Publish(ctx, http.DefaultClient, gw.base, good); err != nil {
		t.Fatal(err)
	}
	if _, body = get(t, gw.base+"/u/"+uid+".json"); !bytes.Contains(body, []byte(`"head":2`)) {
		t.Errorf("post 2 not held: %s", body)
	}
	if res, _ := get(t, gw.base+"/u/not-a-uid", "Accept", "text/html"); res.StatusCode != http.StatusNotFound {
		t.Errorf("/u/not-a-uid: %s, want 404", res.Status)
	}
}

// TestFeedBoost: a post of a hosted uid makes the embedded booster fetch
// the content it links (from a real UDP seeder); a post of another uid
// is shown but its content is not fetched.
func TestFeedBoost(t *testing.T) {
	data := randomContent(300<<10, 3)
	s := startSeeder(t, data, false)
	stranger := startSeeder(t, randomContent(100<<10, 4), false)
	host, other := newIdentity(t), newIdentity(t)
	gw := startGateway(t, Config{Peers: []string{s.addr, stranger.addr}, FeedHosted: []feed.UID{host.UID()}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := feed.Publish(ctx, http.DefaultClient, gw.base, signedPost(t, other, 1, "not hosted",
		feed.Content{Root: stranger.root, ChunkSize: 1024, Length: 100 << 10, Name: "b.bin"})); err != nil {
		t.Fatal(err)
	}
	if err := feed.Publish(ctx, http.DefaultClient, gw.base, signedPost(t, host, 1, "hosted",
		feed.Content{Root: s.root, ChunkSize: 1024, Length: int64(len(data)), Name: "a.bin"})); err != nil {
		t.Fatal(err)
	}
	for {
		var st status
		_, body := get(t, gw.base+"/api/swarm/"+hex.EncodeToString(s.root))
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
		if st.Joined && st.Total > 0 && st.Have == st.Total {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the hosted uid's content was not fetched: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if gw.lookup(stranger.root) != nil {
		t.Errorf("a post of a uid neither hosted nor followed made the gateway join its swarm")
	}
}

// TestFeedFollow: a gateway that follows a uid through another gateway
// (its feed peer) pulls the uid's post from there and fetches the content
// it links.
func TestFeedFollow(t *testing.T) {
	data := randomContent(200<<10, 5)
	s := startSeeder(t, data, false)
	pub := newIdentity(t)
	home := startGateway(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := feed.Publish(ctx, http.DefaultClient, home.base, signedPost(t, pub, 1, "on the home gateway",
		feed.Content{Root: s.root, ChunkSize: 1024, Length: int64(len(data)), Name: "c.bin"})); err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, Config{Peers: []string{s.addr}, FeedPeers: []string{home.base}, FeedFollows: []feed.UID{pub.UID()}})
	for {
		var st status
		_, body := get(t, gw.base+"/api/swarm/"+hex.EncodeToString(s.root))
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
		if st.Joined && st.Total > 0 && st.Have == st.Total {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the followed uid's content was not fetched: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var d feed.PageData
	_, body := get(t, gw.base+"/u/"+pub.UID().String()+".json")
	if err := json.Unmarshal(body, &d); err != nil || len(d.Posts) != 1 || d.Posts[0].Text != "on the home gateway" {
		t.Errorf("the follower's copy of the feed: %v %s", err, body)
	}
	// The follow request reached the home gateway: it pushes new posts.
	if err := feed.Publish(ctx, http.DefaultClient, home.base, signedPost(t, pub, 2, "pushed")); err != nil {
		t.Fatal(err)
	}
	for {
		if _, body := get(t, gw.base+"/u/"+pub.UID().String()+".json"); bytes.Contains(body, []byte(`"head":2`)) {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("post 2 was not pushed to the follower")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFeedRateLimit: one address gets FeedPushRate writes a second and a
// burst of ten times that, then 429 (its posts never read).
func TestFeedRateLimit(t *testing.T) {
	gw := startGateway(t, Config{FeedPushRate: 1})
	codes := map[int]int{}
	for range 20 {
		res, _ := pushBatch(t, gw.base, []byte{0, 1, 0})
		codes[res.StatusCode]++
	}
	if codes[http.StatusTooManyRequests] < 5 || codes[http.StatusBadRequest] < 10 {
		t.Errorf("20 pushes at once, 1/s with bursts of 10: statuses %v, want 10 or 11 400s then 429s", codes)
	}
}
