// Package storetest is the conformance suite every store.Store
// implementation passes.
package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/swarmgate/swarmgate/internal/store"
)

// Config describes the implementation under test.
type Config struct {
	// Open returns a Store over the backing storage in dir. Each subtest gets
	// its own fresh dir (t.TempDir()).
	Open func(t *testing.T, dir string) store.Store
	// Persistent means that a Store opened again on the same dir after Close
	// sees the state left by the previous one.
	Persistent bool
}

// Run runs the suite.
func Run(t *testing.T, c Config) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c Config, dir string)
	}{
		{"OpenInfo", testOpenInfo},
		{"InvalidInfo", testInvalidInfo},
		{"StoredInfoWins", testStoredInfoWins},
		{"GetListRemove", testGetListRemove},
		{"RemoveOpen", testRemoveOpen},
		{"WriteRead", testWriteRead},
		{"NotVerified", testNotVerified},
		{"OutOfRange", testOutOfRange},
		{"WrongSize", testWrongSize},
		{"Ranges", testRanges},
		{"LengthUnknown", testLengthUnknown},
		{"LengthRefine", testLengthRefine},
		{"ZeroLength", testZeroLength},
		{"Hashes", testHashes},
		{"HashErrors", testHashErrors},
		{"ReopenSwarm", testReopenSwarm},
		{"ReopenStore", testReopenStore},
		{"Closed", testClosed},
		{"TwoHandles", testTwoHandles},
		{"Independent", testIndependent},
		{"Sparse10GiB", testSparse},
		{"BigChunks", testBigChunks},
		{"Concurrent", testConcurrent},
		{"CloseWhileBusy", testCloseWhileBusy},
		{"HashesReentrant", testHashesReentrant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, c, t.TempDir())
		})
	}
}

// ID returns a deterministic swarm ID of the digest size of hf.
func ID(seed string, hf uint8) []byte {
	h := sha256.Sum256([]byte(seed))
	id := make([]byte, store.HashSize(hf))
	for k := range id {
		id[k] = h[k%len(h)]
	}
	return id
}

// ChunkData returns the deterministic content of chunk c of a swarm: n
// pseudo-random bytes, never all zero.
func ChunkData(seed string, c uint64, n int) []byte {
	var s [32]byte
	copy(s[:], seed)
	binary.LittleEndian.PutUint64(s[24:], c)
	r := rand.NewChaCha8(s)
	p := make([]byte, n)
	r.Read(p)
	if n > 0 {
		p[0] |= 1
	}
	return p
}

// HashData returns a deterministic hash value for bin.
func HashData(seed string, bin uint64, size int) []byte {
	return ChunkData(seed+"/hash", bin, size)
}

func info(seed string, cs uint32, length int64) store.Info {
	return store.Info{SwarmID: ID(seed, 0), HashFunc: 0, ChunkSize: cs, Length: length, Name: seed}
}

func open(t *testing.T, s store.Store, in store.Info) store.Swarm {
	t.Helper()
	sw, err := s.Open(in)
	if err != nil {
		t.Fatalf("Open(%s): %v", in.Name, err)
	}
	return sw
}

func newStore(t *testing.T, c Config, dir string) store.Store {
	t.Helper()
	s := c.Open(t, dir)
	t.Cleanup(func() { s.Close() })
	return s
}

func mustClose(t *testing.T, what string, c interface{ Close() error }) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatalf("%s Close: %v", what, err)
	}
}

func write(t *testing.T, sw store.Swarm, seed string, chunks ...uint64) {
	t.Helper()
	in := sw.Info()
	for _, c := range chunks {
		if err := sw.WriteChunk(c, ChunkData(seed, c, in.ChunkLen(c))); err != nil {
			t.Fatalf("WriteChunk(%d): %v", c, err)
		}
	}
}

