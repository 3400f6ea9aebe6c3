package feed

import (
	"errors"
	"time"
)

// Store keeps a node's feed state. Implementations: MemStore (here) and
// feedsql (SQLite); feedtest is the conformance suite both pass. Only
// verified posts (from ParsePost or Sign) are ever given to a Store.
type Store interface {
	// AddPost stores p with its encoding raw. It reports false when that
	// post is already held. When a different post already holds p's
	// uid+seq it keeps the first, flags the uid and returns
	// ErrEquivocation.
	AddPost(p *Post, raw []byte) (bool, error)
	// Post returns the encoding of uid+seq, or ErrNotFound.
	Post(uid UID, seq uint64) ([]byte, error)
	// Head is the highest seq held for uid (0 when none).
	Head(uid UID) (uint64, error)
	// Posts returns up to limit encodings of uid with seq > after and a
	// time in [from, to] (zero times are unbounded), in seq order.
	Posts(uid UID, after uint64, from, to time.Time, limit int) ([][]byte, error)
	// Recent returns up to limit encodings of uid, newest first.
	Recent(uid UID, limit int) ([][]byte, error)
	// Missing returns up to limit sequence numbers in 1..Head(uid) that are
	// not held, lowest first (Litter §3.4 gaps).
	Missing(uid UID, limit int) ([]uint64, error)
	// Flag records why uid misbehaved (the first reason is kept); Flagged
	// returns it.
	Flag(uid UID, reason string) error
	Flagged(uid UID) (string, bool, error)

	// SetFollow adds or replaces a uid this node follows; DeleteFollow
	// removes it; Follows lists them.
	SetFollow(f Follow) error
	DeleteFollow(uid UID) error
	Follows() ([]Follow, error)

	// SetFollower records a verified follow request (replacing the
	// follower's earlier one for that publisher); an unfollow request
	// deletes it. Followers lists who gets uid's posts pushed.
	SetFollower(r *FollowRequest) error
	Follower(publisher, follower UID) (*FollowRequest, error)
	Followers(publisher UID) ([]*FollowRequest, error)

	Close() error
}

// Follow is a uid a node follows.
type Follow struct {
	UID   UID
	Name  string    // a display name (OPML title); not authenticated
	Nodes []string  // base URLs of nodes that serve the feed (the publisher's node first)
	Since time.Time // when the follow was added
}

// ErrNotFound is returned for a post that is not held.
var ErrNotFound = errors.New("feed: not found")

// ErrEquivocation is returned when a uid signed two different posts with
// one sequence number.
var ErrEquivocation = errors.New("feed: equivocation: two different posts with one sequence number")
