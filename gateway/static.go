package gateway

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
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

// newAssets compresses the embedded assets once per process, or takes the
// forms ui/precompress.go wrote beside a file at build time (the wasm
// client: brotli's best level takes about 20 s on it) when its .sha256
// matches. Files over bigAsset without them use brotli level 6, which is
// within 15% of the best.
func newAssets() *assets {
	assetsOnce.Do(func() { assetSet = compressAssets(ui.Static(), ui.Version()) })
	return assetSet
}

const bigAsset = 1 << 20

// precompressed are the suffixes of ui/precompress.go's outputs: they are
// forms of another asset, not assets of their own.
var precompressed = []string{".gz", ".br", ".sha256"}

func compressAssets(fsys fs.FS, version string) *assets {
	a := &assets{version: version, files: map[string]*asset{}}
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, ext := range precompressed {
			if base, ok := strings.CutSuffix(p, ext); ok {
				if _, err := fs.Stat(fsys, base); err == nil {
					return nil
				}
			}
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		f := &asset{typ: mime.TypeByExtension(path.Ext(p)), raw: b}
		if f.typ == "" {
			f.typ = http.DetectContentType(b)
		}
		if !f.loadPrecompressed(fsys, p) {
			f.compress()
		}
		a.files[p] = f
		return nil
	})
	return a
}

// loadPrecompressed takes p.gz and p.br if p.sha256 is the SHA-256 of
// the raw file.
func (f *asset) loadPrecompressed(fsys fs.FS, p string) bool {
	want, err := fs.ReadFile(fsys, p+".sha256")
	if err != nil {
		return false
	}
	sum := sha256.Sum256(f.raw)
	if strings.TrimSpace(string(want)) != hex.EncodeToString(sum[:]) {
		return false
	}
	gz, err1 := fs.ReadFile(fsys, p+".gz")
	br, err2 := fs.ReadFile(fsys, p+".br")
	if err1 != nil || err2 != nil {
		return false
	}
	if len(gz) < len(f.raw) {
		f.gzip = gz
	}
	if len(br) < len(f.raw) {
		f.brotl = br
	}
	return true
}

// compress makes the gzip and brotli forms, each kept only if smaller.
func (f *asset) compress() {
	b := f.raw
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
