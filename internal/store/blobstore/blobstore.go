// Package blobstore is a store.Store over named blobs, each written whole
// and atomically: what a browser offers (the Origin Private File System's
// files, IndexedDB's values). The browser client keeps its chunks and its
// hash tree here, so a tab holds only bounded caches of a video, whatever
// its size, and a link already fetched plays again from local storage.
//
// Layout: one directory per swarm (the swarm ID in hex) holding
//
//	info     the swarm's store.Info (JSON)
//	c<k>     content block k: BlockBytes of content (1 MiB; the last block shorter)
//	h<k>     tree-node hashes of bins k·GroupBins … (k+1)·GroupBins−1, back to back
//	v<k>     page k of the verified-chunk bitmap (store/internal/bitset)
//	n<k>     page k of the stored-tree-node bitmap
//
// Writes stay in memory (a block or group marked dirty) until a flush, which
// runs every FlushInterval, when MaxDirty bytes are dirty, and on Flush and
// Close. A flush writes the blocks and hash groups first and the bitmap
// pages after them, from one snapshot: a chunk is marked verified in
// storage only once its bytes are, so a tab closed at any moment loses at
// most the last interval and never marks a chunk it did not store.
//
// Chunks read back from storage, written by an earlier session, are
// re-verified before they are returned: the chunk's hash is chained with
// the stored sibling hashes up to the root (the swarm ID); a chunk that
// fails is dropped from the verified map and ReadChunk answers
// ErrNotVerified wrapped in ErrCorrupt. Nodes proven so are remembered, so
// reading a file in order costs about one extra hash per chunk.
package blobstore

import (
	"errors"
	"fmt"
	"time"
)

// Blobs is the storage a Store runs on: directories of named blobs. Every
// method may block (a browser's Promise); Put replaces a blob atomically
// (the old or the new bytes, never a mix). Implementations are safe for
// concurrent use.
type Blobs interface {
	// Get returns the blob's bytes, or an error wrapping ErrNoBlob.
	Get(dir, name string) ([]byte, error)
	// Put creates or replaces a blob.
	Put(dir, name string, data []byte) error
	// List returns the names of the blobs in dir (none if dir is missing).
	List(dir string) ([]string, error)
	// Dirs returns every directory.
	Dirs() ([]string, error)
	// RemoveDir deletes dir and its blobs; a missing dir is no error.
	RemoveDir(dir string) error
}

// Errors.
var (
	ErrNoBlob  = errors.New("blobstore: no such blob")
	ErrCorrupt = errors.New("blobstore: stored chunk failed re-verification")
)

// Options bound a Store. Zero values pick the defaults.
type Options struct {
	// BlockBytes is the size of a content blob (rounded up to a multiple
	// of the chunk size). Default 1 MiB.
	BlockBytes int
	// CacheBytes bounds the clean content blocks kept in memory per swarm
	// (dirty ones stay until flushed). Default 2 MiB.
	CacheBytes int
	// HashCacheBytes bounds the clean hash groups kept in memory per swarm.
	// Default 1 MiB.
	HashCacheBytes int
	// MaxDirty is how many dirty bytes of one swarm start a flush at once
	// rather than at the next interval; twice as many make the writer
	// wait for the flush (storage slower than the network). Default 4 MiB.
	MaxDirty int
	// FlushInterval is the period of the background flush. Default 1 s;
	// negative: only on Flush, Close and MaxDirty.
	FlushInterval time.Duration
	// TrustStored skips the re-verification of chunks read back from
	// storage: for stores whose hashes are not a real tree (the
	// conformance suite's synthetic data). Never in the browser.
	TrustStored bool
}

// GroupBins is how many consecutive tree bins one hash blob holds.
const GroupBins = 2048

func (o *Options) setDefaults() {
	if o.BlockBytes <= 0 {
		o.BlockBytes = 1 << 20
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = 2 << 20
	}
	if o.HashCacheBytes <= 0 {
		o.HashCacheBytes = 1 << 20
	}
	if o.MaxDirty <= 0 {
		o.MaxDirty = 4 << 20
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = time.Second
	}
}

func errf(format string, a ...any) error { return fmt.Errorf("blobstore: "+format, a...) }
