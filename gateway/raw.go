package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"time"

	"github.com/swarmgate/swarmgate/internal/store"
)

// errStalled means a chunk did not verify within the fetch timeout.
var errStalled = errors.New("gateway: no peer delivered the content in time")

// waitLength waits until the swarm's length is proved (the peak hashes
// verified) and returns it.
func (g *Gateway) waitLength(ctx context.Context, e *entry) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.FetchTimeout)
	defer cancel()
	for {
		ch := e.sw.changed()
		if n, ok := e.s.Length(); ok {
			return n, nil
		}
		select {
		case <-ch:
		case <-e.s.Done():
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return 0, errStalled
			}
			return 0, ctx.Err()
		}
	}
}

// contentReader reads a swarm's verified content as an io.ReadSeeker:
// each Read waits for its chunk to verify, moving the swarm's playhead to
// it first, and only bytes of verified chunks (store.Swarm.ReadChunk
// refuses others) ever reach the caller.
type contentReader struct {
	ctx     context.Context
	e       *entry
	timeout time.Duration
	size    int64
	cs      int64
	off     int64
	buf     []byte
	bufIdx  int64 // chunk in buf, -1 none
	bufLen  int
	onRead  func(n int)
}

func newContentReader(ctx context.Context, e *entry, size int64, timeout time.Duration) *contentReader {
	cs := int64(e.info().ChunkSize)
	return &contentReader{ctx: ctx, e: e, timeout: timeout, size: size, cs: cs, buf: make([]byte, cs), bufIdx: -1}
}

func (r *contentReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.off
	case io.SeekEnd:
		off += r.size
	default:
		return 0, errors.New("seek: bad whence")
	}
	if off < 0 {
		return 0, errors.New("seek: negative offset")
	}
	r.off = off
	if off < r.size {
		r.e.s.SetPlayhead(uint64(off / r.cs))
	}
	return off, nil
}

func (r *contentReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.off < r.size {
		c := r.off / r.cs
		if c != r.bufIdx {
			if err := r.load(c, n == 0); err != nil {
				if n > 0 && errors.Is(err, errNotYet) {
					break // hand over what is verified; the next Read waits
				}
				return n, err
			}
		}
		k := copy(p[n:], r.buf[r.off-c*r.cs:r.bufLen])
		n += k
		r.off += int64(k)
	}
	if n == 0 && r.off >= r.size {
		return 0, io.EOF
	}
	if r.onRead != nil {
		r.onRead(n)
	}
	return n, nil
}

var errNotYet = errors.New("chunk not verified yet")

// load reads chunk c into buf, waiting for it when wait is set.
func (r *contentReader) load(c int64, wait bool) error {
	sw := r.e.sw
	var deadline <-chan time.Time
	for {
		ch := sw.changed()
		if sw.Have(uint64(c)) {
			break
		}
		if !wait {
			return errNotYet
		}
		r.e.s.SetPlayhead(uint64(c))
		if deadline == nil {
			t := time.NewTimer(r.timeout)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-ch:
		case <-deadline:
			return fmt.Errorf("%w (chunk %d)", errStalled, c)
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
	}
	k, err := sw.ReadChunk(uint64(c), r.buf)
	if err != nil {
		return err
	}
	r.bufIdx, r.bufLen = c, k
	return nil
}

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
	size, err := g.waitLength(r.Context(), e)
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
	cr := newContentReader(r.Context(), e, size, g.cfg.FetchTimeout)
	cr.onRead = func(n int) { g.metrics.rawBytes.Add(float64(n)) }
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
