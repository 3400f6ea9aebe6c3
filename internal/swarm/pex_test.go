package swarm

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/ppsp"
	"github.com/swarmgate/swarmgate/internal/store"
)

// TestPEXMutualIntroduction: two peers that know only a seeder meet each
// other through it: the one asking for peers learns the other, and the
// other is told about the asker at the same time (thesis ch. 9: both open
// their NATs toward each other).
func TestPEXMutualIntroduction(t *testing.T) {
	data := randomContent(256<<10, 4)
	sd := startEngine(t, nil, nil)
	src := seedContent(t, sd, data, 1024)
	a := startEngine(t, nil, nil)
	sa, _ := leechSwarm(t, a, src.ID(), 1024, ModePeer)
	sa.Connect(sd.conn.LocalAddr())
	waitDone(t, sa, 10*time.Second)
	b := startEngine(t, nil, nil)
	sb, _ := leechSwarm(t, b, src.ID(), 1024, ModePeer)
	sb.Connect(sd.conn.LocalAddr())
	connected := func(s *Swarm, to net.Addr) bool {
		for _, p := range s.Peers() {
			if p.Open && p.Addr.String() == to.String() {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && !(connected(sa, b.conn.LocalAddr()) && connected(sb, a.conn.LocalAddr())) {
		time.Sleep(10 * time.Millisecond)
	}
	if !connected(sa, b.conn.LocalAddr()) || !connected(sb, a.conn.LocalAddr()) {
		t.Fatalf("peers did not meet through PEX within 2 s: a=%+v b=%+v", sa.Peers(), sb.Peers())
	}
	waitDone(t, sb, 10*time.Second)
}

// TestServeManyLeechers: one seeder serves several downloaders at once.
func TestServeManyLeechers(t *testing.T) {
	data := randomContent(4<<20+9, 6)
	sd := startEngine(t, nil, nil)
	src := seedContent(t, sd, data, 1024)
	var ls []*Swarm
	var sws []store.Swarm
	for i := 0; i < 4; i++ {
		n := startEngine(t, nil, nil)
		s, sw := leechSwarm(t, n, src.ID(), 1024, ModeLeech)
		ls, sws = append(ls, s), append(sws, sw)
	}
	for _, s := range ls {
		s.Connect(sd.conn.LocalAddr())
	}
	for i, s := range ls {
		waitDone(t, s, 30*time.Second)
		checkContent(t, sws[i], data)
	}
	if got := src.Stats().BytesUploaded; got < 4*uint64(len(data)) {
		t.Fatalf("seeder uploaded %d bytes for 4 copies of %d", got, len(data))
	}
}

// TestChunkRanges64: a responder follows the peer's 64-bit chunk ranges
// (RFC 7574 §4.4, CAM 4, which RFC peers must support and libswift lacks).
func TestChunkRanges64(t *testing.T) {
	data := randomContent(20*1024+5, 4)
	sd := startEngine(t, nil, nil)
	src := seedContent(t, sd, data, 1024)
	raw, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	o := ppsp.LibswiftOptions(src.ID(), 0)
	o.SetCAM(ppsp.CAMChunkRanges64)
	b := ppsp.AppendHeader(nil, 0)
	b, _ = ppsp.AppendHandshake(b, 0x0a0b0c0d, o)
	raw.WriteTo(b, sd.conn.LocalAddr())
	buf := make([]byte, 65536)
	raw.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := raw.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ppsp.Context{}
	_, msgs, err := ppsp.Parse(ctx, buf[:n], nil)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	if msgs[0].Type != ppsp.MsgHandshake || msgs[0].Options.CAM != ppsp.CAMChunkRanges64 {
		t.Fatalf("reply handshake %v does not use CAM 4", &msgs[0])
	}
	remote := msgs[0].SrcChannel
	ctx, _ = ctx.Apply(&msgs[0].Options)
	req := ppsp.AppendHeader(nil, remote)
	req, _ = ppsp.AppendRequest(req, ctx, ppsp.Spec{Start: 0, End: 20})
	raw.WriteTo(req, sd.conn.LocalAddr())
	got := map[uint64][]byte{}
	for len(got) < 21 {
		n, _, err := raw.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d chunks: %v", len(got), err)
		}
		_, msgs, err := ppsp.Parse(ctx, buf[:n], nil)
		if err != nil {
			t.Fatalf("CAM 4 datagram: %v", err)
		}
		ack := ppsp.AppendHeader(nil, remote)
		for _, m := range msgs {
			if m.Type == ppsp.MsgData {
				got[m.Spec.Start] = bytes.Clone(m.Payload)
				ack, _ = ppsp.AppendAck(ack, ctx, m.Spec, 100)
			}
		}
		raw.WriteTo(ack, sd.conn.LocalAddr())
	}
	for c, p := range got {
		if !bytes.Equal(p, data[c*1024:min(c*1024+1024, uint64(len(data)))]) {
			t.Fatalf("chunk %d differs", c)
		}
	}
}
