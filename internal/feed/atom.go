//go:build !js

package feed

import (
	"encoding/xml"
	"io"
	"time"
)

// Atom export (RFC 4287), hand-rolled with encoding/xml: a handful of
// elements, no dependency, and it builds for js/wasm. Each post is an
// entry; its content links are enclosures (RFC 4287 §4.2.7.2).

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  atomAuthor  `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomAuthor struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

type atomLink struct {
	Rel    string `xml:"rel,attr,omitempty"`
	Href   string `xml:"href,attr"`
	Type   string `xml:"type,attr,omitempty"`
	Length int64  `xml:"length,attr,omitempty"`
	Title  string `xml:"title,attr,omitempty"`
}

type atomEntry struct {
	ID        string     `xml:"id"`
	Title     string     `xml:"title"`
	Updated   string     `xml:"updated"`
	Published string     `xml:"published"`
	Content   atomText   `xml:"content"`
	Links     []atomLink `xml:"link"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

// postURN is a post's permanent Atom id.
func postURN(uid string, seq uint64) string { return "urn:swarmgate:post:" + uid + ":" + itoa(seq) }

// WriteAtom writes d as an Atom feed; self is the feed's own URL.
func WriteAtom(w io.Writer, d PageData, self string) error {
	f := atomFeed{
		ID:     "urn:swarmgate:feed:" + d.UID,
		Title:  "swarmgate feed " + d.Fingerprint,
		Author: atomAuthor{Name: d.Fingerprint, URI: "urn:swarmgate:uid:" + d.UID},
		Links:  []atomLink{{Rel: "self", Href: self, Type: "application/atom+xml"}},
	}
	updated := time.Unix(0, 0).UTC()
	for _, p := range d.Posts {
		if p.Time.After(updated) {
			updated = p.Time
		}
		title := p.Text
		if title == "" {
			title = p.Kind + " " + itoa(p.Seq)
		}
		e := atomEntry{ID: postURN(d.UID, p.Seq), Title: title, Updated: p.Time.Format(time.RFC3339Nano),
			Published: p.Time.Format(time.RFC3339Nano), Content: atomText{Type: "text", Body: p.Text}}
		if p.Ref != "" {
			rel := "related"
			if p.Kind == "reply" {
				rel = "replies"
			}
			e.Links = append(e.Links, atomLink{Rel: rel, Href: "urn:swarmgate:post:" + p.Ref})
		}
		for _, l := range p.Links {
			e.Links = append(e.Links, atomLink{Rel: "enclosure", Href: l.URL, Type: l.MIME, Length: l.Length, Title: l.Name})
		}
		f.Entries = append(f.Entries, e)
	}
	f.Updated = updated.Format(time.RFC3339Nano)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", " ")
	return enc.Encode(f)
}
