package sqlitestore

import (
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // database/sql driver "sqlite3"

	"github.com/swarmgate/swarmgate/internal/store"
)

// ErrLocked means another Store (in this or another process) has the
// directory open.
var ErrLocked = errors.New("sqlitestore: directory in use by another store")

// ErrPathInUse means a new swarm's Info.Path is the content file of another
// swarm (say, a file edited and seeded again): two swarms writing one file
// would corrupt each other's verified chunks. Remove the other swarm first.
// The error also matches store.ErrInvalidInfo.
var ErrPathInUse = errors.New("sqlitestore: content file in use by another swarm")

// File names inside Config.Dir.
const (
	DBName     = "swarmgate.db"   // the SQLite database
	LockName   = "swarmgate.lock" // flock(2)ed while a Store has the directory open
	ContentDir = "content"        // default content files, <swarm hex>
	TreeDir    = "trees"          // hash-tree sidecar files, <swarm hex>.mhash
)

// Defaults for Config fields left zero.
const (
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultFlushBytes    = 16 << 20
)

// Config configures a Store. Zero values other than Dir get the defaults
// given per field.
type Config struct {
	// Dir holds the database, the lock file, the hash-tree sidecars and
	// (unless Info.Path says otherwise) the content files. Created if missing.
	Dir string
	// FlushInterval is the checkpoint cadence: every interval the store makes
	// each changed swarm durable (content and tree files fdatasync'ed, then the
	// verified maps committed to SQLite in one transaction). It bounds what a
	// crash can lose. Default 100ms; negative: only Flush and Close checkpoint.
	FlushInterval time.Duration
	// FlushBytes starts a checkpoint early once a swarm has this many content
	// bytes written since its last one. Default 16 MiB; negative: never.
	FlushBytes int64
	// Logger receives checkpoint failures and state repairs found at Open.
	// Default: discard.
	Logger *slog.Logger
}

// Store is the SQLite-backed store.Store. It owns its directory: a second
// Store on the same directory fails with ErrLocked.
type Store struct {
	dir        string
	flushBytes int64
	log        *slog.Logger
	db         *sql.DB
	lock       *os.File

	// mu guards open and closed, and is held while a swarm's state is
	// created or torn down. Lock order: mu, ckptMu, swarm.mu.
	mu     sync.Mutex
	open   map[string]*swarm
	closed bool

	ckptMu sync.Mutex // one checkpoint at a time

	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store in cfg.Dir, migrates its schema
// and starts the background checkpointer, which Close stops.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("sqlitestore: Config.Dir is empty")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.FlushBytes == 0 {
		cfg.FlushBytes = DefaultFlushBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	lock, err := lockFile(filepath.Join(dir, LockName))
	if err != nil {
		return nil, err
	}
	dsn := "file:" + (&url.URL{Path: filepath.Join(dir, DBName)}).EscapedPath() +
		"?_txlock=immediate&_foreign_keys=on&_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000"
	db, err := sql.Open("sqlite3", dsn)
	if err == nil {
		db.SetMaxOpenConns(4)
		err = db.Ping()
	}
	if err == nil {
		err = migrate(db)
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		lock.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", filepath.Join(dir, DBName), err)
	}
	s := &Store{
		dir:        dir,
		flushBytes: cfg.FlushBytes,
		log:        cfg.Logger,
		db:         db,
		lock:       lock,
		open:       make(map[string]*swarm),
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	go s.checkpointer(cfg.FlushInterval)
	return s, nil
}

// Dir returns the store's directory (absolute).
func (s *Store) Dir() string { return s.dir }

// DB returns the underlying database, for other tables that share the file
// (migrations for those belong to their owners) and for tests.
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) defaultPath(id []byte) string {
	return filepath.Join(s.dir, ContentDir, hex.EncodeToString(id))
}

func (s *Store) treePath(id []byte) string {
	return filepath.Join(s.dir, TreeDir, hex.EncodeToString(id)+".mhash")
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
	key := string(info.SwarmID)
	sw := s.open[key]
	if sw == nil {
		var err error
		if sw, err = s.load(info); err != nil {
			return nil, err
		}
		s.open[key] = sw
	} else {
		sw.mu.Lock()
		sw.refs++
		sw.mu.Unlock()
	}
	if info.Length >= 0 && sw.Info().Length < 0 {
		if err := sw.setLength(info.Length); err != nil {
			sw.mu.Lock()
			sw.refs--
			last := sw.refs == 0
			sw.mu.Unlock()
			if last {
				delete(s.open, key)
				s.ckptMu.Lock()
				sw.closeFiles()
				s.ckptMu.Unlock()
			}
			return nil, err
		}
	}
	return &handle{s: sw}, nil
}

