package feed

import (
	"bytes"
	"slices"
	"sort"
	"sync"
	"time"
)

// MemStore is an in-memory Store (browsers, tests).
type MemStore struct {
	mu        sync.Mutex
	posts     map[UID]map[uint64]memPost
	flags     map[UID]string
	follows   map[UID]Follow
	followers map[UID]map[UID]*FollowRequest
}

type memPost struct {
	raw  []byte
	time time.Time
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{
		posts:     make(map[UID]map[uint64]memPost),
		flags:     make(map[UID]string),
		follows:   make(map[UID]Follow),
		followers: make(map[UID]map[UID]*FollowRequest),
	}
}

func (s *MemStore) AddPost(p *Post, raw []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.posts[p.UID]
	if m == nil {
		m = make(map[uint64]memPost)
		s.posts[p.UID] = m
	}
	if old, ok := m[p.Seq]; ok {
		if bytes.Equal(old.raw, raw) {
			return false, nil
		}
		if _, ok := s.flags[p.UID]; !ok {
			s.flags[p.UID] = equivocationReason(p.Seq)
		}
		return false, ErrEquivocation
	}
	m[p.Seq] = memPost{raw: bytes.Clone(raw), time: p.Time}
	return true, nil
}

func (s *MemStore) Post(uid UID, seq uint64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.posts[uid][seq]; ok {
		return bytes.Clone(p.raw), nil
	}
	return nil, ErrNotFound
}

func (s *MemStore) Head(uid UID) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var h uint64
	for seq := range s.posts[uid] {
		h = max(h, seq)
	}
	return h, nil
}

func (s *MemStore) sortedSeqs(uid UID) []uint64 {
	seqs := make([]uint64, 0, len(s.posts[uid]))
	for seq := range s.posts[uid] {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	return seqs
}

func (s *MemStore) Posts(uid UID, after uint64, from, to time.Time, limit int) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, seq := range s.sortedSeqs(uid) {
		if len(out) >= limit {
			break
		}
		p := s.posts[uid][seq]
		if seq <= after || (!from.IsZero() && p.time.Before(from)) || (!to.IsZero() && p.time.After(to)) {
			continue
		}
		out = append(out, bytes.Clone(p.raw))
	}
	return out, nil
}

func (s *MemStore) Recent(uid UID, limit int) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seqs := s.sortedSeqs(uid)
	var out [][]byte
	for i := len(seqs) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, bytes.Clone(s.posts[uid][seqs[i]].raw))
	}
	return out, nil
}

func (s *MemStore) Missing(uid UID, limit int) ([]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seqs := s.sortedSeqs(uid)
	var out []uint64
	next := uint64(1)
	for _, seq := range seqs {
		for ; next < seq && len(out) < limit; next++ {
			out = append(out, next)
		}
		next = seq + 1
	}
	return out, nil
}

func (s *MemStore) Flag(uid UID, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.flags[uid]; !ok {
		s.flags[uid] = reason
	}
	return nil
}

func (s *MemStore) Flagged(uid UID) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.flags[uid]
	return r, ok, nil
}

func (s *MemStore) SetFollow(f Follow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.Nodes = slices.Clone(f.Nodes)
	s.follows[f.UID] = f
	return nil
}

func (s *MemStore) DeleteFollow(uid UID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.follows, uid)
	return nil
}

func (s *MemStore) Follows() ([]Follow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Follow, 0, len(s.follows))
	for _, f := range s.follows {
		f.Nodes = slices.Clone(f.Nodes)
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].UID[:], out[j].UID[:]) < 0 })
	return out, nil
}

func (s *MemStore) SetFollower(r *FollowRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Unfollow {
		delete(s.followers[r.Publisher], r.Follower)
		return nil
	}
	m := s.followers[r.Publisher]
	if m == nil {
		m = make(map[UID]*FollowRequest)
		s.followers[r.Publisher] = m
	}
	c := *r
	m[r.Follower] = &c
	return nil
}

func (s *MemStore) Follower(publisher, follower UID) (*FollowRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.followers[publisher][follower]; ok {
		c := *r
		return &c, nil
	}
	return nil, ErrNotFound
}

func (s *MemStore) Followers(publisher UID) ([]*FollowRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*FollowRequest
	for _, r := range s.followers[publisher] {
		c := *r
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Follower[:], out[j].Follower[:]) < 0 })
	return out, nil
}

func (s *MemStore) Close() error { return nil }

func equivocationReason(seq uint64) string {
	return "equivocation: two different posts signed with seq " + itoa(seq)
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
