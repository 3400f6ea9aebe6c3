package gateway

import (
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"
)

// catalog is the gateway's own table in the node's SQLite database: what
// the gateway holds, with the media type and name links gave it, and when
// each was last used (the eviction order).
type catalog struct{ db *sql.DB }

// catalogMigrations take the gateway_schema version from k to k+1. An
// existing migration never changes; new ones are appended.
var catalogMigrations = []string{
	`CREATE TABLE gateway_content (
		root       BLOB PRIMARY KEY,
		name       TEXT NOT NULL DEFAULT '',
		mime       TEXT NOT NULL DEFAULT '',
		last_used  INTEGER NOT NULL,
		pinned     INTEGER NOT NULL DEFAULT 0
	) WITHOUT ROWID;
	CREATE INDEX gateway_content_lru ON gateway_content(last_used);`,
}

func openCatalog(db *sql.DB) (*catalog, error) {
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS gateway_schema (version INTEGER NOT NULL)`); err != nil {
		return nil, fmt.Errorf("gateway catalog: %w", err)
	}
	for {
		tx, err := db.Begin()
		if err != nil {
			return nil, fmt.Errorf("gateway catalog: %w", err)
		}
		var v int
		err = tx.QueryRow(`SELECT version FROM gateway_schema`).Scan(&v)
		if err == sql.ErrNoRows {
			_, err = tx.Exec(`INSERT INTO gateway_schema(version) VALUES (0)`)
		}
		if err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("gateway catalog: %w", err)
		}
		if v >= len(catalogMigrations) {
			tx.Rollback()
			return &catalog{db: db}, nil
		}
		if _, err := tx.Exec(catalogMigrations[v]); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("gateway catalog: migration %d: %w", v+1, err)
		}
		if _, err := tx.Exec(`UPDATE gateway_schema SET version = ?`, v+1); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("gateway catalog: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("gateway catalog: %w", err)
		}
	}
}

// entryMeta is one catalog row.
type entryMeta struct {
	Root     []byte
	Name     string
	MIME     string
	LastUsed time.Time
	Pinned   bool
}

// touch records use of root now, keeping a known name and type unless new
// ones are given.
func (c *catalog) touch(root []byte, name, mime string, now time.Time) error {
	_, err := c.db.Exec(`INSERT INTO gateway_content(root, name, mime, last_used) VALUES (?, ?, ?, ?)
		ON CONFLICT(root) DO UPDATE SET last_used = excluded.last_used,
			name = CASE WHEN excluded.name != '' THEN excluded.name ELSE name END,
			mime = CASE WHEN excluded.mime != '' THEN excluded.mime ELSE mime END`,
		root, name, mime, now.UnixMilli())
	return err
}

// pin marks root as never evicted (content the operator seeds).
func (c *catalog) pin(root []byte, on bool) error {
	_, err := c.db.Exec(`UPDATE gateway_content SET pinned = ? WHERE root = ?`, on, root)
	return err
}

func (c *catalog) get(root []byte) (entryMeta, bool) {
	m := entryMeta{Root: root}
	var ms int64
	err := c.db.QueryRow(`SELECT name, mime, last_used, pinned FROM gateway_content WHERE root = ?`, root).Scan(&m.Name, &m.MIME, &ms, &m.Pinned)
	if err != nil {
		return m, false
	}
	m.LastUsed = time.UnixMilli(ms)
	return m, true
}

// recent lists up to n rows, most recently used first.
func (c *catalog) recent(n int) ([]entryMeta, error) {
	rows, err := c.db.Query(`SELECT root, name, mime, last_used, pinned FROM gateway_content ORDER BY last_used DESC LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []entryMeta
	for rows.Next() {
		var m entryMeta
		var ms int64
		if err := rows.Scan(&m.Root, &m.Name, &m.MIME, &ms, &m.Pinned); err != nil {
			return nil, err
		}
		m.LastUsed = time.UnixMilli(ms)
		out = append(out, m)
	}
	return out, rows.Err()
}

func (c *catalog) remove(root []byte) error {
	_, err := c.db.Exec(`DELETE FROM gateway_content WHERE root = ?`, root)
	return err
}

func rootHex(root []byte) string { return hex.EncodeToString(root) }
