package swarm

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/netsim"

	"github.com/swarmgate/swarmgate/internal/store"
)

// TestSeekRefocuses: after a playhead jump the chunk at the new playhead
// comes within a few round trips, not after the whole request pipeline
// (peers serve requests in order): the requests outside the new window are
// cancelled. Over a 40 ms, 40 Mbit/s path the pipeline is deep.
func TestSeekRefocuses(t *testing.T) {
	data := randomContent(64<<20, 11)
	seeder := startEngine(t, nil, nil)
	root := seedContent(t, seeder, data, 1024).ID()
	// The leecher reaches the seeder through a 40 ms, 40 Mbit/s path.
	down := netsim.NewLink(netsim.LinkConfig{Delay: 20 * time.Millisecond, Rate: 40e6, Queue: 200 * time.Millisecond})
	up := netsim.NewLink(netsim.LinkConfig{Delay: 20 * time.Millisecond})
	t.Cleanup(down.Close)
	t.Cleanup(up.Close)
	relay, err := netsim.NewRelay(netsim.RelayConfig{Conn: udpConn(t), Target: seeder.conn.LocalAddr(),
		Listen: func() (net.PacketConn, error) { return net.ListenPacket("udp", "127.0.0.1:0") }, Up: up, Down: down})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go relay.Run(ctx)
	leech := startEngine(t, nil, nil)
	sw, err := store.NewMemory().Open(store.Info{SwarmID: root, ChunkSize: 1024, Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := leech.e.Add(SwarmConfig{Store: sw, Mode: ModeLeech})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(relay.Addr()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		have, _ := s.Progress()
		if have >= 4096 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d chunks after 30 s", have)
		}
		time.Sleep(2 * time.Millisecond)
	}
	leech.e.mu.Lock()
	depth := len(s.req)
	leech.e.mu.Unlock()
	const target = 56 << 10 // the chunk at 56 MiB: far past the window
	t0 := time.Now()
	s.SetPlayhead(target)
	for !sw.Have(target) {
		if time.Now().After(deadline) {
			t.Fatal("the chunk at the new playhead never came")
		}
		time.Sleep(time.Millisecond)
	}
	took := time.Since(t0)
	t.Logf("chunk at the new playhead after %v (%d requests were outstanding)", took, depth)
	if took > 300*time.Millisecond {
		t.Errorf("the chunk at the new playhead took %v: it waited behind the %d requests outstanding", took, depth)
	}
}

// TestHoldEnd: a hold narrowed to the chunks a player's next frame needs
// (SetHoldEnd) fetches those and then nothing, so the tab is quiet while
// the player decodes (a plain hold streams on from the playhead, in
// order); moved on, it fetches up to the new end; released, everything
// comes.
func TestHoldEnd(t *testing.T) {
	data := randomContent(8<<20, 12)
	seeder := startEngine(t, nil, nil)
	root := seedContent(t, seeder, data, 1024).ID()
	leech := startEngine(t, nil, nil)
	s, sw := leechSwarm(t, leech, root, 1024, ModeLeech)
	s.SetHold(true)
	s.SetHoldEnd(300)
	s.Connect(seeder.conn.LocalAddr())
	have := func() uint64 { h, _ := s.Progress(); return h }
	held := func(first, last uint64) bool {
		for c := first; c <= last; c++ {
			if !sw.Have(c) {
				return false
			}
		}
		return true
	}
	for _, end := range []uint64{300, 2000} {
		s.SetHoldEnd(end)
		for deadline := time.Now().Add(20 * time.Second); !held(0, end-1); time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the chunks before %d never came: %v", end, sw.Verified())
			}
		}
		time.Sleep(300 * time.Millisecond)
		// The size probe asks for 64 chunks and the last one: at most
		// those beyond end.
		if h := have(); h > end+probeChunks+1 {
			t.Fatalf("%d chunks held with the hold ending at %d: %v", h, end, sw.Verified())
		}
	}
	s.SetHold(false)
	waitDone(t, s, 20*time.Second)
}
