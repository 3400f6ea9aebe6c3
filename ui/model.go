package ui

import (
	"fmt"
	"strings"

	"github.com/swarmgate/swarmgate/internal/feed"
)

// Item is a piece of content as the pages show it.
type Item struct {
	Root      string // swarm ID, hex
	Name      string // display name (may be empty)
	MIME      string // media type (may be empty)
	Length    int64  // bytes; -1 while unknown
	ChunkSize uint32
	Have      uint64 // verified chunks held by the gateway
	Total     uint64 // chunks; 0 while unknown
	Page      string // the link page, with its query
	Raw       string // the HTTP stream of the content
	QR        string // a QR code (PNG) of the page's absolute link
	Peers     int    // open peer channels of the gateway in this swarm
	Seeders   int    // of which hold a full copy
	// Gateway is the gateway's signaling peer ID ("" without WebRTC): the
	// link page offers it a connection as soon as its socket opens, not
	// after the broker has listed it.
	Gateway string
}

// Title is the name, else the short root.
func (it Item) Title() string {
	if it.Name != "" {
		return it.Name
	}
	return "Content " + it.Root[:min(8, len(it.Root))]
}

// Size is the length in human units.
func (it Item) Size() string {
	if it.Length < 0 {
		return "size not known yet"
	}
	return HumanBytes(it.Length)
}

// Kind is "video", "audio" or "" (not playable in a media element).
func (it Item) Kind() string {
	switch {
	case strings.HasPrefix(it.MIME, "video/"):
		return "video"
	case strings.HasPrefix(it.MIME, "audio/"):
		return "audio"
	}
	return ""
}

// Type is the media type to show.
func (it Item) Type() string {
	if it.MIME == "" {
		return "unknown type"
	}
	return it.MIME
}

// Percent is the share of chunks the gateway holds, 0-100.
func (it Item) Percent() int {
	if it.Total == 0 {
		return 0
	}
	return int(it.Have * 100 / it.Total)
}

// HumanBytes formats n bytes as B, KiB, MiB or GiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}

// Home is what the front page shows.
type Home struct {
	Host   string // the gateway's host, for the self-hosting commands
	Recent []Item
	Swarms int // swarms open on the gateway
}

// refPage is the feed page of a repost's or reply's target ("<uid>/<seq>").
func refPage(ref string) string {
	uid, seq, ok := strings.Cut(ref, "/")
	if !ok {
		return "/u/" + ref
	}
	return "/u/" + uid + "#p" + seq
}

// linkTitle is a content link's name, else its short root.
func linkTitle(l feed.LinkView) string {
	if l.Name != "" {
		return l.Name
	}
	return "Content " + l.Root[:min(8, len(l.Root))]
}

// linkType is " · type" for a link with a MIME type.
func linkType(l feed.LinkView) string {
	if l.MIME == "" {
		return ""
	}
	return " · " + l.MIME
}
