//go:build !js

package dhtnet

import (
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// migrations of the routing-table database; never edit one that shipped,
// append a new one.
var migrations = []string{
	`CREATE TABLE dht_contacts (
		id         BLOB PRIMARY KEY CHECK (length(id) = 20),
		addr       BLOB NOT NULL,            -- compact peer (BEP 5 / BEP 32)
		rtt_us     INTEGER NOT NULL,
		last_reply INTEGER NOT NULL          -- unix seconds
	)`,
}

type sqliteStore struct{ db *sql.DB }

func openContactStore(path string) (contactStore, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?_txlock=immediate&_journal_mode=WAL&_foreign_keys=on&_busy_timeout=5000")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("dhtnet: routing table db %s: %w", path, err)
	}
	return &sqliteStore{db: db}, nil
}

func migrate(db *sql.DB) error {
	var v int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return errors.New("database is newer than this program")
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(migrations[i]); err != nil {
			tx.Rollback()
			return err
		}
		if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqliteStore) Load() ([]Contact, error) {
	rows, err := s.db.Query(`SELECT id, addr, rtt_us, last_reply FROM dht_contacts`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Contact
	for rows.Next() {
		var id, addr []byte
		var rtt, last int64
		if err := rows.Scan(&id, &addr, &rtt, &last); err != nil {
			return nil, err
		}
		ap, err := ParseCompactPeer(addr)
		if err != nil || len(id) != 20 {
			continue
		}
		out = append(out, Contact{ID: [20]byte(id), Addr: ap, RTT: time.Duration(rtt) * time.Microsecond, LastReply: time.Unix(last, 0)})
	}
	return out, rows.Err()
}

func (s *sqliteStore) Save(cs []Contact) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`DELETE FROM dht_contacts`); err != nil {
		return err
	}
	st, err := tx.Prepare(`INSERT OR REPLACE INTO dht_contacts (id, addr, rtt_us, last_reply) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, c := range cs {
		if !c.Addr.IsValid() {
			continue
		}
		if _, err := st.Exec(c.ID[:], AppendCompactPeer(nil, netip.AddrPortFrom(c.Addr.Addr(), c.Addr.Port())), c.RTT.Microseconds(), c.LastReply.Unix()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *sqliteStore) Close() error { return s.db.Close() }
