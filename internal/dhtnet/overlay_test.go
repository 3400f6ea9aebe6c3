package dhtnet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// testConfig returns fast settings for loopback overlays.
func testConfig(c net.PacketConn, boot []string) Config {
	return Config{
		Conn:                c,
		Bootstrap:           boot,
		MaintenanceInterval: 200 * time.Millisecond,
		PollInterval:        300 * time.Millisecond,
		AnnounceInterval:    time.Second,
		// Generous: on a loaded machine under -race a reply can take over
		// a second, and a timeout evicts the contact.
		QueryTimeout:        2 * time.Second,
		UnknownQueryTimeout: 100 * time.Millisecond,
		MinQueryTimeout:     20 * time.Millisecond,
	}
}

func listenLoopback(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type overlay struct {
	nodes []*Node
	boot  []string
}

// newOverlay starts n nodes on 127.0.0.1 that bootstrap from the first four.
// Nothing outside 127.0.0.0/8 is ever contacted.
func newOverlay(t *testing.T, n int) *overlay {
	t.Helper()
	return newOverlayConfig(t, n, nil)
}

// newOverlayConfig is newOverlay with each node's Config changed by mod.
func newOverlayConfig(t *testing.T, n int, mod func(*Config)) *overlay {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	o := &overlay{}
	for i := range n {
		cfg := testConfig(listenLoopback(t), nil)
		if mod != nil {
			mod(&cfg)
		}
		nd, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		o.nodes = append(o.nodes, nd)
		if i < 4 {
			o.boot = append(o.boot, nd.Addr().String())
		}
	}
	for _, nd := range o.nodes {
		nd.cfg.Bootstrap = o.boot
	}
	// Join a few at a time, as a network grows (a whole overlay bursting
	// at the bootstrap nodes at once overflows their sockets on a loaded
	// machine), then once more for the nodes that are still short.
	joinAll := func(ns []*Node) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for _, nd := range ns {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				nd.Bootstrap(ctx)
			})
		}
		wg.Wait()
	}
	joinAll(o.nodes)
	var short []*Node
	for _, nd := range o.nodes {
		if nd.table.Len() < min(n-1, defaultK) {
			short = append(short, nd)
		}
	}
	joinAll(short)
	for _, nd := range o.nodes {
		go nd.Run(ctx)
	}
	t.Cleanup(func() {
		cancel()
		for _, nd := range o.nodes {
			nd.Close()
		}
	})
	return o
}

// join adds a node to the overlay (read-only if ro).
func (o *overlay) join(t *testing.T, ro bool) *Node {
	t.Helper()
	return o.joinConfig(t, ro, nil)
}

// joinConfig is join with the node's Config changed by mod.
func (o *overlay) joinConfig(t *testing.T, ro bool, mod func(*Config)) *Node {
	t.Helper()
	cfg := testConfig(listenLoopback(t), o.boot)
	cfg.ReadOnly = ro
	if mod != nil {
		mod(&cfg)
	}
	nd, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); nd.Close() })
	if !ro {
		// A loaded machine can lose the first walks: try again (bounded).
		for try := 0; try < 5 && nd.table.Len() < min(len(o.nodes), defaultK); try++ {
			nd.Bootstrap(ctx)
		}
	}
	go nd.Run(ctx)
	return nd
}

func (o *overlay) holders(swarm [20]byte, peer netip.AddrPort) int {
	k := 0
	for _, nd := range o.nodes {
		for _, p := range nd.Peers().Get(swarm, 0) {
			if p == peer {
				k++
			}
		}
	}
	return k
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func recvPeer(t *testing.T, m *Membership, want netip.AddrPort, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case p, ok := <-m.Peers():
			if !ok {
				t.Fatalf("Peers closed before %v arrived", want)
			}
			if p == want {
				return
			}
		case <-timeout:
			t.Fatalf("peer %v not found", want)
		}
	}
}

