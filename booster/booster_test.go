package booster

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/merkle"
)

func newTestBooster(t *testing.T, dir string, mod func(*Config)) *Booster {
	t.Helper()
	cfg := Config{DataDir: dir, Listen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0", NoDHT: true, Socket: filepath.Join(dir, "api.sock")}
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func content(b byte, length int64) feed.Content {
	return feed.Content{Root: bytes.Repeat([]byte{b}, 20), ChunkSize: 1024, Length: length, Name: "c"}
}

func (b *Booster) roots() map[byte]bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[byte]bool{}
	for _, a := range b.swarms {
		out[a.row.c.Root[0]] = true
	}
	return out
}

// TestBudgets: the quota evicts the least recently used unpinned swarm,
// pins are kept, the per-publisher and swarm limits hold, and a restart
// resumes what was held.
func TestBudgets(t *testing.T) {
	dir := t.TempDir()
	b := newTestBooster(t, dir, func(c *Config) { c.Quota = 3000; c.MaxPerPublisher = 2; c.MaxSwarms = 3 })
	u1, u2 := feed.UID{1}, feed.UID{2}
	for _, step := range []struct {
		c   feed.Content
		uid feed.UID
	}{{content(1, 1000), u1}, {content(2, 1000), u2}} {
		if err := b.Boost(step.c, step.uid, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Pin(content(1, 0).Root, true); err != nil {
		t.Fatal(err)
	}
	// 3 needs 2000 bytes: 2 (unpinned, least recently used) goes, pinned 1 stays.
	if err := b.Boost(content(3, 2000), u2, 2); err != nil {
		t.Fatal(err)
	}
	if got := b.roots(); !got[1] || got[2] || !got[3] {
		t.Fatalf("after quota eviction: %v", got)
	}
	// More than the quota allows with 1 pinned and 3 evictable: 3 goes, then still too big.
	if err := b.Boost(content(4, 2500), u1, 3); !errors.Is(err, ErrBudget) {
		t.Fatalf("over budget: %v", err)
	}
	if err := b.Boost(content(5, 5000), u1, 4); !errors.Is(err, ErrBudget) {
		t.Fatalf("bigger than the quota: %v", err)
	}
	// Per publisher: u2 may have 2 swarms; a third evicts its oldest.
	b.Boost(content(6, 100), u2, 5)
	b.Boost(content(7, 100), u2, 6)
	n := 0
	b.mu.Lock()
	for _, a := range b.swarms {
		if a.row.uid == u2 {
			n++
		}
	}
	b.mu.Unlock()
	if n > 2 {
		t.Fatalf("%d swarms of one publisher, limit 2", n)
	}
	before := b.roots()
	b.close()
	b = newTestBooster(t, dir, func(c *Config) { c.Quota = 3000 })
	defer b.close()
	if got := b.roots(); len(got) != len(before) {
		t.Fatalf("resumed %v, held %v", got, before)
	}
}

// TestSeedResumesWithoutRehash: a seeded file survives a restart as a
// complete, pinned swarm.
func TestSeedResumesWithoutRehash(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.bin")
	data := make([]byte, 300<<10)
	rand.Read(data)
	os.WriteFile(file, data, 0o644)
	b := newTestBooster(t, dir, nil)
	c, err := b.Seed(file, merkle.Options{ChunkSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	b.close()
	b = newTestBooster(t, dir, nil)
	defer b.close()
	st, err := b.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Swarms) != 1 || !st.Swarms[0].Complete || !st.Swarms[0].Pinned || st.Swarms[0].Length != c.Length {
		t.Fatalf("%+v", st.Swarms)
	}
}