const infoCols = "id, swarm_id, hash_func, chunk_size, length, path, name"

func (s *Store) scanInfo(row interface{ Scan(...any) error }) (int64, store.Info, error) {
	var (
		id   int64
		in   store.Info
		hf   int64
		cs   int64
		path string
	)
	if err := row.Scan(&id, &in.SwarmID, &hf, &cs, &in.Length, &path, &in.Name); err != nil {
		return 0, in, err
	}
	in.HashFunc, in.ChunkSize, in.Path = uint8(hf), uint32(cs), path
	if path == "" {
		in.Path = s.defaultPath(in.SwarmID)
	}
	return id, in, nil
}

// Get implements store.Store.
func (s *Store) Get(id []byte) (store.Info, error) {
	if err := s.checkOpen(); err != nil {
		return store.Info{}, err
	}
	_, in, err := s.scanInfo(s.db.QueryRow("SELECT "+infoCols+" FROM swarm WHERE swarm_id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Info{}, fmt.Errorf("sqlitestore: swarm %s: %w", store.ShortID(id), store.ErrNotFound)
	}
	if err != nil {
		return store.Info{}, fmt.Errorf("sqlitestore: get swarm %s: %w", store.ShortID(id), err)
	}
	return in, nil
}

// List implements store.Store.
func (s *Store) List() ([]store.Info, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.db.Query("SELECT " + infoCols + " FROM swarm ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list: %w", err)
	}
	defer rows.Close()
	var out []store.Info
	for rows.Next() {
		_, in, err := s.scanInfo(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: list: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list: %w", err)
	}
	return out, nil
}

// Remove implements store.Store: it deletes the swarm's rows and its tree
// sidecar, not its content file.
func (s *Store) Remove(id []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.ckptMu.Lock()
	defer s.ckptMu.Unlock()
	if sw := s.open[string(id)]; sw != nil {
		sw.closeFiles()
		delete(s.open, string(id))
	}
	res, err := s.db.Exec("DELETE FROM swarm WHERE swarm_id = ?", id)
	if err != nil {
		return fmt.Errorf("sqlitestore: remove swarm %s: %w", store.ShortID(id), err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("sqlitestore: remove swarm %s: %w", store.ShortID(id), store.ErrNotFound)
	}
	if err := os.Remove(s.treePath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sqlitestore: remove swarm %s: %w", store.ShortID(id), err)
	}
	return nil
}

// Close checkpoints and closes every open swarm, then the database.
// Handles still open fail with store.ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.mu.Lock()
		s.closed = true
		list := s.openList()
		s.open = nil
		s.ckptMu.Lock()
		err := s.checkpointLocked(list)
		for _, sw := range list {
			sw.closeFiles()
		}
		s.ckptMu.Unlock()
		s.mu.Unlock()
		s.closeErr = errors.Join(err, s.db.Close(), s.lock.Close())
	})
	return s.closeErr
}

func (s *Store) checkOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// openList returns the open swarms; s.mu must be held.
func (s *Store) openList() []*swarm {
	list := make([]*swarm, 0, len(s.open))
	for _, sw := range s.open {
		list = append(list, sw)
	}
	return list
}

// release drops one reference to sw, checkpointing and closing it when it
// was the last.
func (s *Store) release(sw *swarm) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sw.mu.Lock()
	sw.refs--
	last := sw.refs == 0 && !sw.closed
	sw.mu.Unlock()
	if !last {
		return nil
	}
	delete(s.open, sw.key)
	s.ckptMu.Lock()
	defer s.ckptMu.Unlock()
	err := s.checkpointLocked([]*swarm{sw})
	sw.closeFiles()
	return err
}

// checkpointer runs the periodic and FlushBytes-triggered checkpoints until
// Close.
func (s *Store) checkpointer(interval time.Duration) {
	defer close(s.done)
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	var lastErr string
	for {
		select {
		case <-s.stop:
			return
		case <-tick:
		case <-s.kick:
		}
		s.mu.Lock()
		list := s.openList()
		s.mu.Unlock()
		err := s.checkpoint(list)
		switch {
		case err != nil && err.Error() != lastErr:
			s.log.Warn("checkpoint failed", "err", err)
			lastErr = err.Error()
		case err == nil && lastErr != "":
			s.log.Info("checkpoint recovered")
			lastErr = ""
		}
	}
}
