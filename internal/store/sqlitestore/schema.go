package sqlitestore

import (
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations returns the embedded migrations in order; file NNNN_*.sql is
// the one that takes user_version from NNNN-1 to NNNN.
func migrations() ([]string, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]string, 0, len(names))
	for k, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		if n, err := strconv.Atoi(num); err != nil || n != k+1 {
			return nil, fmt.Errorf("sqlitestore: migration %s out of sequence, want number %d", base, k+1)
		}
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, string(b))
	}
	return out, nil
}

// SchemaVersion is the user_version this build migrates a database to.
func SchemaVersion() int {
	ms, _ := migrations()
	return len(ms)
}

// migrate brings db to the latest schema, each migration in its own
// transaction together with its user_version bump.
func migrate(db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	for {
		tx, err := db.Begin()
		if err != nil {
			return fmt.Errorf("sqlitestore: migrate: %w", err)
		}
		var v int
		if err := tx.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlitestore: migrate: read user_version: %w", err)
		}
		if v > len(ms) {
			tx.Rollback()
			return fmt.Errorf("sqlitestore: database schema version %d is newer than this build's %d", v, len(ms))
		}
		if v == len(ms) {
			return tx.Rollback()
		}
		if _, err := tx.Exec(ms[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlitestore: migration %d: %w", v+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlitestore: migration %d: set user_version: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlitestore: migration %d: commit: %w", v+1, err)
		}
	}
}
