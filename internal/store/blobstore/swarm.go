package blobstore

import (
	"bytes"
	"container/list"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/internal/bitset"
)

// swarm is the state of one open swarm, shared by its handles. mu guards
// everything below it; flushMu serializes flushes, which write outside mu.
type swarm struct {
	st      *Store
	dir     string
	hs      int
	blockN  uint64 // chunks per content block
	flushMu sync.Mutex

	mu        sync.Mutex
	info      store.Info
	infoDirty bool
	have      bitset.Set // verified chunks
	nodes     bitset.Set // stored tree nodes
	haveDirty bool
	nodeDirty bool
	proven    bitset.Set // chunks whose bytes this process verified (written here, or re-verified)
	checked   bitset.Set // bins whose stored hash this process chained to the root
	blocks    map[uint64]*blob
	groups    map[uint64]*blob
	onDisk    map[string]bool // blob names in storage (c<k>, h<k>)
	lru       list.List       // clean blobs, most recent at the front
	cleanC    int             // bytes of clean content blocks
	cleanH    int             // bytes of clean hash groups
	dirty     int             // bytes of dirty blobs
	werr      error           // the last failed flush, until one succeeds
	refs      int
	removed   bool
	seq, used int64 // the info blob's
}

// blob is a content block or a hash group in memory.
type blob struct {
	k     uint64 // block or group number
	name  string // c<k> or h<k>
	hash  bool   // a hash group (else a content block)
	data  []byte
	dirty bool
	ver   uint64 // bumped on every change, so a flush knows what it wrote
	elem  *list.Element
}

// load reads a swarm's maps and blob list; s.mu is held.
func (s *Store) load(ib infoBlob) (*swarm, error) {
	info := ib.info()
	cs := uint64(info.ChunkSize)
	bn := max(1, (uint64(s.opt.BlockBytes)+cs-1)/cs)
	sw := &swarm{st: s, dir: ib.ID, hs: store.HashSize(info.HashFunc), blockN: bn, info: info,
		blocks: map[uint64]*blob{}, groups: map[uint64]*blob{}, onDisk: map[string]bool{},
		seq: ib.Seq, used: ib.Used}
	names, err := s.b.List(ib.ID)
	if err != nil {
		return nil, errf("swarm %s: listing: %w", ib.ID, err)
	}
	for _, n := range names {
		sw.onDisk[n] = true
	}
	for _, m := range []struct {
		name string
		set  *bitset.Set
		max  uint64
	}{{"v", &sw.have, 1<<34 - 1}, {"n", &sw.nodes, 1<<35 - 1}} {
		if !sw.onDisk[m.name] {
			continue
		}
		raw, err := s.b.Get(ib.ID, m.name)
		if err != nil {
			return nil, errf("swarm %s: reading %s: %w", ib.ID, m.name, err)
		}
		if err := m.set.Decode(raw, m.max); err != nil {
			return nil, errf("swarm %s: map %s: %w", ib.ID, m.name, err)
		}
	}
	if n := info.NumChunks(); n >= 0 && sw.have.AnyFrom(uint64(n)) {
		return nil, errf("swarm %s: verified chunks past the end", ib.ID)
	}
	return sw, nil
}

func blockName(k uint64) string { return "c" + strconv.FormatUint(k, 10) }
func groupName(k uint64) string { return "h" + strconv.FormatUint(k, 10) }

// blockFull reports whether every chunk of block k is verified: nothing
// writes into it any more, so a flush may write its bytes uncopied.
func (sw *swarm) blockFull(k uint64) bool {
	n := uint64(sw.info.NumChunks())
	first := k * sw.blockN
	last := min(first+sw.blockN, n) - 1
	for c := first; c <= last; c++ {
		if !sw.have.Has(c) {
			return false
		}
	}
	return true
}

func (sw *swarm) blockBytes() int { return int(sw.blockN) * int(sw.info.ChunkSize) }

// usedLen is how many bytes of block k the content covers now.
func (sw *swarm) usedLen(k uint64) int {
	start := int64(k) * int64(sw.blockBytes())
	return int(max(0, min(int64(sw.blockBytes()), sw.info.Length-start)))
}