// checkChunks checks that exactly the chunks in want are verified and read
// back as written.
func checkChunks(t *testing.T, sw store.Swarm, seed string, want ...uint64) {
	t.Helper()
	in := sw.Info()
	if got := sw.NumVerified(); got != uint64(len(want)) {
		t.Errorf("NumVerified = %d, want %d", got, len(want))
	}
	buf := make([]byte, in.ChunkSize)
	for _, c := range want {
		if !sw.Have(c) {
			t.Errorf("Have(%d) = false", c)
		}
		n, err := sw.ReadChunk(c, buf)
		if err != nil {
			t.Errorf("ReadChunk(%d): %v", c, err)
			continue
		}
		if exp := ChunkData(seed, c, in.ChunkLen(c)); !bytes.Equal(buf[:n], exp) {
			t.Errorf("ReadChunk(%d) = %d bytes differing from the %d written", c, n, len(exp))
		}
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

func testOpenInfo(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	for _, hf := range []uint8{0, 1, 2, 3, 4} {
		in := store.Info{SwarmID: ID(fmt.Sprint("hf", hf), hf), HashFunc: hf, ChunkSize: 4096, Length: 12345,
			Path: filepath.Join(dir, fmt.Sprint("content", hf)), Name: fmt.Sprint("name ", hf)}
		sw := open(t, s, in)
		got := sw.Info()
		if !bytes.Equal(got.SwarmID, in.SwarmID) || got.HashFunc != hf || got.ChunkSize != 4096 || got.Length != 12345 ||
			got.Path != in.Path || got.Name != in.Name {
			t.Errorf("Info() = %+v, want %+v", got, in)
		}
		if g, err := s.Get(in.SwarmID); err != nil || !bytes.Equal(g.SwarmID, in.SwarmID) || g.Length != 12345 {
			t.Errorf("Get = %+v, %v", g, err)
		}
		got.SwarmID[0] ^= 0xff // Info must return a copy
		if sw.Info().SwarmID[0] != in.SwarmID[0] {
			t.Error("Info() shares SwarmID memory")
		}
		mustClose(t, "swarm", sw)
	}
	// Path defaults to something when empty (the memory store may keep it empty).
	sw := open(t, s, info("nopath", 1024, 10))
	defer sw.Close()
	if p := sw.Info().Path; p != "" && !filepath.IsAbs(p) {
		t.Errorf("default path %q is not absolute", p)
	}
}

func testInvalidInfo(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	good := info("good", 1024, 100)
	tests := []struct {
		name string
		mod  func(*store.Info)
	}{
		{"empty id", func(i *store.Info) { i.SwarmID = nil }},
		{"short id", func(i *store.Info) { i.SwarmID = i.SwarmID[:19] }},
		{"sha256 with 20-byte id", func(i *store.Info) { i.HashFunc = 2 }},
		{"hash func 9", func(i *store.Info) { i.HashFunc = 9 }},
		{"chunk 0", func(i *store.Info) { i.ChunkSize = 0 }},
		{"chunk 512", func(i *store.Info) { i.ChunkSize = 512 }},
		{"chunk 1000", func(i *store.Info) { i.ChunkSize = 1000 }},
		{"chunk 2MiB", func(i *store.Info) { i.ChunkSize = 2 << 20 }},
		{"length -2", func(i *store.Info) { i.Length = -2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good
			in.SwarmID = append([]byte(nil), good.SwarmID...)
			tt.mod(&in)
			sw, err := s.Open(in)
			if err == nil {
				sw.Close()
				t.Fatal("Open succeeded")
			}
			wantErr(t, "Open", err, store.ErrInvalidInfo)
		})
	}
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Errorf("List after failed opens = %v, %v", l, err)
	}
}

func testStoredInfoWins(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	in := info("a", 2048, 5000)
	mustClose(t, "swarm", open(t, s, in))
	other := in
	other.ChunkSize, other.Length, other.Name, other.HashFunc = 1024, 7000, "other", 9
	sw := open(t, s, other)
	defer sw.Close()
	got := sw.Info()
	if got.ChunkSize != 2048 || got.Length != 5000 || got.Name != "a" || got.HashFunc != 0 {
		t.Errorf("reopened Info = %+v, want the stored %+v", got, in)
	}
}

func testGetListRemove(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	_, err := s.Get(ID("x", 0))
	wantErr(t, "Get unknown", err, store.ErrNotFound)
	wantErr(t, "Remove unknown", s.Remove(ID("x", 0)), store.ErrNotFound)
	var names []string
	for _, n := range []string{"c", "a", "b"} {
		sw := open(t, s, info(n, 1024, 3000))
		write(t, sw, n, 0, 2)
		mustClose(t, "swarm", sw)
		names = append(names, n)
	}
	l, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range l {
		got = append(got, i.Name)
	}
	if !slices.Equal(got, names) {
		t.Errorf("List names = %v, want %v (creation order)", got, names)
	}
	if err := s.Remove(ID("a", 0)); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ID("a", 0))
	wantErr(t, "Get removed", err, store.ErrNotFound)
	if l, _ := s.List(); len(l) != 2 {
		t.Errorf("List after Remove has %d swarms", len(l))
	}
	// Opening again starts from scratch.
	sw := open(t, s, info("a", 1024, 3000))
	defer sw.Close()
	checkChunks(t, sw, "a")
	if err := sw.Hashes(func(uint64, []byte) { t.Error("hash after Remove") }); err != nil {
		t.Error(err)
	}
	// The others are untouched.
	sb := open(t, s, info("b", 1024, 3000))
	defer sb.Close()
	checkChunks(t, sb, "b", 0, 2)
}

