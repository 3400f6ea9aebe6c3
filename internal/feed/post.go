package feed

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/swarmgate/swarmgate/internal/link"
)

// Kind says what a post is (Litter §3.1 data, with Bwitter's replies and
// reposts).
type Kind uint8

const (
	// KindPost is an original post.
	KindPost Kind = 0
	// KindRepost re-publishes uid+seq (meta-boosting: every booster that
	// follows the reposter boosts the links it carries).
	KindRepost Kind = 1
	// KindReply answers uid+seq.
	KindReply Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindPost:
		return "post"
	case KindRepost:
		return "repost"
	case KindReply:
		return "reply"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Ref names another post: the target of a repost or a reply.
type Ref struct {
	UID UID
	Seq uint64
}

// Content links a post to content in a swarm (the fields of a link).
type Content struct {
	Root      []byte // Merkle root (swarm ID): 20 bytes SHA-1, 32 SHA-256
	HashFunc  uint8  // RFC 7574 code: 0 SHA-1, 2 SHA-256
	ChunkSize uint32 // power of two, 1 KiB..1 MiB
	Length    int64  // bytes, ≥ 0
	Name      string // ≤ 255 bytes
	MIME      string // ≤ 127 bytes, type/subtype
}

// Link is the content's link.
func (c Content) Link() link.Link {
	return link.Link{Root: c.Root, HashFunc: c.HashFunc, ChunkSize: c.ChunkSize, Length: c.Length, Name: c.Name, MIME: c.MIME}
}

// ContentOf is the content of l (whose length must be known).
func ContentOf(l link.Link) Content {
	return Content{Root: l.Root, HashFunc: l.HashFunc, ChunkSize: l.ChunkSize, Length: l.Length, Name: l.Name, MIME: l.MIME}
}

// Post is one signed message of a uid's feed (Litter §3.1). A Post from
// ParsePost or Sign has a valid signature.
type Post struct {
	UID   UID
	Seq   uint64    // per uid, 1 for the first post, +1 for each next
	Time  time.Time // creation time, millisecond precision
	Kind  Kind
	Ref   Ref // for KindRepost and KindReply; zero for KindPost
	Text  string
	Links []Content
	Sig   []byte // ed25519 over postContext || the encoding up to Sig
}

// ID is the post's (uid, seq).
func (p *Post) ID() Ref { return Ref{UID: p.UID, Seq: p.Seq} }

// Encoding limits. An encoding that exceeds them is never valid, whatever
// a node's Limits say.
const (
	postVersion    = 1
	MaxPostBytes   = 4096 // whole encoded post, signature included
	MaxLinks       = 8
	MaxNameBytes   = 255
	MaxMIMEBytes   = 127
	DefaultMaxText = 140 // characters (runes), Litter's limit
	maxTextBytes   = 2048
	minChunk       = 1 << 10
	maxChunk       = 1 << 20
	maxLength      = 1 << 50
)

// postContext separates post signatures from every other signature a key
// makes (follow requests, BEP 44 items).
const postContext = "swarmgate-feed-post-v1\x00"

// ErrBadPost is wrapped by every post decoding and validation error.
var ErrBadPost = errors.New("feed: bad post")

func badPost(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadPost, fmt.Sprintf(format, a...))
}

// Limits are what a node accepts beyond the encoding's own limits.
type Limits struct {
	// MaxText is the longest text in characters (default 140).
	MaxText int
}

func (l Limits) maxText() int {
	if l.MaxText <= 0 {
		return DefaultMaxText
	}
	return l.MaxText
}

