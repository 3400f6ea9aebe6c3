package gateway

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/a-h/templ"

	"github.com/swarmgate/swarmgate/internal/dhtnet"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/stream"
	"github.com/swarmgate/swarmgate/ui"
)

func dhtConfig(cfg Config) dhtnet.Config {
	return dhtnet.Config{DBPath: filepath.Join(cfg.DataDir, "dht.db")}
}

// render writes a templ component as an HTML page.
func render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; media-src 'self' blob:; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		c.Render(r.Context(), w)
	}
}

// fail answers with an error page (HTML) or, for API and raw requests, a
// plain-text message.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	g.metrics.httpErrors.WithLabelValues(http.StatusText(status)).Inc()
	if strings.HasPrefix(r.URL.Path, "/raw/") || strings.HasPrefix(r.URL.Path, "/api/") ||
		!strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		w.Write([]byte(title + ": " + detail + "\n"))
		return
	}
	render(w, r, status, ui.ErrorPage(status, title, detail))
}

// item describes a swarm for the pages: from the joined swarm when there
// is one, else from the store and catalog, else from the link alone.
func (g *Gateway) item(l link.Link) ui.Item {
	meta, _ := g.cat.get(l.Root)
	it := ui.Item{
		Root: rootHex(l.Root), Name: firstNonEmpty(l.Name, meta.Name), MIME: firstNonEmpty(l.MIME, meta.MIME),
		Length: l.Length, ChunkSize: l.ChunkSize,
	}
	if info, err := g.node.Store.Get(l.Root); err == nil {
		it.Name = firstNonEmpty(it.Name, info.Name)
		it.ChunkSize = info.ChunkSize
		if info.Length >= 0 {
			it.Length = info.Length
		}
	}
	if e := g.lookup(l.Root); e != nil {
		it.Have, it.Total = e.s.Progress()
		if n, ok := e.s.Length(); ok {
			it.Length = n
		}
		for _, p := range e.s.Peers() {
			if p.Open {
				it.Peers++
				if p.Seeder {
					it.Seeders++
				}
			}
		}
	}
	if it.MIME == "" {
		it.MIME = contentType("", it.Name)
	}
	pl := l
	pl.Name, pl.MIME, pl.Peer, pl.Gateway = it.Name, it.MIME, "", ""
	if it.Length >= 0 {
		pl.Length = it.Length
	}
	if g.bridge != nil {
		it.Gateway = g.bridge.client.ID()
	}
	it.Page = pl.Path()
	it.Raw = "/raw" + pl.Path()
	it.QR = "/qr" + pl.Path()
	return it
}

// servePage is the link page /<root-hex>: it joins the swarm at once so
// that the gateway is fetching by the time the player asks.
func (g *Gateway) servePage(w http.ResponseWriter, r *http.Request) {
	l, err := parseLink(r, "/")
	if err != nil {
		g.fail(w, r, http.StatusNotFound, "No such page", "A link page is /<root-hash>, the content's Merkle root in hex: "+err.Error())
		return
	}
	if _, err := g.join(l); err != nil {
		g.joinFailed(w, r, err)
		return
	}
	render(w, r, http.StatusOK, ui.WatchPage(g.item(l)))
}

// serveOpen turns the front page's form (any link or a root) into a
// redirect to the link page.
func (g *Gateway) serveOpen(w http.ResponseWriter, r *http.Request) {
	l, err := link.Parse(r.URL.Query().Get("link"))
	if err != nil {
		g.fail(w, r, http.StatusBadRequest, "Not a link", err.Error())
		return
	}
	l.Peer, l.Gateway = "", ""
	http.Redirect(w, r, l.Path(), http.StatusSeeOther)
}

func (g *Gateway) serveHome(w http.ResponseWriter, r *http.Request) {
	rows, err := g.cat.recent(20)
	if err != nil {
		g.log.Warn("catalog", "err", err)
	}
	h := ui.Home{Host: r.Host}
	for _, m := range rows {
		l := link.Link{Root: m.Root, ChunkSize: 1024, Length: -1, Name: m.Name, MIME: m.MIME}
		if info, err := g.node.Store.Get(m.Root); err == nil {
			l = link.Link{Root: m.Root, HashFunc: info.HashFunc, ChunkSize: info.ChunkSize, Length: info.Length, Name: m.Name, MIME: m.MIME}
		} else {
			continue // evicted
		}
		h.Recent = append(h.Recent, g.item(l))
	}
	g.mu.Lock()
	h.Swarms = len(g.swarms)
	g.mu.Unlock()
	render(w, r, http.StatusOK, ui.HomePage(h))
}

// servePublish is /publish: the page hashes and uploads in the browser;
// the gateway's part is its signaling and embedded booster.
func (g *Gateway) servePublish(w http.ResponseWriter, r *http.Request) {
	render(w, r, http.StatusOK, ui.PublishPage())
}

// status is the JSON the link page polls.
type status struct {
	Root     string      `json:"root"`
	Joined   bool        `json:"joined"`
	Length   int64       `json:"length"`
	Have     uint64      `json:"have"`
	Total    uint64      `json:"total"`
	Peers    int         `json:"peers"`
	Seeders  int         `json:"seeders"`
	Verified [][2]uint64 `json:"verified"` // end-inclusive chunk ranges, at most 256 (coarsened)
}

// serveStatus reports a swarm's progress; it never joins one.
func (g *Gateway) serveStatus(w http.ResponseWriter, r *http.Request) {
	l, err := parseLink(r, "/api/swarm/")
	if err != nil {
		g.fail(w, r, http.StatusBadRequest, "Not a content link", err.Error())
		return
	}
	it := g.item(l)
	st := status{Root: it.Root, Length: it.Length, Have: it.Have, Total: it.Total, Peers: it.Peers, Seeders: it.Seeders}
	if e := g.lookup(l.Root); e != nil {
		st.Joined = true
		st.Verified = stream.Coarsen(e.sw.Verified(), st.Total, 256)
	} else if info, err := g.node.Store.Get(l.Root); err == nil {
		if sw, err := g.node.Store.Open(info); err == nil {
			st.Have, st.Total = sw.NumVerified(), uint64(max(info.NumChunks(), 0))
			st.Verified = stream.Coarsen(sw.Verified(), st.Total, 256)
			sw.Close()
		}
	}
	if st.Verified == nil {
		st.Verified = [][2]uint64{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(st)
}