func testRemoveOpen(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	sw := open(t, s, info("r", 1024, 3000))
	write(t, sw, "r", 1)
	if err := s.Remove(ID("r", 0)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "WriteChunk after Remove", sw.WriteChunk(0, make([]byte, 1024)), store.ErrClosed)
	_, err := sw.ReadChunk(1, make([]byte, 1024))
	wantErr(t, "ReadChunk after Remove", err, store.ErrClosed)
	if sw.Have(1) {
		t.Error("Have after Remove")
	}
	sw.Close()
	sw2 := open(t, s, info("r", 1024, 3000))
	defer sw2.Close()
	checkChunks(t, sw2, "r")
}

func testWriteRead(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	in := info("wr", 1024, 5*1024+300) // 6 chunks, last one 300 bytes
	sw := open(t, s, in)
	defer sw.Close()
	if got := sw.Info().ChunkLen(5); got != 300 {
		t.Fatalf("ChunkLen(5) = %d", got)
	}
	write(t, sw, "wr", 5, 0, 3)
	checkChunks(t, sw, "wr", 0, 3, 5)
	// The last chunk reads n < ChunkSize into a full buffer, and fits an exact one.
	buf := make([]byte, 1024)
	n, err := sw.ReadChunk(5, buf)
	if err != nil || n != 300 {
		t.Errorf("ReadChunk(last) = %d, %v", n, err)
	}
	if n, err := sw.ReadChunk(5, make([]byte, 300)); err != nil || n != 300 {
		t.Errorf("ReadChunk(last, exact buffer) = %d, %v", n, err)
	}
	// Writing a verified chunk again is a no-op; the caller's buffer is not retained.
	p := ChunkData("wr", 1, 1024)
	if err := sw.WriteChunk(1, p); err != nil {
		t.Fatal(err)
	}
	p[0] ^= 0xff
	if err := sw.WriteChunk(1, p); err != nil {
		t.Fatal(err)
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	checkChunks(t, sw, "wr", 0, 1, 3, 5)
}

func testNotVerified(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	sw := open(t, s, info("nv", 1024, 4096))
	defer sw.Close()
	for ch := range uint64(4) {
		if sw.Have(ch) {
			t.Errorf("Have(%d) before write", ch)
		}
		_, err := sw.ReadChunk(ch, make([]byte, 1024))
		wantErr(t, fmt.Sprint("ReadChunk ", ch), err, store.ErrNotVerified)
	}
	write(t, sw, "nv", 2)
	_, err := sw.ReadChunk(1, make([]byte, 1024))
	wantErr(t, "ReadChunk neighbour", err, store.ErrNotVerified)
	if sw.NumVerified() != 1 || len(sw.Verified()) != 1 {
		t.Errorf("NumVerified %d Verified %v", sw.NumVerified(), sw.Verified())
	}
}

func testOutOfRange(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	sw := open(t, s, info("oor", 1024, 4000)) // 4 chunks
	defer sw.Close()
	for _, ch := range []uint64{4, 5, 1 << 40, 1<<64 - 1} {
		wantErr(t, fmt.Sprint("WriteChunk ", ch), sw.WriteChunk(ch, make([]byte, 1024)), store.ErrOutOfRange)
		_, err := sw.ReadChunk(ch, make([]byte, 1024))
		wantErr(t, fmt.Sprint("ReadChunk ", ch), err, store.ErrOutOfRange)
		if sw.Have(ch) {
			t.Errorf("Have(%d)", ch)
		}
	}
	if sw.NumVerified() != 0 {
		t.Error("out-of-range write counted")
	}
}

func testWrongSize(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	sw := open(t, s, info("ws", 1024, 3000)) // chunks 1024, 1024, 952
	defer sw.Close()
	tests := []struct {
		chunk uint64
		n     int
	}{{0, 0}, {0, 1023}, {0, 1025}, {1, 2048}, {2, 1024}, {2, 951}, {2, 953}}
	for _, tt := range tests {
		wantErr(t, fmt.Sprintf("WriteChunk(%d, %d bytes)", tt.chunk, tt.n), sw.WriteChunk(tt.chunk, make([]byte, tt.n)), store.ErrSize)
	}
	if sw.NumVerified() != 0 {
		t.Fatal("wrong-sized write counted")
	}
	write(t, sw, "ws", 0, 2)
	_, err := sw.ReadChunk(0, make([]byte, 1023))
	wantErr(t, "ReadChunk small buffer", err, store.ErrSize)
	_, err = sw.ReadChunk(2, make([]byte, 951))
	wantErr(t, "ReadChunk small buffer last", err, store.ErrSize)
}

func testRanges(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	sw := open(t, s, info("rg", 1024, 70000*1024))
	defer sw.Close()
	if v := sw.Verified(); len(v) != 0 {
		t.Errorf("Verified() = %v before writes", v)
	}
	steps := []struct {
		write []uint64
		want  []store.Range
	}{
		{[]uint64{0, 1, 2, 5, 7, 8}, ranges(0, 2, 5, 5, 7, 8)},
		{[]uint64{4}, ranges(0, 2, 4, 5, 7, 8)},
		{[]uint64{3, 6}, ranges(0, 8)},
		{[]uint64{8191, 8192, 8190, 8193}, ranges(0, 8, 8190, 8193)},
		{[]uint64{65535, 65536, 69999}, ranges(0, 8, 8190, 8193, 65535, 65536, 69999, 69999)},
	}
	var all []uint64
	for k, st := range steps {
		write(t, sw, "rg", st.write...)
		all = append(all, st.write...)
		if got := sw.Verified(); !slices.Equal(got, st.want) {
			t.Errorf("step %d: Verified() = %v, want %v", k, got, st.want)
		}
	}
	checkChunks(t, sw, "rg", all...)
}

func testLengthUnknown(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	in := info("lu", 1024, -1)
	sw := open(t, s, in)
	if sw.Info().Length != -1 || sw.Info().NumChunks() != -1 {
		t.Fatalf("Info = %+v", sw.Info())
	}
	wantErr(t, "WriteChunk unknown length", sw.WriteChunk(0, make([]byte, 1024)), store.ErrLengthUnknown)
	_, err := sw.ReadChunk(0, make([]byte, 1024))
	wantErr(t, "ReadChunk unknown length", err, store.ErrNotVerified)
	if sw.Have(0) || sw.NumVerified() != 0 {
		t.Error("something verified with unknown length")
	}
	// Peak hashes may be stored before the length is set.
	if err := sw.PutHash(7, HashData("lu", 7, 20)); err != nil {
		t.Fatalf("PutHash with unknown length: %v", err)
	}
	wantErr(t, "SetLength(-5)", sw.SetLength(-5), store.ErrInvalidInfo)
	if err := sw.SetLength(2500); err != nil {
		t.Fatal(err)
	}
	if got := sw.Info().Length; got != 2500 {
		t.Fatalf("Length after SetLength = %d", got)
	}
	if g, err := s.Get(in.SwarmID); err != nil || g.Length != 2500 {
		t.Errorf("Get after SetLength = %+v, %v", g, err)
	}
	write(t, sw, "lu", 0, 2)
	mustClose(t, "swarm", sw)
	// Reopen with unknown length: the stored length wins.
	sw = open(t, s, in)
	defer sw.Close()
	if got := sw.Info().Length; got != 2500 {
		t.Errorf("Length after reopen = %d", got)
	}
	checkChunks(t, sw, "lu", 0, 2)
	if h, err := sw.Hash(7); err != nil || !bytes.Equal(h, HashData("lu", 7, 20)) {
		t.Errorf("Hash(7) = %x, %v", h, err)
	}

	// Open adopts a known length for a swarm whose length is unknown.
	in2 := info("lu2", 1024, -1)
	mustClose(t, "swarm", open(t, s, in2))
	in2.Length = 4096
	sw2 := open(t, s, in2)
	defer sw2.Close()
	if got := sw2.Info().Length; got != 4096 {
		t.Errorf("Length after Open with known length = %d", got)
	}
}

func testLengthRefine(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	sw := open(t, s, info("lr", 1024, 4096)) // from the peaks: 4 chunks
	defer sw.Close()
	write(t, sw, "lr", 0, 1, 2)
	if err := sw.SetLength(3500); err != nil { // last chunk is short after all
		t.Fatalf("SetLength(3500): %v", err)
	}
	if err := sw.SetLength(3500); err != nil {
		t.Fatalf("SetLength same: %v", err)
	}
	write(t, sw, "lr", 3)
	checkChunks(t, sw, "lr", 0, 1, 2, 3)
	for _, n := range []int64{4096, 10000, 3000, 0} {
		wantErr(t, fmt.Sprint("SetLength ", n), sw.SetLength(n), store.ErrLengthChange)
	}
	if got := sw.Info().Length; got != 3500 {
		t.Errorf("Length = %d after refused changes", got)
	}
	// Growing past a fully verified prefix is allowed if no verified chunk changes.
	sw2 := open(t, s, info("lr2", 1024, 4096))
	defer sw2.Close()
	write(t, sw2, "lr2", 0, 1)
	if err := sw2.SetLength(8000); err != nil {
		t.Errorf("SetLength growing past verified chunks: %v", err)
	}
	if err := sw2.SetLength(2048); err != nil {
		t.Errorf("SetLength shrinking to verified chunks: %v", err)
	}
	wantErr(t, "SetLength cutting chunk 1", sw2.SetLength(2000), store.ErrLengthChange)
}

func testZeroLength(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	sw := open(t, s, info("zero", 1024, 0))
	defer sw.Close()
	if n := sw.Info().NumChunks(); n != 0 {
		t.Errorf("NumChunks = %d", n)
	}
	wantErr(t, "WriteChunk", sw.WriteChunk(0, nil), store.ErrOutOfRange)
	if len(sw.Verified()) != 0 || sw.NumVerified() != 0 {
		t.Error("verified chunks in empty content")
	}
	if err := sw.Flush(); err != nil {
		t.Error(err)
	}
}

func testHashes(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	for _, hf := range []uint8{0, 2} {
		t.Run(fmt.Sprint("hf", hf), func(t *testing.T) {
			hs := store.HashSize(hf)
			seed := fmt.Sprint("h", hf)
			in := store.Info{SwarmID: ID(seed, hf), HashFunc: hf, ChunkSize: 1024, Length: 1000 * 1024}
			sw := open(t, s, in)
			// 1000 chunks: a tree of 1024 leaves, bins 0..2046.
			want := map[uint64][]byte{}
			for _, b := range []uint64{0, 2, 1, 1023, 2046, 511, 1500} {
				h := HashData(seed, b, hs)
				if err := sw.PutHash(b, h); err != nil {
					t.Fatalf("PutHash(%d): %v", b, err)
				}
				h[0] ^= 0xff // not retained
				want[b] = HashData(seed, b, hs)
			}
			var bins []uint64
			var buf []byte
			for b := uint64(100); b < 300; b++ {
				bins = append(bins, b)
				buf = append(buf, HashData(seed, b, hs)...)
				want[b] = HashData(seed, b, hs)
			}
			if err := sw.PutHashes(bins, buf); err != nil {
				t.Fatal(err)
			}
			// Storing a node again is fine.
			if err := sw.PutHash(0, HashData(seed, 0, hs)); err != nil {
				t.Fatal(err)
			}
			check := func(sw store.Swarm) {
				t.Helper()
				got := map[uint64][]byte{}
				var kept [][]byte
				if err := sw.Hashes(func(b uint64, h []byte) {
					if _, dup := got[b]; dup {
						t.Errorf("Hashes: bin %d twice", b)
					}
					got[b] = h
					kept = append(kept, h)
				}); err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Errorf("Hashes gave %d nodes, want %d", len(got), len(want))
				}
				for b, h := range want {
					if !bytes.Equal(got[b], h) {
						t.Errorf("Hashes: bin %d = %x, want %x", b, got[b], h)
					}
					if g, err := sw.Hash(b); err != nil || !bytes.Equal(g, h) {
						t.Errorf("Hash(%d) = %x, %v", b, g, err)
					}
				}
				_, err := sw.Hash(3)
				wantErr(t, "Hash(missing)", err, store.ErrNotFound)
			}
			check(sw)
			if err := sw.Flush(); err != nil {
				t.Fatal(err)
			}
			check(sw)
			mustClose(t, "swarm", sw)
			sw = open(t, s, in)
			defer sw.Close()
			check(sw)
		})
	}
}

