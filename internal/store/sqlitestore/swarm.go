package sqlitestore

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/internal/bitset"
)

// Bitmap kinds in the bitmap table.
const (
	kindChunks = 0
	kindNodes  = 1
)

// maxPending is how many tree-node hashes PutHash buffers before it writes
// them to the sidecar: 8192 (160 KiB of SHA-1 hashes and their index, about
// 4 MiB of content downloaded in order) keeps the writes large and the
// buffer small.
const maxPending = 1 << 13

// swarm is the state of one open swarm, shared by its handles. mu guards
// everything below it. File I/O on chunks runs outside mu.
type swarm struct {
	st    *Store
	key   string
	rowID int64
	name  string // short ID for messages
	hs    int

	mu       sync.Mutex
	info     store.Info
	content  *os.File
	tree     *os.File
	chunks   bitset.Set     // verified chunks: authoritative in memory
	nodes    bitset.Set     // stored tree nodes
	pend     map[uint64]int // bin -> offset in pendBuf, not yet in the sidecar
	pendBuf  []byte
	wb       chunkBuf  // active write buffer (writebuf.go)
	fb       chunkBuf  // buffer being written; read-only while writing
	writing  bool      // a background write of fb is in flight
	wdone    sync.Cond // on mu; broadcast when writing becomes false
	werr     error     // the last failed buffer write, until one succeeds
	scratch  []byte    // for assembling runs; used by whoever writes fb/wb
	unsynced int64     // content bytes written since the last checkpoint
	gen      uint64    // bumped when in-memory state is reverted to the database's
	refs     int
	closed   bool
	err      error // sticky: state could not be reloaded after a failed sync
}

// load opens the state of info.SwarmID, creating it if new; s.mu is held.
func (s *Store) load(info store.Info) (*swarm, error) {
	rowID, stored, err := s.scanInfo(s.db.QueryRow("SELECT "+infoCols+" FROM swarm WHERE swarm_id = ?", info.SwarmID))
	isNew := errors.Is(err, sql.ErrNoRows)
	switch {
	case isNew:
		if err := info.Validate(); err != nil {
			return nil, err
		}
		stored = info.Clone()
		if stored.Path == "" {
			stored.Path = s.defaultPath(info.SwarmID)
		} else if stored.Path, err = filepath.Abs(stored.Path); err != nil {
			return nil, fmt.Errorf("sqlitestore: swarm %s: %w", store.ShortID(info.SwarmID), err)
		}
		var other []byte
		err := s.db.QueryRow("SELECT swarm_id FROM swarm WHERE path = ?", stored.Path).Scan(&other)
		switch {
		case err == nil:
			return nil, fmt.Errorf("sqlitestore: swarm %s: content file %s already belongs to swarm %x (Remove it first): %w: %w",
				store.ShortID(info.SwarmID), stored.Path, other, ErrPathInUse, store.ErrInvalidInfo)
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("sqlitestore: open swarm %s: %w", store.ShortID(info.SwarmID), err)
		}
	case err != nil:
		return nil, fmt.Errorf("sqlitestore: open swarm %s: %w", store.ShortID(info.SwarmID), err)
	}
	sw := &swarm{
		st:   s,
		key:  string(info.SwarmID),
		name: store.ShortID(info.SwarmID),
		hs:   store.HashSize(stored.HashFunc),
		info: stored,
		pend: make(map[uint64]int),
		refs: 1,
	}
	sw.wdone.L = &sw.mu
	if sw.content, err = openFile(stored.Path); err != nil {
		return nil, fmt.Errorf("sqlitestore: swarm %s: content: %w", sw.name, err)
	}
	if sw.tree, err = openFile(s.treePath(info.SwarmID)); err != nil {
		sw.content.Close()
		return nil, fmt.Errorf("sqlitestore: swarm %s: tree: %w", sw.name, err)
	}
	if isNew {
		path := stored.Path
		if path == s.defaultPath(info.SwarmID) {
			path = "" // follows the directory if it moves
		}
		res, err := s.db.Exec("INSERT INTO swarm (swarm_id, hash_func, chunk_size, length, path, name, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
			stored.SwarmID, int64(stored.HashFunc), int64(stored.ChunkSize), stored.Length, path, stored.Name, time.Now().Unix())
		if err == nil {
			sw.rowID, err = res.LastInsertId()
		}
		if err != nil {
			sw.closeFiles()
			return nil, fmt.Errorf("sqlitestore: create swarm %s: %w", sw.name, err)
		}
		return sw, nil
	}
	sw.rowID = rowID
	// sw is not shared yet: no lock needed (and closeFiles takes it).
	if err := sw.loadPagesLocked(); err != nil {
		sw.closeFiles()
		return nil, err
	}
	if err := sw.repairLocked(); err != nil {
		sw.closeFiles()
		return nil, err
	}
	return sw, nil
}

func openFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}

// loadPagesLocked replaces the in-memory maps with the committed ones.
func (sw *swarm) loadPagesLocked() error {
	sw.chunks.Reset()
	sw.nodes.Reset()
	rows, err := sw.st.db.Query("SELECT kind, page, bits FROM bitmap WHERE swarm = ?", sw.rowID)
	if err != nil {
		return fmt.Errorf("sqlitestore: swarm %s: load state: %w", sw.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, page int64
		var bits []byte
		if err := rows.Scan(&kind, &page, &bits); err != nil {
			return fmt.Errorf("sqlitestore: swarm %s: load state: %w", sw.name, err)
		}
		set := &sw.chunks
		if kind == kindNodes {
			set = &sw.nodes
		}
		if err := set.LoadPage(uint64(page), bits); err != nil {
			return fmt.Errorf("sqlitestore: swarm %s: load state: %w", sw.name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlitestore: swarm %s: load state: %w", sw.name, err)
	}
	return nil
}

// repairLocked forgets verified chunks and nodes whose bytes are not in the
// files (a content file truncated or replaced by hand, a lost sidecar), so
// they are fetched again instead of read short.
func (sw *swarm) repairLocked() error {
	fi, err := sw.content.Stat()
	if err != nil {
		return fmt.Errorf("sqlitestore: swarm %s: %w", sw.name, err)
	}
	size, cs := fi.Size(), int64(sw.info.ChunkSize)
	var drop []uint64
	sw.chunks.Each(func(c uint64) bool {
		if c >= uint64(size/cs) {
			if n := sw.info.ChunkLen(c); n == 0 || int64(c)*cs+int64(n) > size {
				drop = append(drop, c)
			}
		}
		return true
	})
	for _, c := range drop {
		sw.chunks.Remove(c)
	}
	if len(drop) > 0 {
		sw.st.log.Warn("content file shorter than its verified chunks; forgetting them", "swarm", sw.name,
			"path", sw.info.Path, "size", size, "chunks", len(drop))
	}
	fi, err = sw.tree.Stat()
	if err != nil {
		return fmt.Errorf("sqlitestore: swarm %s: %w", sw.name, err)
	}
	if n := sw.nodes.RemoveFrom(uint64(fi.Size() / int64(sw.hs))); n > 0 {
		sw.st.log.Warn("hash tree file shorter than its verified nodes; forgetting them", "swarm", sw.name,
			"path", sw.tree.Name(), "nodes", n)
	}
	return nil
}

// closeFiles marks sw closed and closes its files.
func (sw *swarm) closeFiles() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.closed {
		return
	}
	sw.waitWriterLocked()
	sw.closed = true
	sw.content.Close()
	sw.tree.Close()
	sw.chunks.Reset()
	sw.nodes.Reset()
	clear(sw.pend)
	sw.pendBuf = nil
	sw.wb, sw.fb, sw.scratch = chunkBuf{}, chunkBuf{}, nil
}

func (sw *swarm) Info() store.Info {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.info.Clone()
}

func (sw *swarm) setLength(n int64) error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.closed {
		return store.ErrClosed
	}
	if sw.err != nil {
		return sw.err
	}
	if err := store.CheckLengthChange(sw.info.Length, n, sw.info.ChunkSize, sw.chunks.AnyFrom); err != nil {
		return fmt.Errorf("sqlitestore: swarm %s: set length: %w", sw.name, err)
	}
	if n == sw.info.Length {
		return nil
	}
	if _, err := sw.st.db.Exec("UPDATE swarm SET length = ? WHERE id = ?", n, sw.rowID); err != nil {
		return fmt.Errorf("sqlitestore: swarm %s: set length: %w", sw.name, err)
	}
	sw.info.Length = n
	return nil
}

// writePendingLocked writes the buffered tree-node hashes to the sidecar,
// coalescing runs of consecutive bins into one write each.
func (sw *swarm) writePendingLocked() error {
	if len(sw.pend) == 0 {
		return nil
	}
	bins := make([]uint64, 0, len(sw.pend))
	for b := range sw.pend {
		bins = append(bins, b)
	}
	slices.Sort(bins)
	hs := sw.hs
	run := make([]byte, 0, min(len(bins), 4096)*hs)
	var start uint64
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		_, err := sw.tree.WriteAt(run, int64(start)*int64(hs))
		run = run[:0]
		return err
	}
	for k, b := range bins {
		if k == 0 || b != bins[k-1]+1 || len(run) >= 1<<20 {
			if err := flush(); err != nil {
				return fmt.Errorf("sqlitestore: swarm %s: write hash tree: %w", sw.name, err)
			}
			start = b
		}
		off := sw.pend[b]
		run = append(run, sw.pendBuf[off:off+hs]...)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("sqlitestore: swarm %s: write hash tree: %w", sw.name, err)
	}
	if len(sw.pend) > 4096 {
		sw.pend = make(map[uint64]int) // maps don't shrink
	} else {
		clear(sw.pend)
	}
	if cap(sw.pendBuf) > 4*maxPending*hs {
		sw.pendBuf = nil
	} else {
		sw.pendBuf = sw.pendBuf[:0]
	}
	return nil
}

