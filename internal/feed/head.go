package feed

import (
	"context"
	"crypto/ed25519"
	"crypto/sha1"
	"errors"
	"fmt"
	"strconv"
)

// HeadSalt is the BEP 44 salt of a uid's head item: the target is
// SHA-1(uid || HeadSalt), so a key can sign other items too.
const HeadSalt = "swarmgate-feed-v1"

// MaxItemValue is BEP 44's limit on a bencoded value.
const MaxItemValue = 1000

// MaxHeadNodes bounds the node URLs in a head.
const MaxHeadNodes = 8

// MutableItem is a BEP 44 mutable item: an ed25519-signed value stored in
// the DHT at SHA-1(K || Salt). The Directory that carries it need not
// verify it: ParseHead does.
type MutableItem struct {
	K    [32]byte
	Salt []byte
	Seq  int64
	V    []byte // bencoded value
	Sig  [64]byte
}

// Target is the item's DHT key (BEP 44: SHA-1 of the key and salt).
func (m *MutableItem) Target() [20]byte { return ItemTarget(m.K, m.Salt) }

// ItemTarget is the DHT key of the item of k with salt.
func ItemTarget(k [32]byte, salt []byte) [20]byte {
	return sha1.Sum(append(k[:], salt...))
}

// SignedBuffer is what BEP 44 signs: the bencoded salt (if any), seq and v
// keys, without the enclosing dict.
func (m *MutableItem) SignedBuffer() []byte {
	var b []byte
	if len(m.Salt) > 0 {
		b = append(b, "4:salt"...)
		b = strconv.AppendInt(b, int64(len(m.Salt)), 10)
		b = append(b, ':')
		b = append(b, m.Salt...)
	}
	b = append(b, "3:seqi"...)
	b = strconv.AppendInt(b, m.Seq, 10)
	b = append(b, "e1:v"...)
	return append(b, m.V...)
}

// Verify checks the item's signature and sizes (BEP 44).
func (m *MutableItem) Verify() error {
	if len(m.V) > MaxItemValue || len(m.V) == 0 {
		return fmt.Errorf("%w: value is %d bytes", ErrBadHead, len(m.V))
	}
	if len(m.Salt) > 64 {
		return fmt.Errorf("%w: salt is %d bytes", ErrBadHead, len(m.Salt))
	}
	if m.Seq < 0 {
		return fmt.Errorf("%w: negative seq", ErrBadHead)
	}
	if !ed25519.Verify(m.K[:], m.SignedBuffer(), m.Sig[:]) {
		return fmt.Errorf("%w: signature does not verify", ErrBadHead)
	}
	return nil
}

// Head is the latest state of a uid's feed as published in the DHT: the
// highest sequence number and the nodes that serve the feed.
type Head struct {
	UID   UID
	Seq   uint64
	Nodes []string
}

// ErrBadHead is wrapped by every head item error.
var ErrBadHead = errors.New("feed: bad head item")

// SignHead makes the BEP 44 item of h (h.UID is set to id's).
func SignHead(id *Identity, h Head) (MutableItem, error) {
	h.UID = id.UID()
	if h.Seq > 1<<62 {
		return MutableItem{}, fmt.Errorf("%w: seq out of range", ErrBadHead)
	}
	v, err := encodeHeadValue(h.Nodes)
	if err != nil {
		return MutableItem{}, err
	}
	m := MutableItem{K: h.UID, Salt: []byte(HeadSalt), Seq: int64(h.Seq), V: v}
	copy(m.Sig[:], id.Sign(m.SignedBuffer()))
	return m, nil
}

// ParseHead verifies an item found for uid and decodes it.
func ParseHead(uid UID, m MutableItem) (Head, error) {
	if m.K != uid {
		return Head{}, fmt.Errorf("%w: item is for another key", ErrBadHead)
	}
	if string(m.Salt) != HeadSalt {
		return Head{}, fmt.Errorf("%w: wrong salt", ErrBadHead)
	}
	if err := m.Verify(); err != nil {
		return Head{}, err
	}
	nodes, err := decodeHeadValue(m.V)
	if err != nil {
		return Head{}, err
	}
	return Head{UID: uid, Seq: uint64(m.Seq), Nodes: nodes}, nil
}

// encodeHeadValue bencodes {"n": [url...]} (keys sorted, BEP 3).
func encodeHeadValue(nodes []string) ([]byte, error) {
	if len(nodes) > MaxHeadNodes {
		return nil, fmt.Errorf("%w: %d nodes, limit %d", ErrBadHead, len(nodes), MaxHeadNodes)
	}
	b := []byte("d1:nl")
	for _, u := range nodes {
		if err := checkNodeURL(u); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadHead, err)
		}
		b = strconv.AppendInt(b, int64(len(u)), 10)
		b = append(b, ':')
		b = append(b, u...)
	}
	b = append(b, "ee"...)
	if len(b) > MaxItemValue {
		return nil, fmt.Errorf("%w: value is %d bytes, limit %d", ErrBadHead, len(b), MaxItemValue)
	}
	return b, nil
}

// decodeHeadValue is the strict inverse of encodeHeadValue: it accepts only
// the canonical bencoding, with at most MaxHeadNodes valid node URLs.
func decodeHeadValue(v []byte) ([]string, error) {
	bad := func(why string) ([]string, error) { return nil, fmt.Errorf("%w: value: %s", ErrBadHead, why) }
	const pre = "d1:nl"
	if len(v) > MaxItemValue || len(v) < len(pre)+2 || string(v[:len(pre)]) != pre {
		return bad("not {n: [...]}")
	}
	r := v[len(pre):]
	var nodes []string
	for len(r) > 0 && r[0] != 'e' {
		i := 0
		for i < len(r) && i < 4 && r[i] >= '0' && r[i] <= '9' {
			i++
		}
		if i == 0 || i >= len(r) || r[i] != ':' || (r[0] == '0' && i > 1) {
			return bad("bad string length")
		}
		n, _ := strconv.Atoi(string(r[:i]))
		r = r[i+1:]
		if n > len(r) {
			return bad("truncated")
		}
		u := string(r[:n])
		if err := checkNodeURL(u); err != nil {
			return bad(err.Error())
		}
		if len(nodes) == MaxHeadNodes {
			return bad("too many nodes")
		}
		nodes = append(nodes, u)
		r = r[n:]
	}
	if string(r) != "ee" {
		return bad("trailing bytes or unterminated")
	}
	return nodes, nil
}

// Directory finds and publishes uid heads without a server: the Mainline
// DHT's BEP 44 get and put (internal/dhtnet implements it). GetItem returns
// the item of key k and salt with the highest seq found (nil error only with an item); callers
// verify it with ParseHead.
type Directory interface {
	PutItem(ctx context.Context, m MutableItem) error
	GetItem(ctx context.Context, k [32]byte, salt []byte) (MutableItem, error)
}

// PublishHead signs h with id and puts it in dir.
func PublishHead(ctx context.Context, dir Directory, id *Identity, h Head) error {
	m, err := SignHead(id, h)
	if err != nil {
		return err
	}
	return dir.PutItem(ctx, m)
}

// LookupHead finds uid's head in dir and verifies it.
func LookupHead(ctx context.Context, dir Directory, uid UID) (Head, error) {
	m, err := dir.GetItem(ctx, uid, []byte(HeadSalt))
	if err != nil {
		return Head{}, err
	}
	return ParseHead(uid, m)
}
