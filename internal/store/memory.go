package store

import (
	"fmt"
	"sync"

	"github.com/swarmgate/swarmgate/internal/store/internal/bitset"
)

// NewMemory returns a Store that keeps everything in memory: chunk bytes are
// held only for written chunks, and nothing survives the Store. Swarm state
// does survive closing and reopening a swarm within the Store. It is pure Go
// and builds for js/wasm; Info.Path is kept as given and never opened.
func NewMemory() Store {
	return &memStore{swarms: make(map[string]*memSwarm)}
}

type memStore struct {
	mu     sync.Mutex
	swarms map[string]*memSwarm
	order  []string // creation order
	closed bool
}

type memSwarm struct {
	mu      sync.Mutex
	info    Info
	hs      int
	chunks  map[uint64][]byte
	have    bitset.Set
	hashes  map[uint64][]byte
	removed bool
}

type memHandle struct {
	s      *memSwarm
	st     *memStore
	mu     sync.Mutex
	closed bool
}

func (m *memStore) Open(info Info) (Swarm, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if len(info.SwarmID) == 0 {
		return nil, fmt.Errorf("%w: empty swarm ID", ErrInvalidInfo)
	}
	key := string(info.SwarmID)
	s := m.swarms[key]
	if s == nil {
		if err := info.Validate(); err != nil {
			return nil, err
		}
		s = &memSwarm{
			info:   info.Clone(),
			hs:     HashSize(info.HashFunc),
			chunks: make(map[uint64][]byte),
			hashes: make(map[uint64][]byte),
		}
		m.swarms[key] = s
		m.order = append(m.order, key)
	} else if info.Length >= 0 {
		s.mu.Lock()
		if s.info.Length < 0 {
			s.info.Length = info.Length
		}
		s.mu.Unlock()
	}
	return &memHandle{s: s, st: m}, nil
}

func (m *memStore) Get(id []byte) (Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Info{}, ErrClosed
	}
	s := m.swarms[string(id)]
	if s == nil {
		return Info{}, fmt.Errorf("store: swarm %s: %w", ShortID(id), ErrNotFound)
	}
	return s.infoCopy(), nil
}

func (m *memStore) List() ([]Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	out := make([]Info, 0, len(m.order))
	for _, k := range m.order {
		out = append(out, m.swarms[k].infoCopy())
	}
	return out, nil
}

func (m *memStore) Remove(id []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	key := string(id)
	s := m.swarms[key]
	if s == nil {
		return fmt.Errorf("store: swarm %s: %w", ShortID(id), ErrNotFound)
	}
	s.mu.Lock()
	s.removed = true
	s.chunks, s.hashes = nil, nil
	s.have.Reset()
	s.mu.Unlock()
	delete(m.swarms, key)
	for k, o := range m.order {
		if o == key {
			m.order = append(m.order[:k], m.order[k+1:]...)
			break
		}
	}
	return nil
}

func (m *memStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	for _, s := range m.swarms {
		s.mu.Lock()
		s.removed = true
		s.mu.Unlock()
	}
	return nil
}

func (s *memSwarm) infoCopy() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info.Clone()
}

// lock locks the swarm and returns ErrClosed if the handle or swarm is closed.
func (h *memHandle) lock() (*memSwarm, error) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	s := h.s
	s.mu.Lock()
	if s.removed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	return s, nil
}

func (h *memHandle) Info() Info { return h.s.infoCopy() }

func (h *memHandle) SetLength(n int64) error {
	s, err := h.lock()
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := CheckLengthChange(s.info.Length, n, s.info.ChunkSize, s.have.AnyFrom); err != nil {
		return fmt.Errorf("store: swarm %s: set length: %w", ShortID(s.info.SwarmID), err)
	}
	s.info.Length = n
	return nil
}

func (h *memHandle) NumVerified() uint64 {
	s, err := h.lock()
	if err != nil {
		return 0
	}
	defer s.mu.Unlock()
	return s.have.Count()
}

func (h *memHandle) Have(c uint64) bool {
	s, err := h.lock()
	if err != nil {
		return false
	}
	defer s.mu.Unlock()
	return s.have.Has(c)
}

func (h *memHandle) Verified() []Range {
	s, err := h.lock()
	if err != nil {
		return nil
	}
	defer s.mu.Unlock()
	return toRanges(s.have.Ranges())
}

func toRanges(rs [][2]uint64) []Range {
	out := make([]Range, len(rs))
	for k, r := range rs {
		out[k] = Range{r[0], r[1]}
	}
	return out
}

func (h *memHandle) ReadChunk(c uint64, p []byte) (int, error) {
	s, err := h.lock()
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	if err := CheckRead(s.info, c, p); err != nil {
		return 0, err
	}
	if !s.have.Has(c) {
		return 0, fmt.Errorf("store: read chunk %d of swarm %s: %w", c, ShortID(s.info.SwarmID), ErrNotVerified)
	}
	return copy(p, s.chunks[c]), nil
}

func (h *memHandle) WriteChunk(c uint64, p []byte) error {
	s, err := h.lock()
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := CheckWrite(s.info, c, p); err != nil {
		return err
	}
	if s.have.Add(c) {
		s.chunks[c] = append([]byte(nil), p...)
	}
	return nil
}

func (h *memHandle) PutHash(bin uint64, hash []byte) error {
	return h.PutHashes([]uint64{bin}, hash)
}

func (h *memHandle) PutHashes(bins []uint64, hashes []byte) error {
	s, err := h.lock()
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := CheckHashes(s.info, bins, hashes); err != nil {
		return err
	}
	for k, b := range bins {
		if _, ok := s.hashes[b]; !ok {
			s.hashes[b] = append([]byte(nil), hashes[k*s.hs:(k+1)*s.hs]...)
		}
	}
	return nil
}

func (h *memHandle) Hash(bin uint64) ([]byte, error) {
	s, err := h.lock()
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	v, ok := s.hashes[bin]
	if !ok {
		return nil, fmt.Errorf("store: hash of bin %d of swarm %s: %w", bin, ShortID(s.info.SwarmID), ErrNotFound)
	}
	return append([]byte(nil), v...), nil
}

func (h *memHandle) Hashes(fn func(bin uint64, hash []byte)) error {
	s, err := h.lock()
	if err != nil {
		return err
	}
	var nodes bitset.Set
	for b := range s.hashes {
		nodes.Add(b)
	}
	buf := make([]byte, 0, len(s.hashes)*s.hs)
	nodes.Each(func(b uint64) bool {
		buf = append(buf, s.hashes[b]...)
		return true
	})
	hs := s.hs
	s.mu.Unlock()
	k := 0
	nodes.Each(func(b uint64) bool {
		fn(b, buf[k*hs:(k+1)*hs:(k+1)*hs])
		k++
		return true
	})
	return nil
}

func (h *memHandle) Flush() error {
	s, err := h.lock()
	if err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

func (h *memHandle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	return nil
}
