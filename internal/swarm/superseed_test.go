package swarm

import (
	"bytes"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/ppsp"
	"github.com/swarmgate/swarmgate/internal/store"
)

// superSource seeds data with SuperSeed on.
func superSource(t *testing.T, n *node, data []byte) (*Swarm, []byte) {
	t.Helper()
	sw, tree, err := Import(store.NewMemory(), bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: 1024}, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := n.e.Add(SwarmConfig{Store: sw, SuperSeed: true})
	if err != nil {
		t.Fatal(err)
	}
	return s, tree.Root()
}

// TestSuperSeedUploadsOneCopy: a super-seeding source and four peers that
// reach each other: every peer ends with the content, verified, and the
// source uploaded about one copy (a plain seeder uploads one per peer
// that asks it first).
func TestSuperSeedUploadsOneCopy(t *testing.T) {
	data := randomContent(8<<20+333, 21)
	src := startEngine(t, nil, nil)
	s, root := superSource(t, src, data)
	var nodes []*node
	var peers []*Swarm
	var stores []store.Swarm
	for range 4 {
		n := startEngine(t, nil, nil)
		p, sw := leechSwarm(t, n, root, 1024, ModePeer)
		nodes, peers, stores = append(nodes, n), append(peers, p), append(stores, sw)
	}
	// Peers first know each other, then the source connects out to each,
	// as a publisher does to the boosters it finds.
	for i, p := range peers {
		for j := range i {
			p.Connect(nodes[j].conn.LocalAddr())
		}
	}
	for _, n := range nodes {
		s.Connect(n.conn.LocalAddr())
	}
	for i, p := range peers {
		waitDone(t, p, 60*time.Second)
		checkContent(t, stores[i], data)
	}
	up := s.Stats().BytesUploaded
	ratio := float64(up) / float64(len(data))
	t.Logf("source uploaded %.3f× the content (%d bytes); peers got %v", ratio, up, fromSource(peers, src))
	if ratio > 1.05 {
		t.Fatalf("source uploaded %.3f× the content, want ≤ 1.05×", ratio)
	}
}

func fromSource(peers []*Swarm, src *node) string {
	out := ""
	for _, p := range peers {
		out += fmt.Sprintf(" %d", p.DownloadedFrom()[src.conn.LocalAddr().String()])
	}
	return out
}

// TestSuperSeedAlonePeers: peers that cannot reach each other still get
// everything from a super-seeding source (each stalls, then is shown what
// it lacks), and a single peer gets the whole content as from any seeder.
func TestSuperSeedAlonePeers(t *testing.T) {
	for _, k := range []int{1, 2} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			data := randomContent(2<<20+5, uint64(30+k))
			src := startEngine(t, nil, nil)
			s, root := superSource(t, src, data)
			var peers []*Swarm
			var stores []store.Swarm
			for range k {
				n := startEngine(t, nil, nil)
				p, sw := leechSwarm(t, n, root, 1024, ModeLeech)
				peers, stores = append(peers, p), append(stores, sw)
				p.Connect(src.conn.LocalAddr())
			}
			for i, p := range peers {
				waitDone(t, p, 60*time.Second)
				checkContent(t, stores[i], data)
			}
			if up := s.Stats().BytesUploaded; up < uint64(k*len(data)) {
				t.Fatalf("source uploaded %d bytes, less than %d copies: the peers cannot have got everything from it", up, k)
			}
		})
	}
}

