package blobstore

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/swarmgate/swarmgate/internal/store"
)

// Store is a store.Store over Blobs. Open swarms keep their verified-chunk
// and stored-node maps in memory (compact bitsets) and bounded caches of
// content blocks and hash groups; everything else stays in the Blobs.
type Store struct {
	b    Blobs
	opt  Options
	stop chan struct{}
	kick chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	swarms map[string]*swarm // open swarms by directory
	seq    int64             // creation counter for List's order
	closed bool
}

// infoBlob is the JSON form of a swarm's info blob.
type infoBlob struct {
	ID        string `json:"id"`
	HashFunc  uint8  `json:"hash"`
	ChunkSize uint32 `json:"chunk"`
	Length    int64  `json:"length"`
	Path      string `json:"path,omitempty"`
	Name      string `json:"name,omitempty"`
	Seq       int64  `json:"seq"`
	Used      int64  `json:"used"` // unix seconds of the last Open, for Trim
}

// maxInfoBytes bounds an info blob read back.
const maxInfoBytes = 64 << 10

// Open returns a Store over b. It reads only the directory list; swarms
// load when opened.
func Open(b Blobs, opt Options) (*Store, error) {
	opt.setDefaults()
	s := &Store{b: b, opt: opt, stop: make(chan struct{}), kick: make(chan struct{}, 1), swarms: map[string]*swarm{}}
	infos, err := s.infos()
	if err != nil {
		return nil, err
	}
	for _, in := range infos {
		s.seq = max(s.seq, in.Seq)
	}
	s.wg.Add(1)
	go s.flusher()
	return s, nil
}

var _ store.Store = (*Store)(nil)

func dirOf(id []byte) string { return hex.EncodeToString(id) }

// readInfo reads and checks a swarm's info blob.
func (s *Store) readInfo(dir string) (infoBlob, error) {
	raw, err := s.b.Get(dir, "info")
	if err != nil {
		if errors.Is(err, ErrNoBlob) {
			return infoBlob{}, fmt.Errorf("%w: swarm %s", store.ErrNotFound, dir)
		}
		return infoBlob{}, errf("swarm %s: %w", dir, err)
	}
	var ib infoBlob
	if len(raw) > maxInfoBytes {
		return infoBlob{}, errf("swarm %s: info of %d bytes", dir, len(raw))
	}
	if err := json.Unmarshal(raw, &ib); err != nil {
		return infoBlob{}, errf("swarm %s: info: %w", dir, err)
	}
	if ib.ID != dir {
		return infoBlob{}, errf("swarm %s: info names swarm %q", dir, ib.ID)
	}
	if err := ib.info().Validate(); err != nil {
		return infoBlob{}, errf("swarm %s: %w", dir, err)
	}
	return ib, nil
}

func (ib infoBlob) info() store.Info {
	id, _ := hex.DecodeString(ib.ID)
	return store.Info{SwarmID: id, HashFunc: ib.HashFunc, ChunkSize: ib.ChunkSize, Length: ib.Length, Path: ib.Path, Name: ib.Name}
}

func (s *Store) writeInfo(ib infoBlob) error {
	raw, _ := json.Marshal(ib)
	if err := s.b.Put(ib.ID, "info", raw); err != nil {
		return errf("swarm %s: writing info: %w", ib.ID, err)
	}
	return nil
}

