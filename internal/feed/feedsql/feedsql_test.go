package feedsql

import (
	"path/filepath"
	"testing"

	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/feed/feedtest"
)

func TestConformance(t *testing.T) {
	open := func(t *testing.T) feed.Store {
		s, err := Open(filepath.Join(t.TempDir(), "feed.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	reopen := func(t *testing.T, s feed.Store) feed.Store {
		path := s.(*Store).path(t)
		s.Close()
		s2, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return s2
	}
	feedtest.Run(t, open, reopen)
}

func (s *Store) path(t *testing.T) string {
	var seq int
	var name, file string
	if err := s.db.QueryRow("PRAGMA database_list").Scan(&seq, &name, &file); err != nil {
		t.Fatal(err)
	}
	return file
}