// TestSuperSeedPeerLeaves: a peer that leaves with chunks nobody else got
// does not strand the others: once every chunk was shown, what no open
// peer holds is shown again.
func TestSuperSeedPeerLeaves(t *testing.T) {
	data := randomContent(4<<20+9, 41)
	src := startEngine(t, nil, nil)
	s, root := superSource(t, src, data)
	quitter := startEngine(t, nil, nil)
	q, _ := leechSwarm(t, quitter, root, 1024, ModePeer)
	// It fetches the first 1536 chunks and no more: on loopback it could
	// otherwise hold everything before it leaves (then nothing is left to
	// show again, and the test tested nothing).
	q.SetHold(true)
	q.SetHoldEnd(1536)
	s.Connect(quitter.conn.LocalAddr())
	deadline := time.Now().Add(30 * time.Second)
	for {
		if have, _ := q.Progress(); have >= 1024 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first peer got nothing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	qHave, qTotal := q.Progress()
	q.Close()
	t.Logf("the first peer left holding %d of %d chunks", qHave, qTotal)
	if qHave >= qTotal {
		t.Fatal("the first peer held everything before it left")
	}
	n := startEngine(t, nil, nil)
	p, sw := leechSwarm(t, n, root, 1024, ModePeer)
	s.Connect(n.conn.LocalAddr())
	waitDone(t, p, 60*time.Second)
	checkContent(t, sw, data)
	if st := s.Stats(); st.Reshown == 0 {
		t.Fatalf("nothing shown again after the first peer left: %+v", st)
	}
}

// TestSizeProbeGoesToAPeerWithChunks: peers that met before any of them
// knew the content's size ask the seeder, once it comes, for the first
// chunks (which prove the size) at once, not after the probe sent to a
// peer as new as themselves timed out (2 s).
func TestSizeProbeGoesToAPeerWithChunks(t *testing.T) {
	data := randomContent(64<<10+3, 51)
	src := startEngine(t, nil, nil)
	s := seedContent(t, src, data, 1024)
	var nodes []*node
	var peers []*Swarm
	for range 3 {
		n := startEngine(t, nil, nil)
		p, _ := leechSwarm(t, n, s.tree.Root(), 1024, ModePeer)
		for _, o := range nodes {
			p.Connect(o.conn.LocalAddr())
		}
		nodes, peers = append(nodes, n), append(peers, p)
	}
	deadline := time.Now().Add(10 * time.Second)
	for open := 0; open < 6; {
		if time.Now().After(deadline) {
			t.Fatal("the peers did not connect to each other")
		}
		time.Sleep(10 * time.Millisecond)
		open = 0
		for _, p := range peers {
			for _, pi := range p.Peers() {
				if pi.Open {
					open++
				}
			}
		}
	}
	t0 := time.Now()
	for _, n := range nodes {
		s.Connect(n.conn.LocalAddr())
	}
	for _, p := range peers {
		waitDone(t, p, 1500*time.Millisecond)
	}
	t.Logf("all done %v after the seeder connected", time.Since(t0))
}

// haveDropConn drops the from-th to (to-1)-th datagrams that lead with a
// HAVE (the super-seeding source's "here is more": a control datagram
// sent once, lost like any other on UDP or an unreliable data channel).
type haveDropConn struct {
	net.PacketConn
	from, to int64
	haves    atomic.Int64
	dropped  atomic.Int64
}

func (c *haveDropConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if len(b) > 4 && len(b) < 512 && ppsp.MsgType(b[4]) == ppsp.MsgHave {
		if n := c.haves.Add(1) - 1; n >= c.from && n < c.to {
			c.dropped.Add(1)
			return len(b), nil
		}
	}
	return c.PacketConn.WriteTo(b, addr)
}

// TestSuperSeedLostHavesResent: a super-seeding source whose HAVEs are
// lost must show those chunks again. The peer never learns of chunks
// whose HAVE was lost, so it never asks for them; the source counted them
// as shown and lacking, and once enough were lacking it showed nothing
// more: the upload stalled for good (a 32 MiB publish from a tab stopped
// at 28.6 MiB this way, under load, when data channel messages dropped).
func TestSuperSeedLostHavesResent(t *testing.T) {
	data := randomContent(8<<20+77, 61)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	drop := &haveDropConn{PacketConn: udp, from: 2, to: 24}
	src := startEngine(t, drop, nil)
	s, root := superSource(t, src, data)
	n := startEngine(t, nil, nil)
	p, sw := leechSwarm(t, n, root, 1024, ModeLeech)
	p.Connect(src.conn.LocalAddr())
	waitDone(t, p, 30*time.Second)
	checkContent(t, sw, data)
	st := s.Stats()
	t.Logf("dropped %d of %d HAVE datagrams; source %+v", drop.dropped.Load(), drop.haves.Load(), st)
	if drop.dropped.Load() < 16 {
		t.Fatalf("only %d HAVEs dropped: the test tests nothing", drop.dropped.Load())
	}
	if ratio := float64(st.BytesUploaded) / float64(len(data)); ratio > 1.05 {
		t.Fatalf("source uploaded %.3f× the content", ratio)
	}
}
