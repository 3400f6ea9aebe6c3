package booster

import (
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/swarmgate/swarmgate/internal/feed"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// boostRow is one boosted (or locally seeded) swarm.
type boostRow struct {
	c        feed.Content
	uid      feed.UID // zero for local seeds
	seq      uint64
	added    time.Time
	lastUsed time.Time
	pinned   bool
	path     string
}

type db struct{ *sql.DB }

func openDB(path string) (*db, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_txlock=immediate&_journal_mode=WAL&_foreign_keys=on&_busy_timeout=5000"
	d, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	d.SetMaxOpenConns(1)
	names, _ := fs.Glob(migrationFS, "migrations/*.sql")
	slices.Sort(names)
	var v int
	if err := d.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		d.Close()
		return nil, err
	}
	if v > len(names) {
		d.Close()
		return nil, fmt.Errorf("booster: %s: schema version %d is newer than this build's %d", path, v, len(names))
	}
	for ; v < len(names); v++ {
		b, _ := migrationFS.ReadFile(names[v])
		if _, err := d.Exec(string(b) + fmt.Sprintf("; PRAGMA user_version = %d", v+1)); err != nil {
			d.Close()
			return nil, fmt.Errorf("booster: migration %d: %w", v+1, err)
		}
	}
	return &db{d}, nil
}

func (d *db) put(r boostRow) error {
	var uid any
	if !r.uid.IsZero() {
		uid = r.uid[:]
	}
	_, err := d.Exec(`INSERT OR REPLACE INTO boosts (root, hash_func, chunk_size, length, name, mime, uid, seq, added, last_used, pinned, path)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.c.Root, r.c.HashFunc, r.c.ChunkSize, r.c.Length, r.c.Name, r.c.MIME,
		uid, int64(r.seq), r.added.UnixMilli(), r.lastUsed.UnixMilli(), r.pinned, r.path)
	return err
}

func (d *db) all() ([]boostRow, error) {
	rows, err := d.Query(`SELECT root, hash_func, chunk_size, length, name, mime, uid, seq, added, last_used, pinned, path FROM boosts ORDER BY added`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []boostRow
	for rows.Next() {
		var r boostRow
		var uid []byte
		var seq, added, used int64
		if err := rows.Scan(&r.c.Root, &r.c.HashFunc, &r.c.ChunkSize, &r.c.Length, &r.c.Name, &r.c.MIME, &uid, &seq, &added, &used, &r.pinned, &r.path); err != nil {
			return nil, err
		}
		copy(r.uid[:], uid)
		r.seq, r.added, r.lastUsed = uint64(seq), time.UnixMilli(added), time.UnixMilli(used)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (d *db) del(root []byte) error {
	_, err := d.Exec("DELETE FROM boosts WHERE root = ?", root)
	return err
}