func testHashErrors(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	sw := open(t, s, info("he", 1024, 3*1024)) // 3 chunks: tree of 4 leaves, bins 0..6
	defer sw.Close()
	for _, n := range []int{0, 19, 21, 32} {
		wantErr(t, fmt.Sprintf("PutHash %d bytes", n), sw.PutHash(0, make([]byte, n)), store.ErrSize)
	}
	for _, b := range []uint64{7, 8, 1 << 40, 1<<64 - 1} {
		wantErr(t, fmt.Sprint("PutHash bin ", b), sw.PutHash(b, make([]byte, 20)), store.ErrOutOfRange)
	}
	if err := sw.PutHash(6, make([]byte, 20)); err != nil {
		t.Errorf("PutHash(root 6): %v", err)
	}
	wantErr(t, "PutHashes short", sw.PutHashes([]uint64{0, 2}, make([]byte, 39)), store.ErrSize)
	wantErr(t, "PutHashes out of range", sw.PutHashes([]uint64{0, 9}, make([]byte, 40)), store.ErrOutOfRange)
	n := 0
	sw.Hashes(func(uint64, []byte) { n++ })
	if n != 1 {
		t.Errorf("%d hashes stored after errors, want 1 (failed batches store nothing)", n)
	}
}

func testReopenSwarm(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	in := info("ro", 1024, 10*1024+1)
	sw := open(t, s, in)
	write(t, sw, "ro", 0, 4, 10)
	if err := sw.PutHash(4, HashData("ro", 4, 20)); err != nil {
		t.Fatal(err)
	}
	mustClose(t, "swarm", sw)
	sw = open(t, s, in)
	defer sw.Close()
	checkChunks(t, sw, "ro", 0, 4, 10)
	if h, err := sw.Hash(4); err != nil || !bytes.Equal(h, HashData("ro", 4, 20)) {
		t.Errorf("Hash(4) after reopen = %x, %v", h, err)
	}
}

