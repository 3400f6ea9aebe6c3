package feed

import (
	"encoding/hex"
	"strings"
	"time"
)

// PageData is what a feed page (/u/<uid>) shows: the uid, whether it is
// flagged, and its newest posts.
type PageData struct {
	UID         string     `json:"uid"`
	Fingerprint string     `json:"fingerprint"`
	Head        uint64     `json:"head"`
	Flagged     string     `json:"flagged,omitempty"` // why the uid is flagged (equivocation)
	Posts       []PostView `json:"posts"`
}

// PostView is one post as shown.
type PostView struct {
	Seq     uint64     `json:"seq"`
	Time    time.Time  `json:"time"`
	Kind    string     `json:"kind"`
	Ref     string     `json:"ref,omitempty"` // "<uid>/<seq>" for reposts and replies
	Text    string     `json:"text"`
	Links   []LinkView `json:"links,omitempty"`
	Signed  string     `json:"signature"` // hex, for the curious
	RefUser string     `json:"ref_fingerprint,omitempty"`
}

// LinkView is one content link as shown.
type LinkView struct {
	Root   string `json:"root"`
	Name   string `json:"name,omitempty"`
	MIME   string `json:"mime,omitempty"`
	Length int64  `json:"length"`
	URL    string `json:"url"` // gateway link, or ppsp://
}

// ContentURL is c's link on the gateway base (https://host) or ppsp://.
func ContentURL(c Content, base string) string {
	if base == "" {
		return c.Link().PPSP()
	}
	host := strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://")
	u := c.Link().HTTPS(strings.TrimRight(host, "/"))
	if strings.HasPrefix(base, "http://") {
		u = "http://" + strings.TrimPrefix(u, "https://")
	}
	return u
}

// View is p as shown, with links on base.
func (p *Post) View(base string) PostView {
	v := PostView{Seq: p.Seq, Time: p.Time.UTC(), Kind: p.Kind.String(), Text: p.Text, Signed: hex.EncodeToString(p.Sig)}
	if p.Kind != KindPost {
		v.Ref = p.Ref.UID.String() + "/" + itoa(p.Ref.Seq)
		v.RefUser = p.Ref.UID.Fingerprint()
	}
	for _, c := range p.Links {
		v.Links = append(v.Links, LinkView{Root: hex.EncodeToString(c.Root), Name: c.Name, MIME: c.MIME, Length: c.Length, URL: ContentURL(c, base)})
	}
	return v
}
