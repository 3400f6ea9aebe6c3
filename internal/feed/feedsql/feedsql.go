// Package feedsql is the SQLite implementation of feed.Store (cgo,
// mattn/go-sqlite3): embedded schema and numbered migrations, WAL, foreign
// keys on, immediate transactions. It passes the feedtest conformance suite.
package feedsql

import (
	"bytes"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/swarmgate/swarmgate/internal/feed"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is a feed.Store in one SQLite file.
type Store struct {
	db *sql.DB
}

var _ feed.Store = (*Store)(nil)

// Open opens (creating it) the database at path.
func Open(path string) (*Store, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_txlock=immediate&_journal_mode=WAL&_foreign_keys=on&_busy_timeout=5000&_synchronous=NORMAL"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("feedsql: %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

func migrate(db *sql.DB) error {
	names, _ := fs.Glob(migrationFS, "migrations/*.sql")
	slices.Sort(names)
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > len(names) {
		return fmt.Errorf("schema version %d is newer than this build's %d", v, len(names))
	}
	for ; v < len(names); v++ {
		b, _ := migrationFS.ReadFile(names[v])
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(string(b)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) Close() error { return s.db.Close() }

func (s *Store) AddPost(p *feed.Post, raw []byte) (bool, error) {
	tx, err := s.db.Begin()
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var old []byte
	err = tx.QueryRow("SELECT raw FROM posts WHERE uid = ? AND seq = ?", p.UID[:], int64(p.Seq)).Scan(&old)
	switch {
	case err == nil:
		if bytes.Equal(old, raw) {
			return false, nil
		}
		if _, err := tx.Exec("INSERT OR IGNORE INTO flags (uid, reason) VALUES (?, ?)", p.UID[:],
			fmt.Sprintf("equivocation: two different posts signed with seq %d", p.Seq)); err != nil {
			return false, err
		}
		if err := tx.Commit(); err != nil {
			return false, err
		}
		return false, feed.ErrEquivocation
	case errors.Is(err, sql.ErrNoRows):
	default:
		return false, err
	}
	if _, err := tx.Exec("INSERT INTO posts (uid, seq, time, raw) VALUES (?, ?, ?, ?)", p.UID[:], int64(p.Seq), p.Time.UnixMilli(), raw); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

func (s *Store) Post(uid feed.UID, seq uint64) ([]byte, error) {
	var raw []byte
	err := s.db.QueryRow("SELECT raw FROM posts WHERE uid = ? AND seq = ?", uid[:], int64(seq)).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, feed.ErrNotFound
	}
	return raw, err
}

func (s *Store) Head(uid feed.UID) (uint64, error) {
	var h sql.NullInt64
	err := s.db.QueryRow("SELECT MAX(seq) FROM posts WHERE uid = ?", uid[:]).Scan(&h)
	return uint64(h.Int64), err
}

func (s *Store) raws(q string, args ...any) ([][]byte, error) {
	rows, err := s.db.Query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	return out, rows.Err()
}

func (s *Store) Posts(uid feed.UID, after uint64, from, to time.Time, limit int) ([][]byte, error) {
	lo, hi := int64(-1<<62), int64(1<<62)
	if !from.IsZero() {
		lo = from.UnixMilli()
	}
	if !to.IsZero() {
		hi = to.UnixMilli()
	}
	return s.raws("SELECT raw FROM posts WHERE uid = ? AND seq > ? AND time BETWEEN ? AND ? ORDER BY seq LIMIT ?",
		uid[:], int64(after), lo, hi, limit)
}

func (s *Store) Recent(uid feed.UID, limit int) ([][]byte, error) {
	return s.raws("SELECT raw FROM posts WHERE uid = ? ORDER BY seq DESC LIMIT ?", uid[:], limit)
}

func (s *Store) Missing(uid feed.UID, limit int) ([]uint64, error) {
	rows, err := s.db.Query("SELECT seq FROM posts WHERE uid = ? ORDER BY seq", uid[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint64
	next := uint64(1)
	for rows.Next() && len(out) < limit {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, err
		}
		for ; next < uint64(seq) && len(out) < limit; next++ {
			out = append(out, next)
		}
		next = uint64(seq) + 1
	}
	return out, rows.Err()
}

func (s *Store) Flag(uid feed.UID, reason string) error {
	_, err := s.db.Exec("INSERT OR IGNORE INTO flags (uid, reason) VALUES (?, ?)", uid[:], reason)
	return err
}

func (s *Store) Flagged(uid feed.UID) (string, bool, error) {
	var r string
	err := s.db.QueryRow("SELECT reason FROM flags WHERE uid = ?", uid[:]).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return r, err == nil, err
}

func (s *Store) SetFollow(f feed.Follow) error {
	_, err := s.db.Exec("INSERT OR REPLACE INTO follows (uid, name, nodes, since) VALUES (?, ?, ?, ?)",
		f.UID[:], f.Name, strings.Join(f.Nodes, "\n"), f.Since.UnixMilli())
	return err
}

func (s *Store) DeleteFollow(uid feed.UID) error {
	_, err := s.db.Exec("DELETE FROM follows WHERE uid = ?", uid[:])
	return err
}

func (s *Store) Follows() ([]feed.Follow, error) {
	rows, err := s.db.Query("SELECT uid, name, nodes, since FROM follows ORDER BY uid")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []feed.Follow
	for rows.Next() {
		var f feed.Follow
		var uid []byte
		var nodes string
		var since int64
		if err := rows.Scan(&uid, &f.Name, &nodes, &since); err != nil {
			return nil, err
		}
		copy(f.UID[:], uid)
		if nodes != "" {
			f.Nodes = strings.Split(nodes, "\n")
		}
		f.Since = time.UnixMilli(since)
		out = append(out, f)
	}
	return out, rows.Err()
}

func (s *Store) SetFollower(r *feed.FollowRequest) error {
	if r.Unfollow {
		_, err := s.db.Exec("DELETE FROM followers WHERE publisher = ? AND follower = ?", r.Publisher[:], r.Follower[:])
		return err
	}
	raw, err := r.Marshal()
	if err != nil {
		return err
	}
	_, err = s.db.Exec("INSERT OR REPLACE INTO followers (publisher, follower, raw) VALUES (?, ?, ?)", r.Publisher[:], r.Follower[:], raw)
	return err
}

func (s *Store) Follower(publisher, follower feed.UID) (*feed.FollowRequest, error) {
	var raw []byte
	err := s.db.QueryRow("SELECT raw FROM followers WHERE publisher = ? AND follower = ?", publisher[:], follower[:]).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, feed.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return feed.ParseFollowRequest(raw)
}

func (s *Store) Followers(publisher feed.UID) ([]*feed.FollowRequest, error) {
	raws, err := s.raws("SELECT raw FROM followers WHERE publisher = ? ORDER BY follower", publisher[:])
	if err != nil {
		return nil, err
	}
	var out []*feed.FollowRequest
	for _, raw := range raws {
		r, err := feed.ParseFollowRequest(raw)
		if err != nil {
			continue // never hand out what does not verify
		}
		out = append(out, r)
	}
	return out, nil
}
