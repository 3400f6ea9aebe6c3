package feed

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// FollowRequest asks a node to push a publisher's posts to the follower's
// node (Litter §3.2: followers are the one-hop peers a post is pushed to).
// It is signed by the follower's key, so nobody can register or cancel a
// follow in another's name, and carries a time so that it cannot be
// replayed later.
type FollowRequest struct {
	Follower  UID
	Publisher UID
	Time      time.Time // millisecond precision
	Unfollow  bool
	URL       string // base URL of the follower's node (http or https)
	Sig       []byte
}

const (
	followVersion = 1
	followContext = "swarmgate-feed-follow-v1\x00"
	// MaxURLBytes bounds the node URLs in follow requests and heads.
	MaxURLBytes = 512
	// MaxFollowBytes bounds an encoded follow request.
	MaxFollowBytes = 1 + 32 + 32 + 8 + 1 + 2 + MaxURLBytes + ed25519.SignatureSize
)

// ErrBadFollow is wrapped by every follow request error.
var ErrBadFollow = errors.New("feed: bad follow request")

func (r *FollowRequest) body(b []byte) ([]byte, error) {
	if err := checkNodeURL(r.URL); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFollow, err)
	}
	if r.Follower == r.Publisher {
		return nil, fmt.Errorf("%w: a uid cannot follow itself", ErrBadFollow)
	}
	if r.Time.UnixMilli() < 0 {
		return nil, fmt.Errorf("%w: time before 1970", ErrBadFollow)
	}
	b = append(b, followVersion)
	b = append(b, r.Follower[:]...)
	b = append(b, r.Publisher[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixMilli()))
	var flags byte
	if r.Unfollow {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.URL)))
	return append(b, r.URL...), nil
}

// checkNodeURL accepts an absolute http or https URL with a host.
func checkNodeURL(s string) error {
	if len(s) > MaxURLBytes {
		return fmt.Errorf("node URL is %d bytes, limit %d", len(s), MaxURLBytes)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("node URL %q is not http(s)://host[:port][/path]", s)
	}
	return nil
}

// Sign fills Follower and Sig from id and returns the encoding.
func (r *FollowRequest) Sign(id *Identity) ([]byte, error) {
	r.Follower = id.UID()
	r.Time = time.UnixMilli(r.Time.UnixMilli())
	b, err := r.body([]byte(followContext))
	if err != nil {
		return nil, err
	}
	r.Sig = id.Sign(b)
	return append(b[len(followContext):], r.Sig...), nil
}

// Marshal returns the encoding of a signed request.
func (r *FollowRequest) Marshal() ([]byte, error) {
	if len(r.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: not signed", ErrBadFollow)
	}
	b, err := r.body(nil)
	if err != nil {
		return nil, err
	}
	return append(b, r.Sig...), nil
}

// ParseFollowRequest decodes a follow request and verifies its signature.
func ParseFollowRequest(b []byte) (*FollowRequest, error) {
	if len(b) > MaxFollowBytes || len(b) < 1+ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadFollow, len(b))
	}
	body, sig := b[:len(b)-ed25519.SignatureSize], b[len(b)-ed25519.SignatureSize:]
	rd := &reader{b: body}
	if v := rd.u8(); v != followVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBadFollow, v)
	}
	r := &FollowRequest{}
	copy(r.Follower[:], rd.take(32))
	copy(r.Publisher[:], rd.take(32))
	ms := rd.u64()
	flags := rd.u8()
	r.URL = string(rd.take(int(rd.u16())))
	if rd.err != nil {
		return nil, fmt.Errorf("%w: truncated", ErrBadFollow)
	}
	if len(rd.b) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes", ErrBadFollow)
	}
	if ms > 1<<62 {
		return nil, fmt.Errorf("%w: time out of range", ErrBadFollow)
	}
	if flags&^1 != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrBadFollow, flags)
	}
	r.Time, r.Unfollow = time.UnixMilli(int64(ms)), flags&1 != 0
	if _, err := r.body(nil); err != nil {
		return nil, err
	}
	if !ed25519.Verify(ed25519.PublicKey(r.Follower[:]), append([]byte(followContext), body...), sig) {
		return nil, fmt.Errorf("%w: signature does not verify", ErrBadFollow)
	}
	r.Sig = append([]byte(nil), sig...)
	return r, nil
}