// revert replaces the in-memory maps with the committed ones after a failed
// fdatasync: bytes written since the last checkpoint may not be on disk, so
// the chunks and nodes they carry must be fetched again.
func (sw *swarm) revert(cause error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.waitWriterLocked()
	if sw.closed {
		return
	}
	sw.gen++
	clear(sw.pend)
	sw.pendBuf = sw.pendBuf[:0]
	sw.wb.reset()
	sw.fb.reset()
	sw.werr = nil
	err := sw.loadPagesLocked()
	if err == nil {
		err = sw.repairLocked()
	}
	if err != nil {
		sw.chunks.Reset()
		sw.nodes.Reset()
		sw.err = fmt.Errorf("sqlitestore: swarm %s: state unusable after failed sync (%v); reopen it: %w", sw.name, cause, err)
		sw.st.log.Error("swarm state unusable", "swarm", sw.name, "err", sw.err)
		return
	}
	sw.st.log.Warn("sync failed; reverted to the last checkpoint", "swarm", sw.name, "err", cause)
}

// handle is one Open's view of a swarm.
type handle struct {
	s      *swarm
	closed atomic.Bool
}

var _ store.Swarm = (*handle)(nil)

// lock locks the swarm unless the handle or swarm is closed.
func (h *handle) lock() (*swarm, error) {
	if h.closed.Load() {
		return nil, store.ErrClosed
	}
	sw := h.s
	sw.mu.Lock()
	if sw.closed {
		sw.mu.Unlock()
		return nil, store.ErrClosed
	}
	return sw, nil
}

// lockWrite is lock plus the sticky error check.
func (h *handle) lockWrite() (*swarm, error) {
	sw, err := h.lock()
	if err != nil {
		return nil, err
	}
	if sw.err != nil {
		sw.mu.Unlock()
		return nil, sw.err
	}
	return sw, nil
}

func (h *handle) Info() store.Info { return h.s.Info() }

func (h *handle) SetLength(n int64) error {
	if h.closed.Load() {
		return store.ErrClosed
	}
	return h.s.setLength(n)
}

func (h *handle) NumVerified() uint64 {
	sw, err := h.lock()
	if err != nil {
		return 0
	}
	defer sw.mu.Unlock()
	return sw.chunks.Count()
}

func (h *handle) Have(c uint64) bool {
	sw, err := h.lock()
	if err != nil {
		return false
	}
	defer sw.mu.Unlock()
	return sw.chunks.Has(c)
}

func (h *handle) Verified() []store.Range {
	sw, err := h.lock()
	if err != nil {
		return nil
	}
	rs := sw.chunks.Ranges()
	sw.mu.Unlock()
	out := make([]store.Range, len(rs))
	for k, r := range rs {
		out[k] = store.Range{Start: r[0], End: r[1]}
	}
	return out
}

func fileErr(err error) error {
	if errors.Is(err, os.ErrClosed) {
		return store.ErrClosed
	}
	return err
}

