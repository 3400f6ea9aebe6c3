package gateway

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/swarmgate/swarmgate/ui"
)

// asset is one static file with its precompressed forms.
type asset struct {
	typ              string
	raw, gzip, brotl []byte
}

// assets serves ui's embedded files under /static/<version>/ with
// immutable cache headers, precompressed (gzip and brotli, compressed once
// at start) and chosen by Accept-Encoding.
type assets struct {
	version string
	files   map[string]*asset
}

var (
	assetsOnce sync.Once
	assetSet   *assets
)

// newAssets compresses the embedded assets once per process (the wasm
// client is megabytes: brotli's best level would take half a minute, so
// files over bigAsset use level 6, which is within 15% of it).
func newAssets() *assets {
	assetsOnce.Do(func() { assetSet = compressAssets() })
	return assetSet
}

const bigAsset = 1 << 20

func compressAssets() *assets {
	a := &assets{version: ui.Version(), files: map[string]*asset{}}
	fsys := ui.Static()
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		f := &asset{typ: mime.TypeByExtension(path.Ext(p)), raw: b}
		if f.typ == "" {
			f.typ = http.DetectContentType(b)
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		if gz.Len() < len(b) {
			f.gzip = gz.Bytes()
		}
		var br bytes.Buffer
		level := brotli.BestCompression
		if len(b) > bigAsset {
			level = 6
		}
		bw := brotli.NewWriterLevel(&br, level)
		bw.Write(b)
		bw.Close()
		if br.Len() < len(b) {
			f.brotl = br.Bytes()
		}
		a.files[p] = f
		return nil
	})
	return a
}

// accepts reports whether an Accept-Encoding header allows coding enc
// (q=0 refuses it).
func accepts(header, enc string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), enc) {
			continue
		}
		params = strings.ReplaceAll(params, " ", "")
		return params != "q=0" && params != "q=0.0" && params != "q=0.00" && params != "q=0.000"
	}
	return false
}

func (a *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/static/")
	ver, name, ok := strings.Cut(rest, "/")
	f := a.files[name]
	if !ok || f == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.typ)
	h.Set("Vary", "Accept-Encoding")
	if ver == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache") // an old page asking for a new asset
	}
	body := f.raw
	ae := r.Header.Get("Accept-Encoding")
	switch {
	case f.brotl != nil && accepts(ae, "br"):
		h.Set("Content-Encoding", "br")
		body = f.brotl
	case f.gzip != nil && accepts(ae, "gzip"):
		h.Set("Content-Encoding", "gzip")
		body = f.gzip
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// serveWorker is /sw.js, the Service Worker that plays /stream/<root>
// from the page's swarm client. It lives at the root so that its scope is
// the whole origin, and is revalidated on every load (browsers also check
// it at least daily), so a new version takes over promptly.
func (g *Gateway) serveWorker(w http.ResponseWriter, r *http.Request) {
	f := g.assets.files["sw.js"]
	if f == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Service-Worker-Allowed", "/")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.raw))
}
