package swarm

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/netsim"
	"github.com/swarmgate/swarmgate/internal/ppsp"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/sqlitestore"
)

// lyingStore serves corrupted bytes: a peer that lies about content.
type lyingStore struct {
	store.Swarm
}

func (l lyingStore) ReadChunk(c uint64, p []byte) (int, error) {
	n, err := l.Swarm.ReadChunk(c, p)
	if n > 0 {
		p[n/2] ^= 0x5a
	}
	return n, err
}

func TestLyingPeerIsDropped(t *testing.T) {
	data := randomContent(3<<20+123, 5)
	var seeders []*node
	var root []byte
	for i := 0; i < 3; i++ {
		n := startEngine(t, nil, nil)
		sw, tree, err := Import(store.NewMemory(), bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: 1024}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			sw = lyingStore{sw}
		}
		if _, err := n.e.Add(SwarmConfig{Store: sw}); err != nil {
			t.Fatal(err)
		}
		root = tree.Root()
		seeders = append(seeders, n)
	}
	// The downloader stores into a real SQLite store and plain file.
	dir := t.TempDir()
	st, err := sqlitestore.Open(sqlitestore.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := filepath.Join(dir, "out.bin")
	sw, err := st.Open(store.Info{SwarmID: root, ChunkSize: 1024, Length: -1, Path: out})
	if err != nil {
		t.Fatal(err)
	}
	l := startEngine(t, nil, nil)
	s, err := l.e.Add(SwarmConfig{Store: sw, Mode: ModeLeech})
	if err != nil {
		t.Fatal(err)
	}
	// The liar first and alone, so that it certainly serves something.
	s.Connect(seeders[0].conn.LocalAddr())
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().PeersDropped == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for _, sd := range seeders {
		s.Connect(sd.conn.LocalAddr())
	}
	waitDone(t, s, 30*time.Second)
	if got := s.Stats().PeersDropped; got != 1 {
		t.Errorf("dropped %d peers, want the liar only", got)
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("file on disk differs from the content")
	}
	if !s.isBannedLocked(seeders[0].conn.LocalAddr()) {
		t.Error("liar not banned")
	}
}

func (s *Swarm) isBannedLocked(a net.Addr) bool {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.isBanned(a)
}

func TestThreeSeedersAndLoss(t *testing.T) {
	for _, tc := range []struct {
		name    string
		seeders int
		loss    float64
	}{
		{"3seeders", 3, 0},
		{"loss10", 1, 0.10},
		{"3seeders-loss10", 3, 0.10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := randomContent(8<<20+77, 11)
			wrap := func(i int) net.PacketConn {
				c, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				TuneSocket(c, 4<<20)
				if tc.loss == 0 {
					return c
				}
				return netsim.Wrap(c, netsim.Config{Loss: tc.loss, Seed: int64(i + 1)})
			}
			var srcs []*Swarm
			var nodes []*node
			for i := 0; i < tc.seeders; i++ {
				n := startEngine(t, wrap(i), nil)
				srcs = append(srcs, seedContent(t, n, data, 1024))
				nodes = append(nodes, n)
			}
			l := startEngine(t, wrap(99), nil)
			dst, sw := leechSwarm(t, l, srcs[0].ID(), 1024, ModeLeech)
			for _, n := range nodes {
				dst.Connect(n.conn.LocalAddr())
			}
			waitDone(t, dst, 60*time.Second)
			checkContent(t, sw, data)
			var uploaders, retx uint64
			for _, s := range srcs {
				if s.Stats().BytesUploaded > 0 {
					uploaders++
				}
				retx += s.Stats().Retransmits
			}
			if tc.seeders > 1 && uploaders < 2 {
				t.Errorf("only %d seeders uploaded", uploaders)
			}
			if tc.loss > 0 && retx == 0 {
				t.Error("no retransmissions under loss")
			}
			// Bytes by sender: each verified byte counted once, under a
			// seeder's address, while its channel is open and after.
			checkFrom := func(when string) {
				t.Helper()
				var sum uint64
				for k, v := range dst.DownloadedFrom() {
					ok := false
					for _, n := range nodes {
						ok = ok || k == n.conn.LocalAddr().String()
					}
					if !ok {
						t.Errorf("%s: %d bytes from %q, not a seeder", when, v, k)
					}
					sum += v
				}
				if sum != uint64(len(data)) {
					t.Errorf("%s: DownloadedFrom sums to %d, want %d", when, sum, len(data))
				}
			}
			checkFrom("open")
			for _, n := range nodes {
				n.cancel() // closes its channels explicitly
			}
			for deadline := time.Now().Add(5 * time.Second); len(dst.Peers()) > 0 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if p := dst.Peers(); len(p) > 0 {
				t.Fatalf("%d channels still open after the seeders stopped", len(p))
			}
			checkFrom("closed")
		})
	}
}

