package gateway

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path/filepath"
	"time"

	"github.com/swarmgate/swarmgate/internal/stream"

	"github.com/swarmgate/swarmgate/internal/store"
)

// errStalled means a chunk did not verify within the fetch timeout.
var errStalled = errors.New("gateway: no peer delivered the content in time")

// contentType is the link's or catalog's type, else one by the name's
// extension, else "" (http.ServeContent then sniffs the first bytes).
func contentType(mt, name string) string {
	if mt != "" {
		return mt
	}
	if ext := filepath.Ext(name); ext != "" {
		return mime.TypeByExtension(ext)
	}
	return ""
}

// serveRaw answers GET and HEAD /raw/<root-hex> with the content, with
// Range support (RFC 9110 §14: 206, multipart/byteranges, 416 past the
// end, If-Range) from net/http's ServeContent over verified chunks.
func (g *Gateway) serveRaw(w http.ResponseWriter, r *http.Request) {
	l, err := parseLink(r, "/raw/")
	if err != nil {
		g.fail(w, r, http.StatusBadRequest, "Not a content link", err.Error())
		return
	}
	e, err := g.join(l)
	if err != nil {
		g.joinFailed(w, r, err)
		return
	}
	release := e.watch()
	defer release()
	size, err := stream.WaitLength(r.Context(), e.sw, e.s, g.cfg.FetchTimeout)
	if err != nil {
		g.fail(w, r, http.StatusGatewayTimeout, "Content not found in the swarm",
			fmt.Sprintf("No peer delivered the size of %s within %v: %v", store.ShortID(l.Root), g.cfg.FetchTimeout, err))
		return
	}
	meta, _ := g.cat.get(l.Root)
	h := w.Header()
	if ct := contentType(firstNonEmpty(l.MIME, meta.MIME), firstNonEmpty(l.Name, meta.Name, e.info().Name)); ct != "" {
		h.Set("Content-Type", ct)
	}
	h.Set("ETag", `"`+rootHex(l.Root)+`"`) // strong: the root names exactly these bytes
	h.Set("Accept-Ranges", "bytes")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	cr := stream.NewReader(r.Context(), e.sw, e.s, size, g.cfg.FetchTimeout)
	cr.OnRead = func(n int) { g.metrics.rawBytes.Add(float64(n)) }
	http.ServeContent(w, r, "", time.Time{}, cr)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
