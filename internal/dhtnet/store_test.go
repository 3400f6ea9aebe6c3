//go:build !js

package dhtnet

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestWarmRestart(t *testing.T) {
	o := newOverlay(t, 20)
	db := filepath.Join(t.TempDir(), "dht.db")

	cfg := testConfig(listenLoopback(t), o.boot)
	cfg.DBPath = db
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.Bootstrap(context.Background())
	before := n.Contacts()
	if len(before) < 10 {
		t.Fatalf("only %d contacts after bootstrap", len(before))
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart with no bootstrap nodes at all: the table comes from SQLite.
	cfg = testConfig(listenLoopback(t), []string{})
	cfg.DBPath = db
	n2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	after := n2.Contacts()
	if len(after) != len(before) {
		t.Fatalf("restored %d contacts, saved %d", len(after), len(before))
	}
	byID := map[[20]byte]Contact{}
	for _, c := range before {
		byID[c.ID] = c
	}
	for _, c := range after {
		b, ok := byID[c.ID]
		if !ok || b.Addr != c.Addr || b.RTT.Truncate(time.Microsecond) != c.RTT || b.LastReply.Unix() != c.LastReply.Unix() {
			t.Fatalf("contact %x restored as %+v, saved %+v", c.ID, c, b)
		}
	}
	// Warm: a booster in the overlay is found without any bootstrap node.
	var swarm [20]byte
	copy(swarm[:], "warm-restart-swarm-0")
	announceSoon(t, o.nodes[5], swarm, 9000)
	st := n2.Lookup(context.Background(), swarm, true, nil)
	if st.Peers == 0 {
		t.Fatalf("warm node found no peer: %+v", st)
	}
}

func TestStoreMigrationsIdempotent(t *testing.T) {
	db := filepath.Join(t.TempDir(), "dht.db")
	for range 2 {
		s, err := openContactStore(db)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Save([]Contact{{ID: [20]byte{1}, Addr: addrN(1), RTT: time.Millisecond, LastReply: time.Unix(5, 0)}}); err != nil {
			t.Fatal(err)
		}
		cs, err := s.Load()
		if err != nil || len(cs) != 1 || cs[0].Addr != addrN(1) {
			t.Fatalf("load: %v %v", cs, err)
		}
		s.Close()
	}
}

// TestStaleTableFallsBackOnBootstrap: a warm start whose saved contacts are
// all gone still finds peers through the bootstrap nodes.
func TestStaleTableFallsBackOnBootstrap(t *testing.T) {
	o := newOverlay(t, 12)
	var swarm [20]byte
	copy(swarm[:], "stale-table-swarm-00")
	announceSoon(t, o.nodes[3], swarm, 9001)
	n, err := New(testConfig(listenLoopback(t), o.boot))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	// Contacts that will never answer: closed sockets on loopback.
	for i := range 20 {
		c := listenLoopback(t)
		ap, _ := addrPortOf(c.LocalAddr())
		c.Close()
		var id [20]byte
		id[0], id[1] = byte(i), 0xaa
		n.AddContact(Contact{ID: id, Addr: ap, RTT: 10 * time.Millisecond})
	}
	st := n.Lookup(context.Background(), swarm, true, nil)
	if st.Peers == 0 {
		t.Fatalf("no peer found: %+v", st)
	}
}

// announceSoon announces from n, retrying while a fresh overlay on a loaded
// machine (CI runs packages in parallel under the race detector) still
// times out: these tests are about what happens after the announce.
func announceSoon(t *testing.T, n *Node, swarm [20]byte, port int) {
	t.Helper()
	var st LookupStats
	for range 5 {
		if st = n.Announce(context.Background(), swarm, port, nil); st.Announced > 0 {
			return
		}
	}
	t.Fatalf("announce failed 5 times: %+v", st)
}