func testReopenStore(t *testing.T, c Config, dir string) {
	if !c.Persistent {
		t.Skip("not persistent")
	}
	s := c.Open(t, dir)
	in := info("rs", 1024, 100*1024)
	in.Path = filepath.Join(dir, "elsewhere", "file.bin")
	sw := open(t, s, in)
	write(t, sw, "rs", 1, 2, 3, 99)
	if err := sw.PutHashes([]uint64{2, 4, 6}, bytes.Repeat([]byte{7}, 60)); err != nil {
		t.Fatal(err)
	}
	unk := info("rs-unknown", 2048, -1)
	su := open(t, s, unk)
	mustClose(t, "swarm", su)
	// Store.Close closes open swarms, flushing them.
	mustClose(t, "store", s)

	s = newStore(t, c, dir)
	l, err := s.List()
	if err != nil || len(l) != 2 {
		t.Fatalf("List = %v, %v", l, err)
	}
	sw = open(t, s, store.Info{SwarmID: in.SwarmID, Length: -1})
	defer sw.Close()
	got := sw.Info()
	if got.Path != in.Path || got.Length != in.Length || got.ChunkSize != 1024 || got.Name != "rs" {
		t.Errorf("Info after reopen = %+v", got)
	}
	checkChunks(t, sw, "rs", 1, 2, 3, 99)
	n := 0
	sw.Hashes(func(b uint64, h []byte) {
		n++
		if !bytes.Equal(h, bytes.Repeat([]byte{7}, 20)) {
			t.Errorf("hash %d = %x", b, h)
		}
	})
	if n != 3 {
		t.Errorf("%d hashes after reopen", n)
	}
	if g, err := s.Get(unk.SwarmID); err != nil || g.Length != -1 || g.ChunkSize != 2048 {
		t.Errorf("Get(unknown-length swarm) = %+v, %v", g, err)
	}
}

