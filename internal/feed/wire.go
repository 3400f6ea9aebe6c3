package feed

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A batch is how posts travel over HTTP (push bodies, pull answers): each
// post's encoding preceded by its length as a big-endian uint16
// (docs/feed.md). Content-Type BatchType.
const BatchType = "application/x-swarmgate-posts"

// ErrBadBatch is wrapped by batch decoding errors.
var ErrBadBatch = errors.New("feed: bad batch")

// AppendBatch appends one framed post to b.
func AppendBatch(b, raw []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(raw)))
	return append(b, raw...)
}

// ParseBatch splits a batch into at most maxPosts post encodings (each
// still to be verified with ParsePost). The encodings alias b.
func ParseBatch(b []byte, maxPosts int) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(out) >= maxPosts {
			return out, fmt.Errorf("%w: more than %d posts", ErrBadBatch, maxPosts)
		}
		if len(b) < 2 {
			return out, fmt.Errorf("%w: truncated length", ErrBadBatch)
		}
		n := int(binary.BigEndian.Uint16(b))
		if n > MaxPostBytes {
			return out, fmt.Errorf("%w: a %d-byte post, limit %d", ErrBadBatch, n, MaxPostBytes)
		}
		if len(b) < 2+n {
			return out, fmt.Errorf("%w: truncated post", ErrBadBatch)
		}
		out = append(out, b[2:2+n:2+n])
		b = b[2+n:]
	}
	return out, nil
}

// PullRequest is Litter Alg. 2's request: for each uid, the highest seq
// the requester holds, plus (gap recovery, §3.4) the exact seqs it lacks,
// and a time range. JSON on the wire (docs/feed.md).
type PullRequest struct {
	Want []Want `json:"want"`
	// From and To bound the posts' times (Unix milliseconds; 0 = open).
	From int64 `json:"from,omitempty"`
	To   int64 `json:"to,omitempty"`
}

// Want is one uid of a PullRequest.
type Want struct {
	UID   UID      `json:"uid"`
	After uint64   `json:"after"`
	Seqs  []uint64 `json:"seqs,omitempty"`
}

// Pull request limits.
const (
	MaxPullUIDs  = 1000
	MaxPullSeqs  = 1000 // explicit seqs over all wants
	MaxPullBytes = 256 << 10
)

// ErrBadPull is wrapped by pull request errors.
var ErrBadPull = errors.New("feed: bad pull request")

// ParsePullRequest decodes and bounds a pull request.
func ParsePullRequest(b []byte) (*PullRequest, error) {
	if len(b) > MaxPullBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadPull, len(b), MaxPullBytes)
	}
	var r PullRequest
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPull, err)
	}
	if len(r.Want) > MaxPullUIDs {
		return nil, fmt.Errorf("%w: %d uids, limit %d", ErrBadPull, len(r.Want), MaxPullUIDs)
	}
	seqs := 0
	for _, w := range r.Want {
		seqs += len(w.Seqs)
	}
	if seqs > MaxPullSeqs {
		return nil, fmt.Errorf("%w: %d seqs, limit %d", ErrBadPull, seqs, MaxPullSeqs)
	}
	if r.From < 0 || r.To < 0 || (r.To != 0 && r.To < r.From) {
		return nil, fmt.Errorf("%w: bad time range", ErrBadPull)
	}
	return &r, nil
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// pushAnswer is the JSON answer to a push.
type pushAnswer struct {
	New    int      `json:"new"`
	Errors []string `json:"errors,omitempty"`
}

// MaxPushAnswer bounds the answer to a push that a publisher reads.
const MaxPushAnswer = 4096

// CheckPushAnswer reads a node's answer to a push of one post (HTTP
// status and body, at most MaxPushAnswer bytes): nil when the node took
// it. Shared by Publish and the browser, which sends with fetch.
func CheckPushAnswer(node string, status int, statusText string, body []byte) error {
	if status != 200 {
		return fmt.Errorf("node %s: %s: %s", node, statusText, strings.TrimSpace(string(body)))
	}
	var ans pushAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return fmt.Errorf("node %s: %v", node, err)
	}
	if len(ans.Errors) > 0 {
		return fmt.Errorf("node %s refused the post: %s", node, ans.Errors[0])
	}
	return nil
}
