//go:build cgo

package swarm

// Resume tests: a download interrupted at several points of content with
// two and three peaks is resumed by a fresh engine over the persisted
// store (sqlitestore) and must complete in one more run with every chunk
// verified. They caught the bug of issue 9 part 1: the peak hashes a
// leecher verified (RFC 7574 §5.3) were never stored, so after a restart
// chunks under every peak but the one the first verified path crossed
// stayed unverifiable ("no progress ... (131072 of 204800 chunks)").

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/sqlitestore"
)

// resumeContent is content of n chunks of 1 KiB, the last one short.
func resumeContent(n int, seed uint64) []byte {
	return randomContent(n*1024-333, seed)
}

// openSQLite opens a sqlitestore in dir.
func openSQLite(t testing.TB, dir string) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(sqlitestore.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// partialPeer starts a peer holding the whole hash tree of data but only
// chunks [0, k): a booster or peer that was itself interrupted. A leecher
// fed by it stops at exactly k chunks, which puts the interruption where a
// test wants it.
func partialPeer(t testing.TB, data []byte, k uint64) (*node, []byte) {
	t.Helper()
	tree, err := merkle.Build(bytes.NewReader(data), int64(len(data)), merkle.Options{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	sw, err := st.Open(store.Info{SwarmID: tree.Root(), ChunkSize: 1024, Length: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	n := tree.NumChunks()
	for b := merkle.Bin(0); b <= 2*tree.RootBin(); b++ {
		if f, _ := b.Base(); f < n {
			if err := sw.PutHash(uint64(b), tree.Hash(b)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for c := uint64(0); c < k; c++ {
		if err := sw.WriteChunk(c, data[c*1024:min(c*1024+1024, uint64(len(data)))]); err != nil {
			t.Fatal(err)
		}
	}
	p := startEngine(t, nil, nil)
	if _, err := p.e.Add(SwarmConfig{Store: sw}); err != nil {
		t.Fatal(err)
	}
	return p, tree.Root()
}

// leechRun is one run of `swarmgate get`: a fresh engine over the store in
// dir, connected to peers, stopped (engine and store closed) by stop.
type leechRun struct {
	s    *Swarm
	sw   store.Swarm
	st   *sqlitestore.Store
	n    *node
	stop func()
	// before is what the store held at the start, read before the engine
	// could verify anything.
	before uint64
}

func startLeechRun(t testing.TB, dir string, root []byte, peers ...*node) *leechRun {
	t.Helper()
	var addrs []net.Addr
	for _, p := range peers {
		addrs = append(addrs, p.conn.LocalAddr())
	}
	return startLeechRunCfg(t, dir, root, nil, addrs...)
}

func startLeechRunCfg(t testing.TB, dir string, root []byte, mod func(*Config), addrs ...net.Addr) *leechRun {
	t.Helper()
	st := openSQLite(t, dir)
	sw, err := st.Open(store.Info{SwarmID: root, ChunkSize: 1024, Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	before := sw.NumVerified()
	n := startEngine(t, nil, mod)
	s, err := n.e.Add(SwarmConfig{Store: sw, Mode: ModeLeech})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if err := s.Connect(a); err != nil {
			t.Fatal(err)
		}
	}
	r := &leechRun{s: s, sw: sw, st: st, n: n, before: before}
	var stopped bool
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		s.Close()
		n.cancel()
		if err := <-n.done; err != nil {
			t.Errorf("engine: %v", err)
		}
		n.done <- nil // for the cleanup's receive
		if err := sw.Close(); err != nil {
			t.Error(err)
		}
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(r.stop)
	return r
}

// waitHave waits until the run has verified at least k chunks.
func (r *leechRun) waitHave(t testing.TB, k uint64, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		have, total := r.s.Progress()
		if have >= k {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("interrupting run: %d of %d chunks after %v, want %d", have, total, d, k)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkResumed checks a completed run: every chunk verified, the content
// right, and nothing verified before the restart fetched again.
func checkResumed(t testing.TB, r *leechRun, data []byte, before uint64) {
	t.Helper()
	n := uint64((len(data) + 1023) / 1024)
	if got := r.sw.NumVerified(); got != n {
		t.Fatalf("%d of %d chunks verified", got, n)
	}
	checkContent(t, r.sw, data)
	if st := r.s.Stats(); st.ChunksVerified != n-before {
		t.Errorf("resumed run verified %d chunks, want %d (%d were verified before)", st.ChunksVerified, n-before, before)
	}
}

// resumeCases are content sizes and the points (chunks verified) where the
// first run is interrupted.
var resumeCases = []struct {
	name   string
	chunks int      // peaks
	cuts   []uint64 // interruption points
}{
	// 2048 + 512 chunks.
	{"two-peaks", 2560, []uint64{700, 2048 + 100}},
	// 2048 + 512 + 16 chunks, the last one short.
	{"three-peaks", 2576, []uint64{700, 2048 + 100, 2048 + 512 + 5}},
}

func TestResumeAfterInterruption(t *testing.T) {
	for i, tc := range resumeCases {
		data := resumeContent(tc.chunks, uint64(i)+100)
		full := startEngine(t, nil, nil)
		root := seedContent(t, full, data, 1024).ID()
		for _, cut := range tc.cuts {
			t.Run(fmt.Sprintf("%s/at-%d", tc.name, cut), func(t *testing.T) {
				dir := t.TempDir()
				part, _ := partialPeer(t, data, cut)
				r1 := startLeechRun(t, dir, root, part)
				r1.waitHave(t, cut, 30*time.Second)
				r1.stop()

				r2 := startLeechRun(t, dir, root, full)
				waitDone(t, r2.s, 60*time.Second)
				checkResumed(t, r2, data, cut)
			})
		}
	}
}

// TestResumeMidFlight interrupts downloads from a full seeder while they
// run, at whatever chunk they are at, and resumes them.
func TestResumeMidFlight(t *testing.T) {
	data := resumeContent(2576, 7)
	full := startEngine(t, nil, nil)
	root := seedContent(t, full, data, 1024).ID()
	for _, cut := range []uint64{1, 300, 2100, 2570} {
		t.Run(fmt.Sprintf("after-%d", cut), func(t *testing.T) {
			dir := t.TempDir()
			r1 := startLeechRun(t, dir, root, full)
			r1.waitHave(t, cut, 30*time.Second)
			r1.stop()
			r2 := startLeechRun(t, dir, root, full)
			had := r2.before // NumVerified now would count what r2 verified already
			if had < cut {
				t.Fatalf("run 1 verified %d chunks but %d are stored after a clean stop", cut, had)
			}
			waitDone(t, r2.s, 60*time.Second)
			checkResumed(t, r2, data, had)
		})
	}
}

// seedSQLite imports data into a sqlitestore in dir and closes it.
func seedSQLite(t testing.TB, dir string, data []byte) []byte {
	t.Helper()
	path := filepath.Join(dir, "content.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	st := openSQLite(t, dir)
	sw, _, err := Import(st, bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: 1024, Path: path}, 1)
	if err != nil {
		t.Fatal(err)
	}
	root := sw.Info().SwarmID
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return root
}

// startSeederRun starts a seeder over the sqlitestore in dir: a restarted
// `swarmgate seed`, which loads its saved state without re-hashing.
func startSeederRun(t testing.TB, dir string, root []byte) *node {
	t.Helper()
	st := openSQLite(t, dir)
	t.Cleanup(func() { st.Close() })
	sw, err := st.Open(store.Info{SwarmID: root, ChunkSize: 1024, Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	n := startEngine(t, nil, nil)
	s, err := n.e.Add(SwarmConfig{Store: sw})
	if err != nil {
		t.Fatal(err)
	}
	if have, total := s.Progress(); total == 0 || have != total {
		t.Fatalf("restarted seeder has %d of %d chunks", have, total)
	}
	return n
}

// TestResumeRestartedSeeder: a seeder restarted over its persisted store
// serves a fresh download and a resumed one to completion, for two and
// three peaks.
func TestResumeRestartedSeeder(t *testing.T) {
	for i, tc := range resumeCases {
		t.Run(tc.name, func(t *testing.T) {
			data := resumeContent(tc.chunks, uint64(i)+200)
			seedDir := t.TempDir()
			root := seedSQLite(t, seedDir, data)
			seeder := startSeederRun(t, seedDir, root)

			fresh := startLeechRun(t, t.TempDir(), root, seeder)
			waitDone(t, fresh.s, 60*time.Second)
			checkResumed(t, fresh, data, 0)

			for _, cut := range tc.cuts {
				dir := t.TempDir()
				part, _ := partialPeer(t, data, cut)
				r1 := startLeechRun(t, dir, root, part)
				r1.waitHave(t, cut, 30*time.Second)
				r1.stop()
				r2 := startLeechRun(t, dir, root, seeder)
				waitDone(t, r2.s, 60*time.Second)
				checkResumed(t, r2, data, cut)
			}
		})
	}
}

// TestResumeCompletedLeecherSeeds: a download completed over a persisted
// store, restarted as a seeder (a booster after a restart), serves a new
// download: its store holds the peak hashes it verified.
func TestResumeCompletedLeecherSeeds(t *testing.T) {
	data := resumeContent(2576, 300)
	full := startEngine(t, nil, nil)
	root := seedContent(t, full, data, 1024).ID()
	dir := t.TempDir()
	part, _ := partialPeer(t, data, 900)
	r1 := startLeechRun(t, dir, root, part)
	r1.waitHave(t, 900, 30*time.Second)
	r1.stop()
	r2 := startLeechRun(t, dir, root, full)
	waitDone(t, r2.s, 60*time.Second)
	r2.stop()

	seeder := startSeederRun(t, dir, root)
	r3 := startLeechRun(t, t.TempDir(), root, seeder)
	waitDone(t, r3.s, 60*time.Second)
	checkResumed(t, r3, data, 0)
}

// TestInteropResumedLeecherVsLibswiftSeeder: a leecher interrupted inside
// each of m74's three peaks (16 + 8 + 2 chunks) while libswift's captured
// seeder fed it, resumed by a fresh engine over its persisted store,
// completes when the capture is replayed to it again. The replay resends
// the peaks only with DATA [0,0], which the resumed leecher already holds:
// it must have stored them.
func TestInteropResumedLeecherVsLibswiftSeeder(t *testing.T) {
	c := loadCapture(t, capLibswiftLibswift)
	root := m74Root(t)
	compat := func(cfg *Config) { cfg.Compat = CompatLibswift }
	// connect opens a leecher run on a new raw peer replaying the capture.
	connect := func(dir string) (*leechRun, *leecherRun) {
		peer := newRawPeer(t)
		lr := startLeechRunCfg(t, dir, root, compat, peer.addr())
		peer.to = lr.n.conn.LocalAddr()
		hs := peer.recvOne(2 * time.Second)
		if len(hs) < 9 {
			t.Fatalf("handshake %x", hs)
		}
		return lr, &leecherRun{cap: c, peer: peer, ourChan: binary.BigEndian.Uint32(hs[5:])}
	}
	for _, cut := range []uint64{3, 18, 25} {
		t.Run(fmt.Sprintf("at-%d", cut), func(t *testing.T) {
			dir := t.TempDir()
			r1, rp := connect(dir)
			for i := 0; i < len(c.pkts); i++ {
				rp.replay(t, i, i+1, nil)
				if have, _ := r1.s.Progress(); have >= cut {
					break
				}
			}
			r1.waitHave(t, cut, 5*time.Second)
			r1.stop()

			r2, rp2 := connect(dir)
			if had := r2.sw.NumVerified(); had < cut {
				t.Fatalf("%d chunks stored, want %d", had, cut)
			}
			rp2.replay(t, 0, len(c.pkts), nil)
			waitDone(t, r2.s, 10*time.Second)
			checkContent(t, r2.sw, m74(t))
		})
	}
}

// unwrapper is a store.Swarm wrapper as stream.Swarm is.
type unwrapper struct{ store.Swarm }

func (u unwrapper) Unwrap() store.Swarm { return u.Swarm }

// TestPagedThroughWrapper: a store wrapped (the gateway's and the client's
// stream.Swarm) still gets the tree read on demand, not loaded whole.
func TestPagedThroughWrapper(t *testing.T) {
	st := openSQLite(t, t.TempDir())
	defer st.Close()
	data := resumeContent(100, 3)
	path := filepath.Join(t.TempDir(), "c")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sw, _, err := Import(st, bytes.NewReader(data), int64(len(data)), store.Info{Path: path, ChunkSize: 1024}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	n := startEngine(t, nil, nil)
	s, err := n.e.Add(SwarmConfig{Store: unwrapper{sw}})
	if err != nil {
		t.Fatal(err)
	}
	if !s.paged {
		t.Error("a wrapped sqlitestore swarm is not paged: its whole tree is on the heap")
	}
}