// get returns content block k (hash false) or hash group k, reading it
// from storage if it is there; create makes an empty one when it is not.
// nil, nil: not stored and not created. mu is held (a read from storage
// waits under it).
func (sw *swarm) get(k uint64, hash, create bool) (*blob, error) {
	m, name, size := sw.blocks, blockName(k), sw.blockBytes()
	if hash {
		m, name, size = sw.groups, groupName(k), GroupBins*sw.hs
	}
	if b := m[k]; b != nil {
		if b.elem != nil {
			sw.lru.MoveToFront(b.elem)
		}
		return b, nil
	}
	b := &blob{k: k, name: name, hash: hash, data: make([]byte, size)}
	switch {
	case sw.onDisk[name]:
		raw, err := sw.st.b.Get(sw.dir, name)
		if err != nil {
			return nil, errf("swarm %s: reading %s: %w", sw.dir, name, err)
		}
		if len(raw) > size {
			return nil, errf("swarm %s: %s holds %d bytes, want at most %d", sw.dir, name, len(raw), size)
		}
		copy(b.data, raw)
	case !create:
		return nil, nil
	}
	m[k] = b
	sw.addClean(b)
	return b, nil
}

func (sw *swarm) addClean(b *blob) {
	b.elem = sw.lru.PushFront(b)
	if b.hash {
		sw.cleanH += len(b.data)
	} else {
		sw.cleanC += len(b.data)
	}
	sw.evict()
}

// evict drops the least recently used clean blobs over the cache bounds,
// never the most recent (the one a caller is about to use).
func (sw *swarm) evict() {
	for e := sw.lru.Back(); e != nil && e != sw.lru.Front() && (sw.cleanC > sw.st.opt.CacheBytes || sw.cleanH > sw.st.opt.HashCacheBytes); {
		prev := e.Prev()
		b := e.Value.(*blob)
		if b.hash && sw.cleanH > sw.st.opt.HashCacheBytes || !b.hash && sw.cleanC > sw.st.opt.CacheBytes {
			sw.drop(b)
		}
		e = prev
	}
}

func (sw *swarm) drop(b *blob) {
	sw.lru.Remove(b.elem)
	b.elem = nil
	if b.hash {
		sw.cleanH -= len(b.data)
		delete(sw.groups, b.k)
	} else {
		sw.cleanC -= len(b.data)
		delete(sw.blocks, b.k)
	}
}

// touch marks b changed.
func (sw *swarm) touch(b *blob) {
	b.ver++
	if b.dirty {
		return
	}
	b.dirty = true
	if b.elem != nil {
		sw.lru.Remove(b.elem)
		b.elem = nil
	}
	if b.hash {
		sw.cleanH -= len(b.data)
	} else {
		sw.cleanC -= len(b.data)
	}
	sw.dirty += len(b.data)
}

// snapshot is what one flush writes.
type snapshot struct {
	blobs []*blob
	data  [][]byte
	vers  []uint64
	info  []byte // nil: unchanged
	have  []byte
	nodes []byte
}

// flush writes every dirty blob, then the info and the maps (see the
// package doc for why in that order).
func (sw *swarm) flush() error {
	sw.flushMu.Lock()
	defer sw.flushMu.Unlock()
	sw.mu.Lock()
	if sw.removed {
		sw.mu.Unlock()
		return nil
	}
	var snap snapshot
	for _, m := range []map[uint64]*blob{sw.blocks, sw.groups} {
		for _, b := range m {
			if !b.dirty {
				continue
			}
			n, data := len(b.data), b.data
			if !b.hash {
				n = sw.usedLen(b.k)
				data = b.data[:n]
				if !sw.blockFull(b.k) {
					data = bytes.Clone(data) // chunks may still be written into it
				}
			} else {
				data = bytes.Clone(data)
			}
			snap.blobs = append(snap.blobs, b)
			snap.data = append(snap.data, data)
			snap.vers = append(snap.vers, b.ver)
		}
	}
	if sw.infoDirty {
		ib := infoBlob{ID: sw.dir, HashFunc: sw.info.HashFunc, ChunkSize: sw.info.ChunkSize, Length: sw.info.Length,
			Path: sw.info.Path, Name: sw.info.Name, Seq: sw.seq, Used: sw.used}
		snap.info, _ = json.Marshal(ib)
	}
	if sw.haveDirty {
		snap.have = sw.have.Encode()
	}
	if sw.nodeDirty {
		snap.nodes = sw.nodes.Encode()
	}
	sw.infoDirty, sw.haveDirty, sw.nodeDirty = false, false, false
	sw.mu.Unlock()

	err := sw.write(&snap)

	sw.mu.Lock()
	defer sw.mu.Unlock()
	if err != nil {
		sw.infoDirty = sw.infoDirty || snap.info != nil
		sw.haveDirty = sw.haveDirty || snap.have != nil
		sw.nodeDirty = sw.nodeDirty || snap.nodes != nil
		sw.werr = err
		return err
	}
	sw.werr = nil
	for i, b := range snap.blobs {
		sw.onDisk[b.name] = true
		if b.ver != snap.vers[i] || sw.removed {
			continue // changed meanwhile: stays dirty
		}
		b.dirty = false
		sw.dirty -= len(b.data)
		sw.addClean(b)
	}
	return nil
}