// infos reads every swarm's info, in creation order; directories without
// a valid info (a swarm whose creation was cut short) are skipped.
func (s *Store) infos() ([]infoBlob, error) {
	dirs, err := s.b.Dirs()
	if err != nil {
		return nil, errf("listing: %w", err)
	}
	var out []infoBlob
	for _, d := range dirs {
		if ib, err := s.readInfo(d); err == nil {
			out = append(out, ib)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// Open implements store.Store.
func (s *Store) Open(info store.Info) (store.Swarm, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	if len(info.SwarmID) == 0 {
		return nil, fmt.Errorf("%w: empty swarm ID", store.ErrInvalidInfo)
	}
	dir := dirOf(info.SwarmID)
	sw := s.swarms[dir]
	if sw == nil {
		ib, err := s.readInfo(dir)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if err := info.Validate(); err != nil {
				return nil, err
			}
			s.seq++
			ib = infoBlob{ID: dir, HashFunc: info.HashFunc, ChunkSize: info.ChunkSize, Length: info.Length,
				Path: info.Path, Name: info.Name, Seq: s.seq}
		case err != nil:
			return nil, err
		}
		ib.Used = time.Now().Unix()
		if err := s.writeInfo(ib); err != nil {
			return nil, err
		}
		if sw, err = s.load(ib); err != nil {
			return nil, err
		}
		s.swarms[dir] = sw
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if info.Length >= 0 && sw.info.Length < 0 {
		sw.info.Length = info.Length
		sw.infoDirty = true
	}
	sw.refs++
	return &handle{sw: sw}, nil
}

// Get implements store.Store.
func (s *Store) Get(id []byte) (store.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Info{}, store.ErrClosed
	}
	dir := dirOf(id)
	if sw := s.swarms[dir]; sw != nil {
		sw.mu.Lock()
		defer sw.mu.Unlock()
		return sw.info.Clone(), nil
	}
	ib, err := s.readInfo(dir)
	if err != nil {
		return store.Info{}, err
	}
	return ib.info(), nil
}

// List implements store.Store.
func (s *Store) List() ([]store.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	ibs, err := s.infos()
	if err != nil {
		return nil, err
	}
	out := make([]store.Info, 0, len(ibs))
	for _, ib := range ibs {
		if sw := s.swarms[ib.ID]; sw != nil {
			sw.mu.Lock()
			out = append(out, sw.info.Clone())
			sw.mu.Unlock()
			continue
		}
		out = append(out, ib.info())
	}
	return out, nil
}

// Remove implements store.Store: the swarm's blobs are deleted.
func (s *Store) Remove(id []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	dir := dirOf(id)
	if sw := s.swarms[dir]; sw != nil {
		sw.mu.Lock()
		sw.removed = true
		sw.mu.Unlock()
		delete(s.swarms, dir)
	} else if _, err := s.readInfo(dir); err != nil {
		return err
	}
	if err := s.b.RemoveDir(dir); err != nil {
		return errf("removing swarm %s: %w", dir, err)
	}
	return nil
}

// Trim removes the least recently opened swarms, none of them open now
// and none in keep, until the content they hold adds up to at most budget
// bytes. It returns how many it removed. A tab calls it before a new
// download, with a budget from the browser's storage estimate.
func (s *Store) Trim(budget int64, keep ...[]byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, store.ErrClosed
	}
	ibs, err := s.infos()
	if err != nil {
		return 0, err
	}
	kept := map[string]bool{}
	for _, k := range keep {
		kept[dirOf(k)] = true
	}
	var total int64
	for _, ib := range ibs {
		total += max(ib.Length, 0)
	}
	sort.SliceStable(ibs, func(i, j int) bool { return ibs[i].Used < ibs[j].Used })
	n := 0
	for _, ib := range ibs {
		if total <= budget {
			break
		}
		if kept[ib.ID] || s.swarms[ib.ID] != nil {
			continue
		}
		if err := s.b.RemoveDir(ib.ID); err != nil {
			return n, errf("removing swarm %s: %w", ib.ID, err)
		}
		total -= max(ib.Length, 0)
		n++
	}
	return n, nil
}

// Close flushes and closes every open swarm; their handles fail with
// ErrClosed afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	open := make([]*swarm, 0, len(s.swarms))
	for _, sw := range s.swarms {
		open = append(open, sw)
	}
	s.swarms = map[string]*swarm{}
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	var first error
	for _, sw := range open {
		if err := sw.flush(); err != nil && first == nil {
			first = err
		}
		sw.mu.Lock()
		sw.removed = true
		sw.mu.Unlock()
	}
	return first
}

// flusher flushes the open swarms every FlushInterval, and at once when
// one has MaxDirty bytes waiting.
func (s *Store) flusher() {
	defer s.wg.Done()
	var tick <-chan time.Time
	if s.opt.FlushInterval > 0 {
		t := time.NewTicker(s.opt.FlushInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.stop:
			return
		case <-tick:
		case <-s.kick:
		}
		s.mu.Lock()
		open := make([]*swarm, 0, len(s.swarms))
		for _, sw := range s.swarms {
			open = append(open, sw)
		}
		s.mu.Unlock()
		for _, sw := range open {
			sw.flush() // an error stays in sw.werr, for the writer to see
		}
	}
}

// release drops the last handle's swarm from memory after flushing it.
func (s *Store) release(sw *swarm) error {
	err := sw.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.refs == 0 && s.swarms[sw.dir] == sw {
		delete(s.swarms, sw.dir)
	}
	return err
}