// TestAmplification checks that an unconfirmed address never gets more
// than three times the bytes it sent, however many handshakes it sends.
func TestAmplification(t *testing.T) {
	data := randomContent(1<<20, 3)
	n := startEngine(t, nil, nil)
	src := seedContent(t, n, data, 1024)
	raw, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	opts := ppsp.LibswiftOptions(src.ID(), 0)
	var sent, recv int
	buf := make([]byte, 65536)
	for i := 0; i < 5; i++ {
		b := ppsp.AppendHeader(nil, 0)
		b, _ = ppsp.AppendHandshake(b, 0x01020304, opts)
		// A REQUEST for everything in the first datagram: must not be answered with DATA.
		b, _ = ppsp.AppendRequest(b, ppsp.Context{}, ppsp.Spec{Start: 0, End: 1023})
		raw.WriteTo(b, n.conn.LocalAddr())
		sent += len(b)
		raw.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
		for {
			k, _, err := raw.ReadFrom(buf)
			if err != nil {
				break
			}
			recv += k
		}
	}
	if recv == 0 {
		t.Fatal("no handshake reply")
	}
	if recv > 3*sent {
		t.Fatalf("sent %d bytes, got %d back: amplification above 3x", sent, recv)
	}
}

// TestLeecherStaysQuiet: a leecher never uploads, accepts no channels, and
// closes its channels when complete.
func TestLeecherStaysQuiet(t *testing.T) {
	data := randomContent(512<<10, 8)
	sd := startEngine(t, nil, nil)
	src := seedContent(t, sd, data, 1024)
	a := startEngine(t, nil, nil)
	la, _ := leechSwarm(t, a, src.ID(), 1024, ModeLeech)
	la.Connect(sd.conn.LocalAddr())
	waitDone(t, la, 10*time.Second)
	deadline := time.Now().Add(2 * time.Second)
	for len(la.Peers()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p := la.Peers(); len(p) > 0 {
		t.Fatalf("complete leecher still has channels: %+v", p)
	}
	// Another leecher that knows only the first cannot get anything.
	b := startEngine(t, nil, nil)
	lb, _ := leechSwarm(t, b, src.ID(), 1024, ModeLeech)
	lb.Connect(a.conn.LocalAddr())
	time.Sleep(700 * time.Millisecond)
	if have, _ := lb.Progress(); have != 0 {
		t.Fatalf("leecher served %d chunks", have)
	}
	if st := la.Stats(); st.ChunksServed != 0 || st.BytesUploaded != 0 {
		t.Fatalf("leecher uploaded: %+v", st)
	}
	if es := a.e.Stats(); es.DatagramsRecv == 0 {
		t.Fatal("leecher heard nothing from the second leecher")
	}
}

// TestDeadPeer: a silent peer is closed after DeadPeer once we sent it at
// least three datagrams (keep-alives).
func TestDeadPeer(t *testing.T) {
	data := randomContent(64<<10, 8)
	var silent atomic.Bool
	c, _ := net.ListenPacket("udp", "127.0.0.1:0")
	sc := netsim.Wrap(c, netsim.Config{Drop: func(net.Addr) bool { return silent.Load() }})
	sd := startEngine(t, sc, nil)
	src := seedContent(t, sd, data, 1024)
	cfg := func(c *Config) { c.KeepAlive = 30 * time.Millisecond; c.DeadPeer = 300 * time.Millisecond }
	p := startEngine(t, nil, cfg)
	ps, _ := leechSwarm(t, p, src.ID(), 1024, ModePeer)
	ps.Connect(sd.conn.LocalAddr())
	waitDone(t, ps, 10*time.Second)
	if len(ps.Peers()) != 1 {
		t.Fatalf("peers %+v", ps.Peers())
	}
	silent.Store(true)
	deadline := time.Now().Add(3 * time.Second)
	for len(ps.Peers()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(ps.Peers()) != 0 {
		t.Fatal("silent peer not declared dead")
	}
}

// TestExplicitClose: stopping an engine closes its peers' channels at once.
func TestExplicitClose(t *testing.T) {
	data := randomContent(64<<10, 8)
	sd := startEngine(t, nil, nil)
	src := seedContent(t, sd, data, 1024)
	p := startEngine(t, nil, nil)
	ps, _ := leechSwarm(t, p, src.ID(), 1024, ModePeer)
	ps.Connect(sd.conn.LocalAddr())
	waitDone(t, ps, 10*time.Second)
	time.Sleep(50 * time.Millisecond)
	if len(src.Peers()) != 1 {
		t.Fatalf("seeder peers %+v", src.Peers())
	}
	ps.Close()
	deadline := time.Now().Add(2 * time.Second)
	for len(src.Peers()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(src.Peers()) != 0 {
		t.Fatal("explicit close not honoured")
	}
}

func TestPickerStreamsFromPlayhead(t *testing.T) {
	data := randomContent(1000*1024, 1)
	n := startEngine(t, nil, nil)
	src := seedContent(t, n, data, 1024)
	l := startEngine(t, nil, nil)
	s, _ := leechSwarm(t, l, src.ID(), 1024, ModePeer)
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	s.tree.Restore(1000, -1)
	s.sizeKnown()
	s.window = 32
	ch, err := s.newChannel(n.conn.LocalAddr(), true)
	if err != nil {
		t.Fatal(err)
	}
	ch.addPeerHas(0, 999)
	// Make chunks 600.. rare: nobody else has them, chunks <600 are everywhere.
	var others []*channel
	for k := range 5 {
		o, err := s.newChannel(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 20000 + k}, true)
		if err != nil {
			t.Fatal(err)
		}
		o.addPeerHas(0, 599)
		others = append(others, o)
	}
	s.playhead = 100
	s.have.setRange(100, 104)
	got := s.pick(ch, 40, nil)
	// The length is unknown: the last chunk comes first, asked for before
	// the window so that the peer serves it first.
	if got[0] != 999 {
		t.Fatalf("picks %v, want the last chunk (999) first while the length is unknown", got[:4])
	}
	got = got[1:]
	for i := 0; i < 32; i++ {
		if got[i] != uint64(105+i) {
			t.Fatalf("in-window picks %v, want 105.. in order", got[:32])
		}
	}
	for _, c := range got[32:] {
		if c < 600 {
			t.Fatalf("beyond the window, picked common chunk %d before rare ones: %v", c, got[32:])
		}
	}
	for _, o := range others {
		o.close("test", false)
	}
	ch.close("test", false)
}

// FuzzDatagram feeds arbitrary datagrams to an engine with one open channel
// (as a seeder and as a leecher): nothing may panic or hang, and the engine
// still answers a fresh handshake afterwards.
func FuzzDatagram(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0}, false)
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 0x0f}, true)
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 0, 0x19, 6}, false)
	f.Add([]byte{4, 0, 0, 0, 0x0f, 0, 0, 0, 0x0f}, true)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, true)
	f.Add([]byte{0, 0, 0, 0, 0, 0xff}, false)
	data := randomContent(40*1024+5, 2)
	net := netsim.NewNetwork()
	f.Fuzz(func(t *testing.T, b []byte, toLeecher bool) {
		conn, err := net.Listen(netip.MustParseAddrPort("127.0.0.1:1"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		peerConn, _ := net.Listen(netip.MustParseAddrPort("127.0.0.2:1"))
		defer peerConn.Close()
		e, _ := New(Config{Conn: conn})
		sw, tree, _ := Import(store.NewMemory(), bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: 1024}, 1)
		mode := ModePeer
		if toLeecher {
			mem, _ := store.NewMemory().Open(store.Info{SwarmID: tree.Root(), ChunkSize: 1024, Length: -1})
			sw, mode = mem, ModeLeech
		}
		s, err := e.Add(SwarmConfig{Store: sw, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		peer := peerConn.LocalAddr()
		e.mu.Lock()
		defer e.mu.Unlock()
		var local uint32
		if toLeecher {
			// The leecher opens; the peer answers with a handshake.
			s.connect(peer)
			for id := range s.channels {
				local = id
			}
			hs := ppsp.AppendHeader(nil, local)
			hs, _ = ppsp.AppendHandshake(hs, 77, ppsp.LibswiftOptions(nil, 0))
			e.handleDatagram(hs, peer)
		} else {
			hs := ppsp.AppendHeader(nil, 0)
			hs, _ = ppsp.AppendHandshake(hs, 77, ppsp.LibswiftOptions(tree.Root(), 0))
			e.handleDatagram(hs, peer)
			for id := range s.channels {
				local = id
			}
		}
		if local == 0 {
			t.Fatal("no channel")
		}
		d := binary.BigEndian.AppendUint32(nil, local)
		e.handleDatagram(append(d, b...), peer)
		e.handleDatagram(b, peer)
		e.tick()
		e.tick()
	})
}

// TestSentHashesDroppedBehindPeer: the record of hashes sent to a peer
// forgets the stretches whose chunks the peer has all acknowledged (none of
// their bins is an uncle it needs again) and keeps the rest.
func TestSentHashesDroppedBehindPeer(t *testing.T) {
	const span = pageBits / 2
	n := startEngine(t, nil, nil)
	l := startEngine(t, nil, nil)
	s, _ := leechSwarm(t, l, make([]byte, 20), 1024, ModePeer)
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	chunks := uint64(4*span + 100)
	s.tree.Restore(chunks, -1)
	s.sizeKnown()
	ch, err := s.newChannel(n.conn.LocalAddr(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.close("test", false)
	for b := uint64(1); b < 2*chunks; b += 97 {
		ch.sentHash.set(b)
	}
	before := ch.sentHash.memBytes()
	ch.addPeerHas(0, 2*span+5) // pages 0 and 1 wholly acknowledged, page 2 not
	for b := uint64(1); b < 2*chunks; b += 97 {
		if want := b >= 2*pageBits; ch.sentHash.has(b) != want {
			t.Fatalf("bin %d: sent %v, want %v", b, ch.sentHash.has(b), want)
		}
	}
	if after := ch.sentHash.memBytes(); after != before-2*pageWords*8 {
		t.Fatalf("sent-hash map %d bytes after the acknowledgement, %d before", after, before)
	}
	ch.addPeerHas(2*span+6, chunks-1) // the rest: the short last page stays
	if ch.sentHash.hasPage(2) || ch.sentHash.hasPage(3) || !ch.sentHash.hasPage(4) {
		t.Fatal("pages 2 and 3 acknowledged but kept, or the page past the end dropped")
	}
}