func testClosed(t *testing.T, c Config, dir string) {
	s := c.Open(t, dir)
	sw := open(t, s, info("cl", 1024, 4096))
	write(t, sw, "cl", 0)
	mustClose(t, "swarm", sw)
	if err := sw.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	wantErr(t, "WriteChunk", sw.WriteChunk(1, make([]byte, 1024)), store.ErrClosed)
	_, err := sw.ReadChunk(0, make([]byte, 1024))
	wantErr(t, "ReadChunk", err, store.ErrClosed)
	wantErr(t, "PutHash", sw.PutHash(0, make([]byte, 20)), store.ErrClosed)
	wantErr(t, "SetLength", sw.SetLength(4000), store.ErrClosed)
	wantErr(t, "Flush", sw.Flush(), store.ErrClosed)
	wantErr(t, "Hashes", sw.Hashes(func(uint64, []byte) {}), store.ErrClosed)
	_, err = sw.Hash(0)
	wantErr(t, "Hash", err, store.ErrClosed)
	if sw.Have(0) || sw.NumVerified() != 0 || len(sw.Verified()) != 0 {
		t.Error("closed swarm reports verified chunks")
	}
	if sw.Info().ChunkSize != 1024 {
		t.Error("Info() after Close lost the info")
	}
	sw2 := open(t, s, info("cl2", 1024, 4096))
	mustClose(t, "store", s)
	wantErr(t, "WriteChunk after store Close", sw2.WriteChunk(0, make([]byte, 1024)), store.ErrClosed)
	sw2.Close()
	if err := s.Close(); err != nil {
		t.Errorf("second store Close: %v", err)
	}
	_, err = s.Open(info("cl3", 1024, 10))
	wantErr(t, "Open after Close", err, store.ErrClosed)
	_, err = s.Get(ID("cl", 0))
	wantErr(t, "Get after Close", err, store.ErrClosed)
	_, err = s.List()
	wantErr(t, "List after Close", err, store.ErrClosed)
}