// body appends the signed part of p's encoding (docs/feed.md).
func (p *Post) body(b []byte) ([]byte, error) {
	if err := p.check(Limits{MaxText: maxTextBytes}); err != nil {
		return nil, err
	}
	b = append(b, postVersion)
	b = append(b, p.UID[:]...)
	b = binary.BigEndian.AppendUint64(b, p.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(p.Time.UnixMilli()))
	b = append(b, byte(p.Kind))
	if p.Kind != KindPost {
		b = append(b, p.Ref.UID[:]...)
		b = binary.BigEndian.AppendUint64(b, p.Ref.Seq)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.Text)))
	b = append(b, p.Text...)
	b = append(b, byte(len(p.Links)))
	for _, c := range p.Links {
		b = append(b, c.HashFunc)
		b = append(b, c.Root...)
		b = binary.BigEndian.AppendUint32(b, c.ChunkSize)
		b = binary.BigEndian.AppendUint64(b, uint64(c.Length))
		b = append(b, byte(len(c.Name)))
		b = append(b, c.Name...)
		b = append(b, byte(len(c.MIME)))
		b = append(b, c.MIME...)
	}
	if len(b)+ed25519.SignatureSize > MaxPostBytes {
		return nil, badPost("encoding is %d bytes, limit %d", len(b)+ed25519.SignatureSize, MaxPostBytes)
	}
	return b, nil
}

// check validates the fields (text limit in runes from lim).
func (p *Post) check(lim Limits) error {
	if p.Seq == 0 {
		return badPost("seq 0 (sequence numbers start at 1)")
	}
	if t := p.Time.UnixMilli(); t < 0 || p.Time.IsZero() {
		return badPost("time unset or before 1970")
	}
	switch p.Kind {
	case KindPost:
		if p.Ref != (Ref{}) {
			return badPost("a post has no ref")
		}
	case KindRepost, KindReply:
		if p.Ref.Seq == 0 || p.Ref.UID.IsZero() {
			return badPost("%v without a ref", p.Kind)
		}
		if p.Ref == p.ID() {
			return badPost("%v of itself", p.Kind)
		}
	default:
		return badPost("unknown kind %d", p.Kind)
	}
	if !utf8.ValidString(p.Text) {
		return badPost("text is not UTF-8")
	}
	if len(p.Text) > maxTextBytes {
		return badPost("text is %d bytes, limit %d", len(p.Text), maxTextBytes)
	}
	if n := utf8.RuneCountInString(p.Text); n > lim.maxText() {
		return badPost("text is %d characters, limit %d", n, lim.maxText())
	}
	if strings.ContainsRune(p.Text, 0) {
		return badPost("text contains NUL")
	}
	if len(p.Links) > MaxLinks {
		return badPost("%d links, limit %d", len(p.Links), MaxLinks)
	}
	for i, c := range p.Links {
		if err := c.check(); err != nil {
			return badPost("link %d: %v", i, err)
		}
	}
	return nil
}

func (c Content) check() error {
	switch {
	case c.HashFunc == 0 && len(c.Root) == 20, c.HashFunc == 2 && len(c.Root) == 32:
	default:
		return fmt.Errorf("hash function %d with a %d-byte root", c.HashFunc, len(c.Root))
	}
	if c.ChunkSize < minChunk || c.ChunkSize > maxChunk || c.ChunkSize&(c.ChunkSize-1) != 0 {
		return fmt.Errorf("chunk size %d is not a power of two in 1 KiB..1 MiB", c.ChunkSize)
	}
	if c.Length < 0 || c.Length > maxLength {
		return fmt.Errorf("length %d out of range", c.Length)
	}
	if len(c.Name) > MaxNameBytes || !utf8.ValidString(c.Name) || strings.ContainsAny(c.Name, "\x00/\\") {
		return fmt.Errorf("bad name %q", c.Name)
	}
	if len(c.MIME) > MaxMIMEBytes || !validMIME(c.MIME) {
		return fmt.Errorf("bad MIME type %q", c.MIME)
	}
	return nil
}

// ValidMIME reports whether a content link may carry the media type s:
// "" or type/subtype of RFC 6838 restricted-name characters, at most
// MaxMIMEBytes (no parameters).
func ValidMIME(s string) bool { return len(s) <= MaxMIMEBytes && validMIME(s) }

