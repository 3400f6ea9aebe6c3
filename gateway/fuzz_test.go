package gateway

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// FuzzRawRange sends arbitrary Range (and If-Range) headers to /raw/ for
// content the gateway holds: the answer is 200, 206, 304 or 416, and every
// byte of a single-range 206 is the content's at the offsets it claims.
func FuzzRawRange(f *testing.F) {
	for _, s := range []string{"bytes=0-99", "bytes=-1", "bytes=100-", "bytes=0-0,5-9", "bytes=abc", "bytes=99999999-",
		"bytes=1-2,3-4,5-6,7-8", "bytes= 10 - 20", "bytes=-0", "items=0-1", "bytes=0-18446744073709551615", ""} {
		f.Add(s, "")
	}
	f.Add("bytes=0-9", `"x"`)
	gw := startGateway(f, Config{})
	l, err := gw.SeedDemo()
	if err != nil {
		f.Fatal(err)
	}
	h := gw.Handler()
	path := "/raw" + l.Path()
	f.Fuzz(func(t *testing.T, rng, ifRange string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if rng != "" {
			req.Header["Range"] = []string{rng}
		}
		if ifRange != "" {
			req.Header["If-Range"] = []string{ifRange}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.Bytes()
		switch rec.Code {
		case 200:
			if !bytes.Equal(body, demoMP4) {
				t.Fatalf("200 with %d bytes that are not the content", len(body))
			}
		case 206:
			cr := rec.Header().Get("Content-Range")
			if cr == "" {
				return // multipart: checked by TestRawRanges
			}
			var start, end, size int64
			if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &start, &end, &size); err != nil {
				t.Fatalf("Content-Range %q: %v", cr, err)
			}
			if size != int64(len(demoMP4)) || start < 0 || end >= size || !bytes.Equal(body, demoMP4[start:end+1]) {
				t.Fatalf("206 %q with %d bytes that are not the content's", cr, len(body))
			}
		case 304, 416:
		default:
			t.Fatalf("Range %q If-Range %q: status %d", rng, ifRange, rec.Code)
		}
		if n := rec.Header().Get("Content-Length"); n != "" && !strings.HasPrefix(rec.Header().Get("Content-Type"), "multipart") {
			if v, _ := strconv.Atoi(n); v != len(body) {
				t.Fatalf("Content-Length %s, body %d", n, len(body))
			}
		}
	})
}