func testTwoHandles(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	in := info("two", 1024, 4096)
	a := open(t, s, in)
	b := open(t, s, in)
	write(t, a, "two", 1)
	checkChunks(t, b, "two", 1)
	mustClose(t, "a", a)
	write(t, b, "two", 2)
	checkChunks(t, b, "two", 1, 2)
	mustClose(t, "b", b)
	c2 := open(t, s, in)
	defer c2.Close()
	checkChunks(t, c2, "two", 1, 2)
}

func testIndependent(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	a := open(t, s, info("ia", 1024, 4096))
	defer a.Close()
	b := open(t, s, info("ib", 1024, 4096))
	defer b.Close()
	write(t, a, "ia", 0, 1)
	write(t, b, "ib", 3)
	checkChunks(t, a, "ia", 0, 1)
	checkChunks(t, b, "ib", 3)
}

func testSparse(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	const length = 10 << 30
	in := info("sparse", 1024, length)
	sw := open(t, s, in)
	last := uint64(length/1024 - 1)
	write(t, sw, "sparse", 0, last/2, last)
	maxBin := 2*(uint64(1)<<24) - 2 // 10 Mi chunks: tree of 16 Mi leaves
	if err := sw.PutHashes([]uint64{0, 2 * last, maxBin}, bytes.Repeat([]byte{1}, 60)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "PutHash beyond the tree", sw.PutHash(maxBin+1, make([]byte, 20)), store.ErrOutOfRange)
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	checkChunks(t, sw, "sparse", 0, last/2, last)
	mustClose(t, "swarm", sw)
	sw = open(t, s, in)
	defer sw.Close()
	checkChunks(t, sw, "sparse", 0, last/2, last)
	want := ranges(0, 0, last/2, last/2, last, last)
	if got := sw.Verified(); !slices.Equal(got, want) {
		t.Errorf("Verified = %v, want %v", got, want)
	}
}

func testBigChunks(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	sw := open(t, s, info("big", 1<<20, 3<<20+17))
	defer sw.Close()
	write(t, sw, "big", 0, 3)
	checkChunks(t, sw, "big", 0, 3)
	if n := sw.Info().ChunkLen(3); n != 17 {
		t.Errorf("ChunkLen(3) = %d", n)
	}
}