// validMIME accepts "" or type/subtype of RFC 6838 restricted-name chars.
func validMIME(s string) bool {
	if s == "" {
		return true
	}
	t, sub, ok := strings.Cut(s, "/")
	if !ok || t == "" || sub == "" {
		return false
	}
	for _, r := range t + sub {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$&-^_.+", r)) {
			return false
		}
	}
	return true
}

// Sign fills p.UID and p.Sig with id's and returns the encoding. p.Time is
// truncated to milliseconds.
func (p *Post) Sign(id *Identity) ([]byte, error) {
	p.UID = id.UID()
	p.Time = time.UnixMilli(p.Time.UnixMilli())
	b, err := p.body(append([]byte(nil), postContext...))
	if err != nil {
		return nil, err
	}
	p.Sig = id.Sign(b)
	return append(b[len(postContext):], p.Sig...), nil
}

// Marshal returns the encoding of a signed post.
func (p *Post) Marshal() ([]byte, error) {
	if len(p.Sig) != ed25519.SignatureSize {
		return nil, badPost("not signed")
	}
	b, err := p.body(nil)
	if err != nil {
		return nil, err
	}
	return append(b, p.Sig...), nil
}

// reader is a bounds-checked cursor over a hostile buffer.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = badPost("truncated")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// ParsePost decodes a post and verifies its signature and lim. Only the
// canonical encoding is accepted: re-encoding a parsed post gives b back.
func ParsePost(b []byte, lim Limits) (*Post, error) {
	if len(b) > MaxPostBytes {
		return nil, badPost("%d bytes, limit %d", len(b), MaxPostBytes)
	}
	if len(b) < 1+ed25519.SignatureSize {
		return nil, badPost("truncated")
	}
	body, sig := b[:len(b)-ed25519.SignatureSize], b[len(b)-ed25519.SignatureSize:]
	r := &reader{b: body}
	if v := r.u8(); v != postVersion {
		return nil, badPost("version %d (this node knows %d)", v, postVersion)
	}
	p := &Post{}
	copy(p.UID[:], r.take(32))
	p.Seq = r.u64()
	ms := r.u64()
	if ms > 1<<62 {
		return nil, badPost("time out of range")
	}
	p.Time = time.UnixMilli(int64(ms))
	p.Kind = Kind(r.u8())
	if p.Kind != KindPost {
		copy(p.Ref.UID[:], r.take(32))
		p.Ref.Seq = r.u64()
	}
	p.Text = string(r.take(int(r.u16())))
	n := int(r.u8())
	if r.err == nil && n > MaxLinks {
		return nil, badPost("%d links, limit %d", n, MaxLinks)
	}
	for i := 0; i < n && r.err == nil; i++ {
		var c Content
		c.HashFunc = r.u8()
		rootLen := 20
		if c.HashFunc == 2 {
			rootLen = 32
		}
		c.Root = append([]byte(nil), r.take(rootLen)...)
		c.ChunkSize = r.u32()
		l := r.u64()
		if l > maxLength {
			return nil, badPost("link %d: length out of range", i)
		}
		c.Length = int64(l)
		c.Name = string(r.take(int(r.u8())))
		c.MIME = string(r.take(int(r.u8())))
		p.Links = append(p.Links, c)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, badPost("%d trailing bytes", len(r.b))
	}
	if err := p.check(lim); err != nil {
		return nil, err
	}
	msg := append([]byte(postContext), body...)
	if !ed25519.Verify(ed25519.PublicKey(p.UID[:]), msg, sig) {
		return nil, badPost("signature does not verify for uid %s", p.UID.Fingerprint())
	}
	p.Sig = append([]byte(nil), sig...)
	if re, err := p.Marshal(); err != nil || !bytes.Equal(re, b) {
		return nil, badPost("not the canonical encoding")
	}
	return p, nil
}
