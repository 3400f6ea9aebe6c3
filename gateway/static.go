package gateway

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
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

func newAssets() *assets {
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
		bw := brotli.NewWriterLevel(&br, brotli.BestCompression)
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
