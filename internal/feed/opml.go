//go:build !js

package feed

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// OPML 2.0 (opml.org/spec2) import and export of follows: each follow is an
// outline with the uid, its nodes and its Atom URL, so any feed reader can
// subscribe to the same list.

type opmlDoc struct {
	XMLName xml.Name `xml:"opml"`
	Version string   `xml:"version,attr"`
	Title   string   `xml:"head>title"`
	Body    []opmlOutline
}

type opmlOutline struct {
	XMLName  xml.Name      `xml:"outline"`
	Text     string        `xml:"text,attr"`
	Type     string        `xml:"type,attr,omitempty"`
	XMLURL   string        `xml:"xmlUrl,attr,omitempty"`
	UID      string        `xml:"uid,attr,omitempty"`
	Nodes    string        `xml:"nodes,attr,omitempty"` // space-separated base URLs
	Children []opmlOutline `xml:"outline"`
}

// WriteOPML writes follows as OPML; each outline's xmlUrl is the feed's
// Atom on its first node.
func WriteOPML(w io.Writer, title string, follows []Follow) error {
	d := opmlDoc{Version: "2.0", Title: title}
	for _, f := range follows {
		o := opmlOutline{Text: f.Name, Type: "rss", UID: f.UID.String(), Nodes: strings.Join(f.Nodes, " ")}
		if o.Text == "" {
			o.Text = f.UID.Fingerprint()
		}
		if len(f.Nodes) > 0 {
			o.XMLURL = f.Nodes[0] + "/u/" + f.UID.String() + ".atom"
		}
		d.Body = append(d.Body, o)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", " ")
	type doc struct {
		XMLName xml.Name      `xml:"opml"`
		Version string        `xml:"version,attr"`
		Title   string        `xml:"head>title"`
		Out     []opmlOutline `xml:"body>outline"`
	}
	if err := enc.Encode(doc{Version: d.Version, Title: d.Title, Out: d.Body}); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// OPML import limits.
const (
	MaxOPMLBytes    = 1 << 20
	MaxOPMLOutlines = 10000
)

// ErrBadOPML is wrapped by OPML import errors.
var ErrBadOPML = errors.New("feed: bad OPML")

// ParseOPML reads follows from OPML: outlines with a uid attribute, or
// whose xmlUrl is a swarmgate feed (…/u/<uid>.atom, whose base becomes a
// node). Other outlines are skipped; nested outlines are searched.
func ParseOPML(b []byte) ([]Follow, error) {
	if len(b) > MaxOPMLBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadOPML, len(b), MaxOPMLBytes)
	}
	type doc struct {
		XMLName xml.Name      `xml:"opml"`
		Out     []opmlOutline `xml:"body>outline"`
	}
	var d doc
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadOPML, err)
	}
	var out []Follow
	seen := map[UID]bool{}
	count := 0
	var walk func(os []opmlOutline, depth int) error
	walk = func(os []opmlOutline, depth int) error {
		if depth > 8 {
			return fmt.Errorf("%w: outlines nested deeper than 8", ErrBadOPML)
		}
		for _, o := range os {
			if count++; count > MaxOPMLOutlines {
				return fmt.Errorf("%w: more than %d outlines", ErrBadOPML, MaxOPMLOutlines)
			}
			if f, ok := outlineFollow(o); ok && !seen[f.UID] {
				seen[f.UID] = true
				out = append(out, f)
			}
			if err := walk(o.Children, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(d.Out, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func outlineFollow(o opmlOutline) (Follow, bool) {
	f := Follow{Name: o.Text}
	if len(f.Name) > MaxNameBytes {
		f.Name = f.Name[:MaxNameBytes]
	}
	var atomNode string
	uidText := o.UID
	if i := strings.LastIndex(o.XMLURL, "/u/"); i >= 0 && strings.HasSuffix(o.XMLURL, ".atom") {
		atomNode = o.XMLURL[:i]
		if uidText == "" {
			uidText = strings.TrimSuffix(o.XMLURL[i+3:], ".atom")
		}
	}
	u, err := ParseUID(uidText)
	if err != nil {
		return f, false
	}
	f.UID = u
	for _, n := range strings.Fields(o.Nodes) {
		if checkNodeURL(n) == nil && len(f.Nodes) < MaxHeadNodes {
			f.Nodes = append(f.Nodes, strings.TrimRight(n, "/"))
		}
	}
	if atomNode != "" && checkNodeURL(atomNode) == nil && len(f.Nodes) == 0 {
		f.Nodes = append(f.Nodes, atomNode)
	}
	return f, true
}
