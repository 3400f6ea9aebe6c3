package blobstore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/blobstore"
	"github.com/swarmgate/swarmgate/internal/stream"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// These tests run the real engine over loopback UDP with a leecher whose
// store is a blobstore, as the browser's is: downloads complete with every
// chunk verified, resume after an interruption, and read back from
// storage re-verified, a damaged chunk refused.

func content(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

type peer struct {
	e      *swarm.Engine
	conn   net.PacketConn
	cancel context.CancelFunc
	done   chan error
}

func startPeer(t *testing.T) *peer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e, err := swarm.New(swarm.Config{Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &peer{e: e, conn: conn, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- e.Run(ctx) }()
	t.Cleanup(p.stop)
	return p
}

func (p *peer) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
	p.conn.Close()
	p.cancel = nil
}

// seed starts a seeder of data and returns the root.
func seed(t *testing.T, data []byte) (*peer, []byte) {
	t.Helper()
	p := startPeer(t)
	sw, _, err := swarm.Import(store.NewMemory(), bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: 1024}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.e.Add(swarm.SwarmConfig{Store: sw, Mode: swarm.ModePeer}); err != nil {
		t.Fatal(err)
	}
	return p, sw.Info().SwarmID
}

// leech is one run of a leecher over a blobstore on b.
type leech struct {
	before uint64 // chunks the store held before the engine started
	p      *peer
	st     *blobstore.Store
	sw     store.Swarm
	s      *swarm.Swarm
}

func startLeech(t *testing.T, b blobstore.Blobs, root []byte, from *peer) *leech {
	t.Helper()
	st, err := blobstore.Open(b, blobstore.Options{BlockBytes: 64 << 10, CacheBytes: 128 << 10, HashCacheBytes: 64 << 10,
		MaxDirty: 256 << 10, FlushInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sw, err := st.Open(store.Info{SwarmID: root, ChunkSize: 1024, Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	l := &leech{p: startPeer(t), st: st, sw: sw, before: sw.NumVerified()}
	if l.s, err = l.p.e.Add(swarm.SwarmConfig{Store: sw, Mode: swarm.ModeLeech}); err != nil {
		t.Fatal(err)
	}
	if from != nil {
		if err := l.s.Connect(from.conn.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func (l *leech) stop(t *testing.T) {
	t.Helper()
	l.s.Close()
	l.p.stop()
	if err := l.sw.Close(); err != nil {
		t.Error(err)
	}
	if err := l.st.Close(); err != nil {
		t.Error(err)
	}
}

func waitHave(t *testing.T, s *swarm.Swarm, k uint64, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if have, _ := s.Progress(); have >= k {
			return
		}
		if time.Now().After(deadline) {
			have, total := s.Progress()
			t.Fatalf("%d of %d chunks after %v, want %d", have, total, d, k)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitDone waits (at most a minute) for s to complete.
func waitDone(t *testing.T, s *swarm.Swarm) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(60 * time.Second):
		have, total := s.Progress()
		t.Fatalf("download stalled at %d of %d chunks", have, total)
	}
}

// readAll reads every chunk of sw back and compares it with data.
func readAll(t *testing.T, sw store.Swarm, data []byte) {
	t.Helper()
	buf := make([]byte, 1024)
	n := uint64(len(data)+1023) / 1024
	for c := uint64(0); c < n; c++ {
		k, err := sw.ReadChunk(c, buf)
		if err != nil {
			t.Fatalf("ReadChunk(%d): %v", c, err)
		}
		if !bytes.Equal(buf[:k], data[c*1024:min(c*1024+1024, uint64(len(data)))]) {
			t.Fatalf("chunk %d differs", c)
		}
	}
}

// 2048 + 512 + 16 chunks, the last one short: three peaks.
const threePeaks = (2048+512+16)*1024 - 333

func TestDownloadResumeReopen(t *testing.T) {
	data := content(threePeaks, 1)
	full, root := seed(t, data)
	n := uint64(len(data)+1023) / 1024
	for _, cut := range []uint64{300, 2048 + 100, 2048 + 512 + 5} {
		b := blobstore.NewMemBlobs()
		l := startLeech(t, b, root, full)
		waitHave(t, l.s, cut, 30*time.Second)
		l.stop(t)

		l = startLeech(t, b, root, full)
		before := l.before
		if before == 0 {
			t.Fatalf("cut %d: nothing stored after a clean stop", cut)
		}
		select {
		case <-l.s.Done():
		case <-time.After(60 * time.Second):
			have, _ := l.s.Progress()
			t.Fatalf("cut %d: resumed run stalled at %d of %d chunks", cut, have, n)
		}
		if got := l.s.Stats().ChunksVerified; got != n-before {
			t.Errorf("cut %d: resumed run verified %d chunks, want %d (%d stored before)", cut, got, n-before, before)
		}
		l.stop(t)

		// Reopened with no peer at all: complete, every chunk re-verified.
		l = startLeech(t, b, root, nil)
		if got := l.sw.NumVerified(); got != n {
			t.Fatalf("cut %d: reopened store holds %d of %d chunks", cut, got, n)
		}
		select {
		case <-l.s.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("cut %d: a complete store did not restore as complete", cut)
		}
		readAll(t, l.sw, data)
		l.stop(t)
		if cut == 300 {
			t.Logf("%d KiB of content took %d KiB of blobs", len(data)>>10, b.Bytes()>>10)
		}
	}
}

func TestCorruptChunkRefused(t *testing.T) {
	data := content(5000*1024+17, 2)
	full, root := seed(t, data)
	b := blobstore.NewMemBlobs()
	l := startLeech(t, b, root, full)
	waitDone(t, l.s)
	l.stop(t)
	full.stop()

	// Damage one byte of chunk 70 (block 1 at 64 KiB blocks), as a disk might.
	dir := hex.EncodeToString(root)
	if !b.Corrupt(dir, "c1", 6*1024+5) {
		t.Fatal("no block c1 stored")
	}
	st, err := blobstore.Open(b, blobstore.Options{BlockBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	sw, err := st.Open(store.Info{SwarmID: root, ChunkSize: 1024, Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	for c := uint64(0); c < 5001; c++ {
		k, err := sw.ReadChunk(c, buf)
		if c == 70 {
			if !errors.Is(err, blobstore.ErrCorrupt) || !errors.Is(err, store.ErrNotVerified) {
				t.Fatalf("damaged chunk 70: err = %v, want ErrCorrupt", err)
			}
			if sw.Have(70) {
				t.Error("damaged chunk still marked verified")
			}
			continue
		}
		if err != nil || !bytes.Equal(buf[:k], data[c*1024:min(c*1024+1024, uint64(len(data)))]) {
			t.Fatalf("chunk %d: %v", c, err)
		}
	}
	sw.Close()
	st.Close()
	// The loss is persisted: the next session fetches chunk 70 again.
	st, _ = blobstore.Open(b, blobstore.Options{BlockBytes: 64 << 10})
	defer st.Close()
	sw, _ = st.Open(store.Info{SwarmID: root, ChunkSize: 1024, Length: -1})
	defer sw.Close()
	if sw.Have(70) || sw.NumVerified() != 5000 {
		t.Errorf("after reopen: Have(70) = %v, %d verified", sw.Have(70), sw.NumVerified())
	}
}

// A damaged hash is caught the same way: the chain to the root breaks.
func TestCorruptHashRefused(t *testing.T) {
	data := content(3000*1024, 3)
	full, root := seed(t, data)
	b := blobstore.NewMemBlobs()
	l := startLeech(t, b, root, full)
	waitDone(t, l.s)
	l.stop(t)
	// Group 0 holds bins 0..2047: bin 2 (chunk 1's leaf) at offset 40.
	if !b.Corrupt(hex.EncodeToString(root), "h0", 2*20+3) {
		t.Fatal("no hash group h0")
	}
	st, _ := blobstore.Open(b, blobstore.Options{BlockBytes: 64 << 10})
	defer st.Close()
	sw, _ := st.Open(store.Info{SwarmID: root, ChunkSize: 1024, Length: -1})
	defer sw.Close()
	// Chunk 0's chain to the root starts with its sibling, bin 2.
	if _, err := sw.ReadChunk(0, make([]byte, 1024)); !errors.Is(err, blobstore.ErrCorrupt) {
		t.Fatalf("with bin 2's hash damaged: chunk 0: %v, want ErrCorrupt", err)
	}
}

func TestQuotaExceeded(t *testing.T) {
	data := content(4000*1024, 4)
	full, root := seed(t, data)
	b := blobstore.NewMemBlobs()
	quota := errors.New("QuotaExceededError: storage full")
	b.Fail = func(dir, name string, stored int64) error {
		if stored > 1<<20 {
			return quota
		}
		return nil
	}
	l := startLeech(t, b, root, full)
	defer func() {
		l.s.Close()
		l.p.stop()
		if err := l.sw.Close(); !errors.Is(err, quota) {
			t.Errorf("Close with storage full: %v, want the quota error", err)
		}
		l.st.Close()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for l.s.Err() == nil && time.Now().Before(deadline) {
		select {
		case <-l.s.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := l.sw.Flush(); !errors.Is(err, quota) {
		t.Errorf("Flush with storage full: %v, want the quota error", err)
	}
	if have, _ := l.s.Progress(); have == uint64(len(data)/1024) && l.s.Err() == nil {
		t.Errorf("download completed into a full store without an error")
	}
	t.Logf("engine: %v", l.s.Err())
}

// A chunk damaged in storage while the download is under way is read back
// through stream.Reader: the reader hands over none of it, the engine
// forgets it and fetches it again, and the read returns the right bytes
// in the same session (before, the read failed and the page fell back to
// the gateway until a later session fetched it).
func TestCorruptChunkRefetched(t *testing.T) {
	data := content(5000*1024+17, 3)
	full, root := seed(t, data)
	b := blobstore.NewMemBlobs()
	l := startLeech(t, b, root, full)
	waitHave(t, l.s, 1500, 30*time.Second)
	l.stop(t)
	dir := hex.EncodeToString(root)
	// Chunk 70: block 1 at 64 KiB blocks.
	if !b.Corrupt(dir, "c1", 6*1024+5) {
		t.Fatal("no block c1 stored")
	}

	st, err := blobstore.Open(b, blobstore.Options{BlockBytes: 64 << 10, FlushInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.Open(store.Info{SwarmID: root, ChunkSize: 1024, Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !raw.Have(70) {
		t.Fatal("chunk 70 was not stored before the damage: the test tests nothing")
	}
	sw := stream.Wrap(raw)
	p := startPeer(t)
	s, err := p.e.Add(swarm.SwarmConfig{Store: sw, Mode: swarm.ModeLeech})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(full.conn.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	size, err := stream.WaitLength(ctx, sw, s, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := stream.NewReader(ctx, sw, s, size, 20*time.Second)
	got := make([]byte, 64<<10)
	if _, err := r.Seek(60*1024, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatalf("reading across the damaged chunk: %v (stats %+v)", err, s.Stats())
	}
	if !bytes.Equal(got, data[60*1024:60*1024+len(got)]) {
		t.Fatal("the bytes read are not the content's")
	}
	if f := s.Stats().Forgotten; f != 1 {
		t.Errorf("Forgotten = %d, want 1", f)
	}
	waitDone(t, s)
	s.Close()
	p.stop()
	sw.Close()
	st.Close()
}
