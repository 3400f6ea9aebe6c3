// Package link parses and formats swarmgate content links: the ppsp.me-style
// gateway link https://host/<swarm-id-hex>?cs=&cl=, ppsp://[host:port/]<id>,
// libswift's tswift://host:port/<id>[$cs][@dur] and ?k=v keys, and a bare
// hex swarm ID. Query keys follow libswift's URL keys (cs chunk size, cl
// content length, hf Merkle hash function, mt MIME type) plus n (name).
package link

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Link names content in a swarm and, optionally, where to find it.
type Link struct {
	Root      []byte // swarm ID: the Merkle root hash
	HashFunc  uint8  // RFC 7574 Merkle hash function code (0 SHA-1)
	ChunkSize uint32 // bytes; 1024 unless the link says otherwise
	Length    int64  // content length, -1 when the link does not say
	Name      string
	MIME      string
	Peer      string // host:port of a peer (tswift://, ppsp://host:port/)
	Gateway   string // host[:port] of the gateway (https:// links)
}

// ErrBadLink wraps every parse error.
var ErrBadLink = errors.New("link: malformed")

const maxLen = 4096

// hashFuncForLen maps a root's byte length to a default hash function.
var hashFuncForLen = map[int]uint8{20: 0, 28: 1, 32: 2, 48: 3, 64: 4}

// Parse parses a link or a bare hex swarm ID.
func Parse(s string) (Link, error) {
	l := Link{ChunkSize: 1024, Length: -1}
	if len(s) > maxLen {
		return l, fmt.Errorf("%w: longer than %d bytes", ErrBadLink, maxLen)
	}
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		return l, l.setRoot(s)
	}
	scheme, rest, _ := strings.Cut(s, "://")
	switch strings.ToLower(scheme) {
	case "https", "http", "ppsp", "tswift":
	default:
		return l, fmt.Errorf("%w: unknown scheme %q (want https, ppsp or tswift)", ErrBadLink, scheme)
	}
	// tswift's old suffixes: <root>$<cs>@<duration>, before any query.
	var oldCS string
	if strings.EqualFold(scheme, "tswift") {
		path, q, hasQ := strings.Cut(rest, "?")
		if i := strings.IndexByte(path, '@'); i >= 0 {
			path = path[:i]
		}
		if i := strings.IndexByte(path, '$'); i >= 0 {
			oldCS = path[i+1:]
			path = path[:i]
		}
		rest = path
		if hasQ {
			rest += "?" + q
		}
	}
	u, err := url.Parse(strings.ToLower(scheme) + "://" + rest)
	if err != nil {
		return l, fmt.Errorf("%w: %v", ErrBadLink, err)
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch strings.ToLower(scheme) {
	case "https", "http":
		if u.Host == "" {
			return l, fmt.Errorf("%w: no host", ErrBadLink)
		}
		l.Gateway = u.Host
		if err := l.setRoot(segs[len(segs)-1]); err != nil {
			return l, err
		}
	case "ppsp":
		if u.Path == "" || u.Path == "/" {
			// ppsp://<root>
			if err := l.setRoot(u.Host); err != nil {
				return l, err
			}
		} else {
			if err := l.setPeer(u.Host); err != nil {
				return l, err
			}
			if err := l.setRoot(segs[0]); err != nil {
				return l, err
			}
		}
	case "tswift":
		if u.Host != "" {
			if err := l.setPeer(u.Host); err != nil {
				return l, err
			}
		}
		if err := l.setRoot(segs[0]); err != nil {
			return l, err
		}
		if len(segs) > 1 {
			l.Name = segs[1]
		}
	}
	if oldCS != "" {
		if err := l.setChunkSize(oldCS); err != nil {
			return l, err
		}
	}
	q := u.Query()
	if v := q.Get("hf"); v != "" {
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil || n > 4 {
			return l, fmt.Errorf("%w: hf=%q", ErrBadLink, v)
		}
		l.HashFunc = uint8(n)
		if want := hashSize(l.HashFunc); want != len(l.Root) {
			return l, fmt.Errorf("%w: hf=%d needs a %d-byte root, got %d", ErrBadLink, n, want, len(l.Root))
		}
	}
	if v := q.Get("cs"); v != "" {
		if err := l.setChunkSize(v); err != nil {
			return l, err
		}
	}
	if v := q.Get("cl"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n > 1<<50 {
			return l, fmt.Errorf("%w: cl=%q", ErrBadLink, v)
		}
		l.Length = n
	}
	l.MIME = q.Get("mt")
	if v := q.Get("n"); v != "" {
		l.Name = v
	}
	if len(l.Name) > 255 || strings.ContainsAny(l.Name, "/\\\x00") {
		return l, fmt.Errorf("%w: bad name", ErrBadLink)
	}
	return l, nil
}

func hashSize(hf uint8) int {
	for n, h := range hashFuncForLen {
		if h == hf {
			return n
		}
	}
	return 0
}

func (l *Link) setRoot(s string) error {
	b, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%w: swarm ID %q is not hex", ErrBadLink, s)
	}
	hf, ok := hashFuncForLen[len(b)]
	if !ok {
		return fmt.Errorf("%w: swarm ID of %d bytes (want 20 for SHA-1, or 28/32/48/64)", ErrBadLink, len(b))
	}
	l.Root, l.HashFunc = b, hf
	return nil
}

func (l *Link) setPeer(hostport string) error {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil || h == "" {
		return fmt.Errorf("%w: peer %q is not host:port", ErrBadLink, hostport)
	}
	if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("%w: port %q", ErrBadLink, p)
	}
	l.Peer = hostport
	return nil
}

func (l *Link) setChunkSize(v string) error {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < 1024 || n > 1<<20 || n&(n-1) != 0 {
		return fmt.Errorf("%w: chunk size %q (a power of two from 1024 to 1048576)", ErrBadLink, v)
	}
	l.ChunkSize = uint32(n)
	return nil
}

// query returns the link's keys.
func (l Link) query() string {
	q := url.Values{}
	if l.ChunkSize != 0 && l.ChunkSize != 1024 {
		q.Set("cs", strconv.FormatUint(uint64(l.ChunkSize), 10))
	}
	if l.Length > 0 {
		q.Set("cl", strconv.FormatInt(l.Length, 10))
	}
	if l.HashFunc != 0 {
		q.Set("hf", strconv.Itoa(int(l.HashFunc)))
	}
	if l.MIME != "" {
		q.Set("mt", l.MIME)
	}
	if l.Name != "" {
		q.Set("n", l.Name)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// HTTPS formats the gateway link https://gateway/<id>?...
func (l Link) HTTPS(gateway string) string {
	return "https://" + gateway + "/" + hex.EncodeToString(l.Root) + l.query()
}

// TSwift formats tswift://peer/<id>?... (libswift's devel parser keys).
func (l Link) TSwift(peer string) string {
	return "tswift://" + peer + "/" + hex.EncodeToString(l.Root) + l.query()
}

// PPSP formats ppsp://<id>.
func (l Link) PPSP() string { return "ppsp://" + hex.EncodeToString(l.Root) + l.query() }

// Path formats the gateway-relative link /<id>?... (the link page).
func (l Link) Path() string { return "/" + hex.EncodeToString(l.Root) + l.query() }