func testConcurrent(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	const chunks, writers = 2000, 4
	in := info("conc", 1024, chunks*1024-100)
	sw := open(t, s, in)
	defer sw.Close()
	other := open(t, s, in) // a second handle on the same swarm
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			h := sw
			if w%2 == 1 {
				h = other
			}
			in := h.Info()
			for ch := uint64(w); ch < chunks; ch += writers {
				if err := h.WriteChunk(ch, ChunkData("conc", ch, in.ChunkLen(ch))); err != nil {
					t.Error(err)
					return
				}
				if err := h.PutHash(2*ch, HashData("conc", 2*ch, 20)); err != nil {
					t.Error(err)
					return
				}
				if ch%500 == 0 {
					if err := h.Flush(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			buf := make([]byte, 1024)
			r := rand.New(rand.NewPCG(1, 2))
			for {
				select {
				case <-done:
					return
				default:
				}
				ch := r.Uint64N(chunks)
				n, err := sw.ReadChunk(ch, buf)
				switch {
				case errors.Is(err, store.ErrNotVerified):
				case err != nil:
					t.Error(err)
					return
				case !bytes.Equal(buf[:n], ChunkData("conc", ch, in.ChunkLen(ch))):
					t.Errorf("chunk %d read wrong bytes", ch)
					return
				}
				sw.Verified()
				sw.NumVerified()
				sw.Hashes(func(uint64, []byte) {})
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	mustClose(t, "other", other)
	if sw.NumVerified() != chunks {
		t.Fatalf("NumVerified = %d", sw.NumVerified())
	}
	if v := sw.Verified(); !slices.Equal(v, ranges(0, chunks-1)) {
		t.Errorf("Verified = %v", v)
	}
	n := 0
	sw.Hashes(func(b uint64, h []byte) {
		n++
		if !bytes.Equal(h, HashData("conc", b, 20)) {
			t.Errorf("hash %d wrong", b)
		}
	})
	if n != chunks {
		t.Errorf("%d hashes, want %d", n, chunks)
	}
}

// ranges builds []store.Range from start, end pairs.
func ranges(se ...uint64) []store.Range {
	out := []store.Range{}
	for k := 0; k+1 < len(se); k += 2 {
		out = append(out, store.Range{Start: se[k], End: se[k+1]})
	}
	return out
}

// testCloseWhileBusy closes handles, removes swarms and closes the store
// while other goroutines use them: no panic, no race, and every error is
// ErrClosed.
func testCloseWhileBusy(t *testing.T, c Config, dir string) {
	s := c.Open(t, dir)
	const chunks = 512
	var wg sync.WaitGroup
	use := func(sw store.Swarm, seed string) {
		defer wg.Done()
		in := sw.Info()
		buf := make([]byte, 1024)
		for ch := uint64(0); ch < chunks; ch++ {
			err := sw.WriteChunk(ch, ChunkData(seed, ch, in.ChunkLen(ch)))
			if err == nil {
				_, err = sw.ReadChunk(ch, buf)
			}
			if err == nil {
				err = sw.PutHash(2*ch, HashData(seed, 2*ch, 20))
			}
			if err == nil && ch%64 == 0 {
				err = sw.Flush()
			}
			if err == nil {
				sw.Verified()
				err = sw.Hashes(func(uint64, []byte) {})
			}
			if err != nil && !errors.Is(err, store.ErrClosed) && !errors.Is(err, store.ErrNotVerified) {
				t.Errorf("%s: chunk %d: %v", seed, ch, err)
				return
			}
		}
	}
	var closers []func() error
	for k := range 3 {
		seed := fmt.Sprint("busy", k)
		sw := open(t, s, info(seed, 1024, chunks*1024))
		wg.Add(1)
		go use(sw, seed)
		switch k {
		case 0:
			closers = append(closers, sw.Close)
		case 1:
			closers = append(closers, func() error { return s.Remove(ID(seed, 0)) })
		case 2:
			closers = append(closers, s.Close)
		}
	}
	for _, cl := range closers {
		if err := cl(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("close: %v", err)
		}
	}
	wg.Wait()
	s.Close()
}

// testHashesReentrant calls the Swarm from inside the Hashes callback.
func testHashesReentrant(t *testing.T, c Config, dir string) {
	s := newStore(t, c, dir)
	sw := open(t, s, info("re", 1024, 8*1024))
	defer sw.Close()
	write(t, sw, "re", 0)
	for b := uint64(0); b < 15; b += 2 {
		if err := sw.PutHash(b, HashData("re", b, 20)); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	if err := sw.Hashes(func(b uint64, h []byte) {
		n++
		if g, err := sw.Hash(b); err != nil || !bytes.Equal(g, h) {
			t.Errorf("Hash(%d) inside Hashes: %v", b, err)
		}
		if err := sw.PutHash(b+1, HashData("re", b+1, 20)); err != nil && !errors.Is(err, store.ErrOutOfRange) {
			t.Errorf("PutHash inside Hashes: %v", err)
		}
		sw.Have(0)
	}); err != nil {
		t.Fatal(err)
	}
	if n != 8 {
		t.Errorf("Hashes gave %d nodes, want the 8 stored before the call", n)
	}
}