func (h *handle) ReadChunk(c uint64, p []byte) (int, error) {
	sw, err := h.lock()
	if err != nil {
		return 0, err
	}
	info := sw.info
	if err := store.CheckRead(info, c, p); err != nil {
		sw.mu.Unlock()
		return 0, err
	}
	if !sw.chunks.Has(c) {
		sw.mu.Unlock()
		return 0, fmt.Errorf("sqlitestore: read chunk %d of swarm %s: %w", c, sw.name, store.ErrNotVerified)
	}
	if n, ok := sw.readBufferedLocked(c, p); ok {
		sw.mu.Unlock()
		return n, nil
	}
	f := sw.content
	sw.mu.Unlock()
	want := info.ChunkLen(c)
	n, err := f.ReadAt(p[:want], int64(c)*int64(info.ChunkSize))
	if n < want {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("%w: content file %s ends inside a verified chunk", io.ErrUnexpectedEOF, info.Path)
		}
		return 0, fmt.Errorf("sqlitestore: read chunk %d of swarm %s: %w", c, sw.name, fileErr(err))
	}
	return n, nil
}

func (h *handle) WriteChunk(c uint64, p []byte) error {
	sw, err := h.lockWrite()
	if err != nil {
		return err
	}
	if err := store.CheckWrite(sw.info, c, p); err != nil {
		sw.mu.Unlock()
		return err
	}
	if sw.chunks.Has(c) {
		sw.mu.Unlock()
		return nil
	}
	if len(p) < directWrite {
		defer sw.mu.Unlock()
		if err := sw.bufferLocked(c, p); err != nil {
			return fmt.Errorf("sqlitestore: write chunk %d: %w", c, err)
		}
		sw.addedLocked(c, len(p))
		return nil
	}
	f, gen, off := sw.content, sw.gen, int64(c)*int64(sw.info.ChunkSize)
	sw.mu.Unlock()

	// The bytes go to the file first; the chunk counts as verified only after.
	if _, err := f.WriteAt(p, off); err != nil {
		return fmt.Errorf("sqlitestore: write chunk %d of swarm %s: %w", c, sw.name, fileErr(err))
	}

	sw.mu.Lock()
	defer sw.mu.Unlock()
	switch {
	case sw.closed:
		return store.ErrClosed
	case sw.gen != gen:
		return fmt.Errorf("sqlitestore: write chunk %d of swarm %s: state reverted during the write, retry", c, sw.name)
	case sw.info.ChunkLen(c) != len(p):
		return fmt.Errorf("sqlitestore: write chunk %d of swarm %s: length changed during the write: %w", c, sw.name, store.ErrSize)
	}
	sw.addedLocked(c, len(p))
	return nil
}

// addedLocked marks chunk c, of n bytes, verified, and kicks the
// checkpointer when FlushBytes is reached.
func (sw *swarm) addedLocked(c uint64, n int) {
	if !sw.chunks.Add(c) {
		return
	}
	if total := sw.info.NumChunks(); total > 0 && sw.chunks.Count() == uint64(total) {
		// Complete: put the whole content in the file now, for readers of
		// the plain file. An error here shows again at the next checkpoint.
		sw.flushWritesLocked()
	}
	sw.unsynced += int64(n)
	if fb := sw.st.flushBytes; fb > 0 && sw.unsynced >= fb {
		sw.unsynced = 0
		select {
		case sw.st.kick <- struct{}{}:
		default:
		}
	}
}

func (h *handle) PutHash(bin uint64, hash []byte) error {
	return h.PutHashes([]uint64{bin}, hash)
}

func (h *handle) PutHashes(bins []uint64, hashes []byte) error {
	sw, err := h.lockWrite()
	if err != nil {
		return err
	}
	defer sw.mu.Unlock()
	if err := store.CheckHashes(sw.info, bins, hashes); err != nil {
		return err
	}
	if len(sw.pend) >= maxPending {
		if err := sw.writePendingLocked(); err != nil {
			return err
		}
	}
	hs := sw.hs
	for k, b := range bins {
		if !sw.nodes.Add(b) {
			continue
		}
		sw.pend[b] = len(sw.pendBuf)
		sw.pendBuf = append(sw.pendBuf, hashes[k*hs:(k+1)*hs]...)
	}
	return nil
}

func (h *handle) Hash(bin uint64) ([]byte, error) {
	sw, err := h.lock()
	if err != nil {
		return nil, err
	}
	if !sw.nodes.Has(bin) {
		sw.mu.Unlock()
		return nil, fmt.Errorf("sqlitestore: hash of bin %d of swarm %s: %w", bin, sw.name, store.ErrNotFound)
	}
	hs := sw.hs
	if off, ok := sw.pend[bin]; ok {
		out := append([]byte(nil), sw.pendBuf[off:off+hs]...)
		sw.mu.Unlock()
		return out, nil
	}
	f := sw.tree
	sw.mu.Unlock()
	out := make([]byte, hs)
	if _, err := f.ReadAt(out, int64(bin)*int64(hs)); err != nil {
		return nil, fmt.Errorf("sqlitestore: hash of bin %d of swarm %s: %w", bin, sw.name, fileErr(err))
	}
	return out, nil
}

