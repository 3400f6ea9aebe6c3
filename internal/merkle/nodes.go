package merkle

import (
	"container/list"
	"fmt"
	"sync"
)

// NodeStore holds the verified node hashes of one tree outside memory (the
// store's hash-tree file, RFC 7574 bin numbering: hash of bin b at offset
// b*HashSize). A tree given one keeps only a bounded cache of it in memory
// (Options.Nodes, Options.Cache) and writes every hash it verifies through
// to it at once.
type NodeStore interface {
	// ReadHashes fills dst, len(dst)/hs hashes of bins first, first+1, …,
	// and sets bit k of known (k from 0) for each bin first+k that is
	// stored; bytes of bins not stored are unspecified.
	ReadHashes(first uint64, dst []byte, known []uint64) error
	// PutHashes stores verified hashes (back to back in hashes).
	PutHashes(bins []uint64, hashes []byte) error
}

// pageBins is how many consecutive bins one cache page holds.
const pageBins = 256

// DefaultCacheBytes is the default bound of a NodeCache.
const DefaultCacheBytes = 8 << 20

// NodeCache is a bounded LRU cache of node-hash pages shared by the trees
// of a process (or of an engine): the memory a seeder's trees cost is its
// bound, whatever the content size. Safe for concurrent use.
type NodeCache struct {
	mu    sync.Mutex
	limit int
	used  int
	lru   list.List // of *page, most recent at the front
	hits  uint64
	miss  uint64
}

// NewNodeCache returns a cache holding at most limit bytes of hashes
// (DefaultCacheBytes if limit <= 0; at least a few pages per tree in use).
func NewNodeCache(limit int) *NodeCache {
	if limit <= 0 {
		limit = DefaultCacheBytes
	}
	return &NodeCache{limit: limit}
}

// CacheStats are a NodeCache's figures.
type CacheStats struct {
	Bytes, Limit int
	Pages        int
	Hits, Misses uint64
}

// Stats returns the cache's figures.
func (c *NodeCache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Bytes: c.used, Limit: c.limit, Pages: c.lru.Len(), Hits: c.hits, Misses: c.miss}
}

// page is pageBins consecutive bins of one tree.
type page struct {
	owner  *paged
	num    uint64
	hashes []byte
	known  [pageBins / 64]uint64
	elem   *list.Element
}

// paged is a tree's node storage over a NodeStore through a NodeCache.
type paged struct {
	c     *NodeCache
	st    NodeStore
	hs    int
	pages map[uint64]*page // guarded by c.mu
	last  *page            // the page used last, or nil; guarded by c.mu
	err   error            // first store failure, sticky; guarded by c.mu
	bin   [1]uint64        // scratch for set (a tree has one user at a time)
	hash  [maxHashSize]byte
}

func newPaged(st NodeStore, c *NodeCache, hs int) *paged {
	if c == nil {
		c = NewNodeCache(0)
	}
	return &paged{c: c, st: st, hs: hs, pages: make(map[uint64]*page)}
}

// get returns the page of bin b, loading it on a miss; c.mu is held.
func (p *paged) getLocked(b Bin) *page {
	n := uint64(b) / pageBins
	if pg := p.last; pg != nil && pg.num == n {
		p.c.hits++
		return pg // recent enough: the LRU order is left as it is
	}
	if pg := p.pages[n]; pg != nil {
		p.c.hits++
		p.c.lru.MoveToFront(pg.elem)
		p.last = pg
		return pg
	}
	p.c.miss++
	pg := &page{owner: p, num: n, hashes: make([]byte, pageBins*p.hs)}
	if err := p.st.ReadHashes(n*pageBins, pg.hashes, pg.known[:]); err != nil {
		if p.err == nil {
			p.err = fmt.Errorf("merkle: read hashes: %w", err)
		}
		pg.known = [pageBins / 64]uint64{}
	}
	p.pages[n] = pg
	p.last = pg
	pg.elem = p.c.lru.PushFront(pg)
	p.c.used += len(pg.hashes)
	p.c.evictLocked()
	return pg
}

// evictLocked drops least recently used pages over the limit. Their
// hashes are in the store already (written through), so nothing is lost;
// slices handed out keep a dropped page's bytes alive and valid.
func (c *NodeCache) evictLocked() {
	for c.used > c.limit && c.lru.Len() > 8 {
		e := c.lru.Back()
		pg := e.Value.(*page)
		c.lru.Remove(e)
		delete(pg.owner.pages, pg.num)
		if pg.owner.last == pg {
			pg.owner.last = nil
		}
		c.used -= len(pg.hashes)
	}
}

func (p *paged) known(b Bin) bool {
	p.c.mu.Lock()
	pg := p.getLocked(b)
	k := uint64(b) % pageBins
	ok := pg.known[k/64]&(1<<(k%64)) != 0
	p.c.mu.Unlock()
	return ok
}

// node returns the hash slot of b (valid only if known).
func (p *paged) node(b Bin) []byte {
	p.c.mu.Lock()
	pg := p.getLocked(b)
	k := int(uint64(b) % pageBins)
	h := pg.hashes[k*p.hs : (k+1)*p.hs : (k+1)*p.hs]
	p.c.mu.Unlock()
	return h
}

// set records the verified hash of b and writes it through to the store.
func (p *paged) set(b Bin, h []byte) {
	p.c.mu.Lock()
	pg := p.getLocked(b)
	k := uint64(b) % pageBins
	was := pg.known[k/64]&(1<<(k%64)) != 0
	copy(pg.hashes[int(k)*p.hs:], h[:p.hs])
	pg.known[k/64] |= 1 << (k % 64)
	p.c.mu.Unlock()
	if was {
		return
	}
	// Scratch copies: h (often on the caller's stack) must not escape
	// through the interface call.
	p.bin[0] = uint64(b)
	copy(p.hash[:], h[:p.hs])
	if err := p.st.PutHashes(p.bin[:], p.hash[:p.hs]); err != nil {
		p.c.mu.Lock()
		if p.err == nil {
			p.err = fmt.Errorf("merkle: store hash: %w", err)
		}
		p.c.mu.Unlock()
	}
}

func (p *paged) failure() error {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	return p.err
}

// release drops the tree's pages from the cache (an idle or closed swarm).
func (p *paged) release() {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	for _, pg := range p.pages {
		p.c.lru.Remove(pg.elem)
		p.c.used -= len(pg.hashes)
	}
	clear(p.pages)
	p.last = nil
}