func (sw *swarm) write(snap *snapshot) error {
	put := func(name string, data []byte) error {
		if err := sw.st.b.Put(sw.dir, name, data); err != nil {
			return errf("swarm %s: writing %s: %w", sw.dir, name, err)
		}
		return nil
	}
	for i, b := range snap.blobs {
		if err := put(b.name, snap.data[i]); err != nil {
			return err
		}
	}
	for _, w := range []struct {
		name string
		data []byte
	}{{"info", snap.info}, {"n", snap.nodes}, {"v", snap.have}} {
		if w.data != nil {
			if err := put(w.name, w.data); err != nil {
				return err
			}
		}
	}
	return nil
}

// prove re-verifies chunk c (data: its bytes, from storage) against the
// stored tree: its hash chained with stored siblings must reach a node
// already proven or the root. mu is held.
func (sw *swarm) prove(c uint64, data []byte) (bool, error) {
	hf := merkle.HashFunc(sw.info.HashFunc)
	n := uint64(sw.info.NumChunks())
	root := merkle.RootBin(n)
	b := merkle.ChunkBin(c)
	h := hf.Sum(data)
	type node struct {
		bin  merkle.Bin
		hash []byte
	}
	var path []node // nodes on the way: computed ones and the stored siblings used
	zero := make([]byte, sw.hs)
	for {
		if sw.checked.Has(uint64(b)) {
			stored, err := sw.hashLocked(uint64(b))
			if err != nil || !bytes.Equal(stored, h) {
				return false, err
			}
			break
		}
		if b == root {
			if !bytes.Equal(h, sw.info.SwarmID) {
				return false, nil
			}
			break
		}
		sib := b.Sibling()
		sh := zero
		if first, _ := sib.Base(); first < n {
			var err error
			if sh, err = sw.hashLocked(uint64(sib)); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return false, nil
				}
				return false, err
			}
		}
		path = append(path, node{b, h}, node{sib, sh})
		pair := make([]byte, 0, 2*sw.hs)
		if b.IsLeft() {
			pair = append(append(pair, h...), sh...)
		} else {
			pair = append(append(pair, sh...), h...)
		}
		h = hf.Sum(pair)
		b = b.Parent()
	}
	// The chain holds: every stored node on the way that has the value
	// computed (siblings trivially) is proven.
	for _, p := range path {
		if sw.nodes.Has(uint64(p.bin)) {
			if stored, err := sw.hashLocked(uint64(p.bin)); err == nil && bytes.Equal(stored, p.hash) {
				sw.checked.Add(uint64(p.bin))
			}
		}
	}
	return true, nil
}

// hashLocked returns the stored hash of bin (a copy), or ErrNotFound.
func (sw *swarm) hashLocked(bin uint64) ([]byte, error) {
	if !sw.nodes.Has(bin) {
		return nil, fmt.Errorf("%w: hash of bin %d", store.ErrNotFound, bin)
	}
	g, err := sw.get(bin/GroupBins, true, false)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, errf("swarm %s: hash group of bin %d is missing", sw.dir, bin)
	}
	off := int(bin%GroupBins) * sw.hs
	return bytes.Clone(g.data[off : off+sw.hs]), nil
}