func TestRoles(t *testing.T) {
	o := newOverlay(t, 50)
	ctx := context.Background()
	var swarm [20]byte
	copy(swarm[:], "roles-test-swarm-id!")

	booster := o.join(t, false)
	source := o.join(t, false)
	leecher := o.join(t, true)

	// The source polls before anyone announced: reverse peer discovery.
	ms, err := source.Join(ctx, swarm, RoleSource, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()

	t.Run("booster announces at once and keeps announcing", func(t *testing.T) {
		// The booster holds no byte of the content: Join is all it was told.
		const ppspPort = 7001
		mb, err := booster.Join(ctx, swarm, RoleBooster, ppspPort)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(mb.Close)
		me := netip.AddrPortFrom(booster.Addr().Addr(), ppspPort)
		// A node stores the announce before its answer reaches the
		// booster: wait for both sides.
		waitFor(t, 15*time.Second, "first announce", func() bool {
			return o.holders(swarm, me) > 0 && mb.Stats().Announced > 0 && booster.Stats().AnnouncesSent > 0
		})
		waitFor(t, 15*time.Second, "re-announce", func() bool { return mb.Stats().Lookups >= 2 })
	})

	boosterPeer := netip.AddrPortFrom(booster.Addr().Addr(), 7001)
	t.Run("source polls, finds the booster, never announces", func(t *testing.T) {
		recvPeer(t, ms, boosterPeer, 15*time.Second)
		waitFor(t, 3*time.Second, "repeated polls", func() bool { return ms.Stats().Lookups >= 3 })
		ms.Done() // full copy uploaded
		select {
		case <-ms.exited:
		case <-time.After(3 * time.Second):
			t.Fatal("source kept running after Done")
		}
		n := ms.Stats().Lookups
		time.Sleep(3 * source.cfg.PollInterval)
		if ms.Stats().Lookups != n {
			t.Fatal("source polled after Done")
		}
		if s := source.Stats(); s.AnnouncesSent != 0 || ms.Stats().Announced != 0 {
			t.Fatalf("source sent announce_peer: %+v", s)
		}
		for _, nd := range o.nodes {
			for _, p := range nd.Peers().Get(swarm, 0) {
				if p.Addr() == source.Addr().Addr() && p != boosterPeer {
					t.Fatalf("source's address %v stored at %v", p, nd.Addr())
				}
			}
		}
	})

	t.Run("leecher does one lookup and answers nothing", func(t *testing.T) {
		if _, err := source.Join(ctx, swarm, RoleLeecher, 0); !errors.Is(err, ErrRole) {
			t.Fatalf("leecher on a read-write node: %v", err)
		}
		if _, err := leecher.Join(ctx, swarm, RoleBooster, 7002); !errors.Is(err, ErrRole) {
			t.Fatalf("booster on a read-only node: %v", err)
		}
		ml, err := leecher.Join(ctx, swarm, RoleLeecher, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer ml.Close()
		recvPeer(t, ml, boosterPeer, 15*time.Second)
		time.Sleep(5 * leecher.cfg.PollInterval)
		if n := ml.Stats().Lookups; n != 1 {
			t.Fatalf("leecher ran %d lookups, want exactly 1", n)
		}
		// Queries to it go unanswered.
		err = o.nodes[0].ping(ctx, leecher.Addr(), false)
		if err == nil {
			t.Fatal("read-only leecher answered a ping")
		}
		if s := leecher.Stats(); s.Replies != 0 || s.AnnouncesSent != 0 || s.MaintenanceQueries != 0 {
			t.Fatalf("leecher stats %+v", s)
		}
		// BEP 43: nobody put it in a routing table.
		for _, nd := range append(o.nodes, booster, source) {
			for _, c := range nd.Contacts() {
				if c.Addr == leecher.Addr() {
					t.Fatalf("%v holds the read-only leecher as a contact", nd.Addr())
				}
			}
		}
		ml.NeedPeers() // ran out of peers: one more lookup
		waitFor(t, 3*time.Second, "second lookup", func() bool { return ml.Stats().Lookups == 2 })
	})
}

func TestGarbageIsHarmless(t *testing.T) {
	o := newOverlay(t, 8)
	target := o.nodes[1]
	c := listenLoopback(t)
	defer c.Close()
	to := net.UDPAddrFromAddrPort(target.Addr())
	for _, b := range [][]byte{
		nil, []byte("d"), []byte("de"), []byte("d1:y1:qe"), []byte("d1:t2:aa1:y1:q1:q4:pinge"),
		[]byte("d1:ad2:id20:xxxxxxxxxxxxxxxxxxxx9:info_hash3:abce1:q9:get_peers1:t2:aa1:y1:qe"),
		[]byte("d1:ad2:id20:xxxxxxxxxxxxxxxxxxxx5:token1:x4:porti-5ee1:q13:announce_peer1:t2:aa1:y1:qe"),
		[]byte("d1:rd2:id20:xxxxxxxxxxxxxxxxxxxx5:nodes3:abce1:t2:zz1:y1:re"),
		[]byte("li1ei2ee"), []byte("d1:y1:q1:q9:find_node1:t1:x1:ad6:target99999999999:xee"),
	} {
		c.WriteTo(b, to)
	}
	time.Sleep(100 * time.Millisecond)
	if err := o.nodes[0].ping(context.Background(), target.Addr(), false); err != nil {
		t.Fatalf("node stopped answering after garbage: %v", err)
	}
}
