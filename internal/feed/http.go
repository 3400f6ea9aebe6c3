//go:build !js

package feed

import (
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"strings"
)

// Routes are the node's HTTP endpoints (docs/feed.md):
//
//	POST /feed/v1/posts         push: a batch of posts (Litter Alg. 1)
//	POST /feed/v1/pull          a PullRequest (JSON) → a batch (Alg. 2, §3.4)
//	POST /feed/v1/follow        a signed follow request
//	GET  /feed/v1/head/{uid}    {"uid","seq","flagged"}
//	GET  /feed/v1/follows.opml  this node's follows as OPML
//	GET  /u/{uid}               the feed as a page (…/u/{uid}.json: its data)
//	GET  /u/{uid}.atom          the feed as Atom, links as enclosures
var Routes = []string{
	"POST /feed/v1/posts", "POST /feed/v1/pull", "POST /feed/v1/follow",
	"GET /feed/v1/head/{uid}", "GET /feed/v1/follows.opml", "GET /u/{uid}",
}

// Mount registers the node's routes on mux (Go 1.22 patterns).
func (n *Node) Mount(mux *http.ServeMux) {
	h := n.Handler()
	for _, r := range Routes {
		mux.Handle(r, h)
	}
}

// Handler serves the node's routes.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /feed/v1/posts", n.servePush)
	mux.HandleFunc("POST /feed/v1/pull", n.servePull)
	mux.HandleFunc("POST /feed/v1/follow", n.serveFollow)
	mux.HandleFunc("GET /feed/v1/head/{uid}", n.serveHead)
	mux.HandleFunc("GET /feed/v1/follows.opml", n.serveOPML)
	mux.HandleFunc("GET /u/{uid}", n.serveUser)
	return mux
}

// readBody reads at most max bytes or fails.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		}
		return nil, false
	}
	return b, true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// servePush takes a batch: each post is checked on its own; the answer
// says how many were new and why others were refused.
func (n *Node) servePush(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r, n.cfg.MaxBody)
	if !ok {
		return
	}
	raws, err := ParseBatch(b, n.cfg.MaxPullPosts)
	if err != nil && len(raws) == 0 {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var ans pushAnswer
	if err != nil {
		ans.Errors = append(ans.Errors, err.Error())
	}
	taken := 0 // new or already held
	var first error
	for _, raw := range raws {
		added, err := n.Receive(raw, "")
		if err != nil {
			if len(ans.Errors) < 16 {
				ans.Errors = append(ans.Errors, err.Error())
			}
			if first == nil {
				first = err
			}
			continue
		}
		taken++
		if added {
			ans.New++
		}
	}
	if taken == 0 && first != nil {
		// Nothing in the batch was taken: say so in the status too.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(pushStatus(first))
		json.NewEncoder(w).Encode(ans)
		return
	}
	writeJSON(w, ans)
}

// pushStatus is the status of a push whose every post was refused, by
// the first refusal: 403 for a uid not taken here, 409 for equivocation,
// 400 for a post that does not decode or verify, 500 for a store error.
func pushStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotAccepted):
		return http.StatusForbidden
	case errors.Is(err, ErrEquivocation):
		return http.StatusConflict
	case errors.Is(err, ErrBadPost):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func (n *Node) servePull(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r, MaxPullBytes)
	if !ok {
		return
	}
	req, err := ParsePullRequest(b)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := n.Answer(req)
	if err != nil {
		n.log.Warn("pull answer", "err", err)
		http.Error(w, "store error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", BatchType)
	w.Write(out)
}

func (n *Node) serveFollow(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r, MaxFollowBytes)
	if !ok {
		return
	}
	if err := n.ReceiveFollow(b); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, ErrFollowRefused) {
			code = http.StatusForbidden
		}
		http.Error(w, err.Error(), code)
		return
	}
	writeJSON(w, struct {
		OK bool `json:"ok"`
	}{true})
}

func (n *Node) serveHead(w http.ResponseWriter, r *http.Request) {
	uid, err := ParseUID(r.PathValue("uid"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h, err := n.st.Head(uid)
	if err != nil {
		http.Error(w, "store error", http.StatusInternalServerError)
		return
	}
	reason, _, _ := n.st.Flagged(uid)
	writeJSON(w, struct {
		UID     UID    `json:"uid"`
		Seq     uint64 `json:"seq"`
		Flagged string `json:"flagged,omitempty"`
	}{uid, h, reason})
}

func (n *Node) serveOPML(w http.ResponseWriter, r *http.Request) {
	fs, err := n.st.Follows()
	if err != nil {
		http.Error(w, "store error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/x-opml; charset=utf-8")
	WriteOPML(w, "swarmgate follows", fs)
}

// pageLimit is how many posts a page and an Atom feed show.
const pageLimit = 50

func (n *Node) serveUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("uid")
	kind := ""
	for _, ext := range []string{".atom", ".json"} {
		if strings.HasSuffix(name, ext) {
			name, kind = strings.TrimSuffix(name, ext), ext
		}
	}
	uid, err := ParseUID(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	d, err := n.Page(uid, pageLimit)
	if err != nil {
		http.Error(w, "store error", http.StatusInternalServerError)
		return
	}
	switch kind {
	case ".atom":
		w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
		self := n.cfg.URL + "/u/" + d.UID + ".atom"
		if n.cfg.LinkBase != "" {
			self = strings.TrimRight(n.cfg.LinkBase, "/") + "/u/" + d.UID + ".atom"
		}
		WriteAtom(w, d, self)
	case ".json":
		writeJSON(w, d)
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		pageTemplate.Execute(w, d)
	}
}

// pageTemplate is the plain page of a feed: readable without JavaScript
// (the gateway's UI may render PageData its own way).
var pageTemplate = template.Must(template.New("feed").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>feed {{.Fingerprint}}</title>
<link rel="alternate" type="application/atom+xml" href="{{.UID}}.atom"></head>
<body><h1>feed {{.Fingerprint}}</h1><p><code>{{.UID}}</code> · {{.Head}} posts · <a href="{{.UID}}.atom">Atom</a></p>
{{if .Flagged}}<p><strong>Warning: this publisher is flagged: {{.Flagged}}.</strong></p>{{end}}
{{range .Posts}}<article><p><small>#{{.Seq}} · {{.Time.Format "2006-01-02 15:04 UTC"}} · {{.Kind}}{{if .Ref}} of {{.RefUser}}{{end}}</small></p>
<p>{{.Text}}</p>{{range .Links}}<p><a href="{{.URL}}">{{if .Name}}{{.Name}}{{else}}{{.Root}}{{end}}</a> {{.MIME}} {{.Length}} bytes</p>{{end}}</article>
{{end}}</body></html>
`))

// Page gathers the page data of uid: its newest limit posts.
func (n *Node) Page(uid UID, limit int) (PageData, error) {
	d := PageData{UID: uid.String(), Fingerprint: uid.Fingerprint(), Posts: []PostView{}}
	var err error
	if d.Head, err = n.st.Head(uid); err != nil {
		return d, err
	}
	if r, ok, err := n.st.Flagged(uid); err != nil {
		return d, err
	} else if ok {
		d.Flagged = r
	}
	raws, err := n.st.Recent(uid, limit)
	if err != nil {
		return d, err
	}
	for _, raw := range raws {
		p, err := ParsePost(raw, Limits{MaxText: maxTextBytes})
		if err != nil {
			continue // never show what does not verify
		}
		d.Posts = append(d.Posts, p.View(n.cfg.LinkBase))
	}
	return d, nil
}