var _ store.HashReader = (*handle)(nil)

// ReadHashes reads a run of node hashes: known bits from the in-memory map,
// bytes from the sidecar file, and the hashes still buffered from memory.
func (h *handle) ReadHashes(first uint64, dst []byte, known []uint64) error {
	sw, err := h.lock()
	if err != nil {
		return err
	}
	hs := sw.hs
	n := uint64(len(dst) / hs)
	if uint64(len(known))*64 < n {
		sw.mu.Unlock()
		return fmt.Errorf("sqlitestore: read hashes: known has %d words for %d bins", len(known), n)
	}
	clear(known)
	any := false
	var pend []uint64 // bins whose bytes are still in pendBuf, copied below
	for k := uint64(0); k < n; k++ {
		b := first + k
		if !sw.nodes.Has(b) {
			continue
		}
		known[k/64] |= 1 << (k % 64)
		any = true
		if off, ok := sw.pend[b]; ok {
			copy(dst[k*uint64(hs):], sw.pendBuf[off:off+hs])
			pend = append(pend, k)
		}
	}
	f := sw.tree
	sw.mu.Unlock()
	if !any || len(pend) == int(countBits(known)) {
		return nil
	}
	// Stored hashes are immutable, so reading outside the lock is safe:
	// a bin buffered above may meanwhile reach the file with the same bytes.
	saved := make([]byte, len(pend)*hs)
	for i, k := range pend {
		copy(saved[i*hs:], dst[k*uint64(hs):(k+1)*uint64(hs)])
	}
	got, err := f.ReadAt(dst, int64(first)*int64(hs))
	if err != nil && err != io.EOF {
		return fmt.Errorf("sqlitestore: hashes of swarm %s: %w", sw.name, fileErr(err))
	}
	for i, k := range pend {
		copy(dst[k*uint64(hs):], saved[i*hs:(i+1)*hs])
	}
	// A known bin past the end of the file (repairLocked forgets those at
	// Open; a failed write may leave more): not known after all.
	for k := uint64(got / hs); k < n; k++ {
		if known[k/64]&(1<<(k%64)) != 0 && !slicesContains(pend, k) {
			known[k/64] &^= 1 << (k % 64)
		}
	}
	return nil
}

func countBits(ws []uint64) (n int) {
	for _, w := range ws {
		n += bits.OnesCount64(w)
	}
	return n
}

func slicesContains(s []uint64, v uint64) bool { return slices.Contains(s, v) }

// hashBlock is how many node hashes Hashes reads from the sidecar at once.
const hashBlock = 4096

func (h *handle) Hashes(fn func(bin uint64, hash []byte)) error {
	sw, err := h.lock()
	if err != nil {
		return err
	}
	nodes := sw.nodes.Clone()
	pend := make(map[uint64][]byte, len(sw.pend))
	for b, off := range sw.pend {
		pend[b] = append([]byte(nil), sw.pendBuf[off:off+sw.hs]...)
	}
	f, hs := sw.tree, sw.hs
	sw.mu.Unlock()

	for _, r := range nodes.Ranges() {
		for a := r[0]; ; a += hashBlock {
			n := min(r[1]-a+1, hashBlock)
			buf := make([]byte, int(n)*hs)
			got, err := f.ReadAt(buf, int64(a)*int64(hs))
			if err != nil && err != io.EOF {
				return fmt.Errorf("sqlitestore: hashes of swarm %s: %w", sw.name, fileErr(err))
			}
			for k := range int(n) {
				b := a + uint64(k)
				if v, ok := pend[b]; ok {
					fn(b, v)
					continue
				}
				if (k+1)*hs > got {
					return fmt.Errorf("sqlitestore: hashes of swarm %s: %s ends before bin %d: %w", sw.name, f.Name(), b, io.ErrUnexpectedEOF)
				}
				fn(b, buf[k*hs:(k+1)*hs:(k+1)*hs])
			}
			if r[1]-a < hashBlock {
				break
			}
		}
	}
	return nil
}

func (h *handle) Flush() error {
	sw, err := h.lockWrite()
	if err != nil {
		return err
	}
	sw.mu.Unlock()
	if err := sw.st.checkpoint([]*swarm{sw}); err != nil {
		return err
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.err
}

func (h *handle) Close() error {
	if h.closed.Swap(true) {
		return nil
	}
	return h.s.st.release(h.s)
}
