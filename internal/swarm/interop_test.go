package swarm

// Golden interoperability tests: the engine is put in the place of one side
// of the loopback captures of libswift and libperegrine exchanging m74.jpg
// (internal/ppsp/testdata, described in ppsp-wire.md §2.8 and §4), and the
// other side's captured datagrams are replayed to it from a raw UDP socket.
// What the engine sends back is compared with what libswift sent in the same
// place. No libswift code is involved: the captures are the reference.
//
// m74.jpg itself is not stored in the repository outside the captures; it is
// reassembled from their DATA payloads at test time.

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/ppsp"
)

const (
	m74RootHex = "c89800bfc82ed01ed6e3bfd5408c51274491f7d4"
	m74Len     = 26121
	m74Chunks  = 26

	capLibswiftLibswift  = "libswift-seed_libswift-leech_m74"
	capLibswiftPeregrine = "libswift-seed_peregrine-leech_m74"
	capPeregrineLibswift = "peregrine-seed_libswift-leech_m74"
	capLegacyFallback    = "libswift-leech-vs-silent-peer_legacy-fallback.txt"
)

var captureDir = filepath.Join("..", "ppsp", "testdata")

func m74Root(t testing.TB) []byte {
	t.Helper()
	b, err := hex.DecodeString(m74RootHex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ---- pcap reading (after internal/ppsp/pcap_test.go) ----

// capPacket is one UDP datagram of a capture.
type capPacket struct {
	Src, Dst netip.AddrPort
	Payload  []byte
}

// readPcap reads a classic libpcap file of UDP over IPv4/IPv6 (link types
// NULL, EN10MB, RAW, LINUX_SLL) and returns the datagrams in order.
func readPcap(path string) ([]capPacket, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 24 {
		return nil, fmt.Errorf("%s: short pcap header", path)
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("%s: not a classic pcap file", path)
	}
	link := bo.Uint32(data[20:])
	var pkts []capPacket
	for off := 24; off < len(data); {
		if len(data)-off < 16 {
			return nil, fmt.Errorf("%s: truncated record header at %d", path, off)
		}
		incl := int(bo.Uint32(data[off+8:]))
		orig := int(bo.Uint32(data[off+12:]))
		off += 16
		if incl > len(data)-off || incl != orig {
			return nil, fmt.Errorf("%s: truncated record at %d", path, off)
		}
		frame := data[off : off+incl]
		off += incl
		var l3 []byte
		switch link {
		case 0:
			if len(frame) < 4 {
				return nil, errors.New("short NULL frame")
			}
			l3 = frame[4:]
		case 1:
			if len(frame) < 14 {
				return nil, errors.New("short Ethernet frame")
			}
			et := binary.BigEndian.Uint16(frame[12:])
			l3 = frame[14:]
			if et == 0x8100 && len(frame) >= 18 {
				et = binary.BigEndian.Uint16(frame[16:])
				l3 = frame[18:]
			}
			if et != 0x0800 && et != 0x86dd {
				continue
			}
		case 101:
			l3 = frame
		case 113:
			if len(frame) < 16 {
				return nil, errors.New("short SLL frame")
			}
			l3 = frame[16:]
		default:
			return nil, fmt.Errorf("%s: unsupported link type %d", path, link)
		}
		p, ok, err := parseIPUDP(l3)
		if err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", path, len(pkts), err)
		}
		if ok {
			pkts = append(pkts, p)
		}
	}
	return pkts, nil
}

func parseIPUDP(b []byte) (capPacket, bool, error) {
	var p capPacket
	if len(b) < 1 {
		return p, false, errors.New("empty IP packet")
	}
	var src, dst netip.Addr
	var l4 []byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return p, false, errors.New("short IPv4 header")
		}
		ihl := int(b[0]&0xf) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		if ihl < 20 || total < ihl || total > len(b) {
			return p, false, errors.New("bad IPv4 lengths")
		}
		if b[9] != 17 {
			return p, false, nil
		}
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		l4 = b[ihl:total]
	case 6:
		if len(b) < 40 {
			return p, false, errors.New("short IPv6 header")
		}
		if b[6] != 17 {
			return p, false, nil
		}
		plen := int(binary.BigEndian.Uint16(b[4:]))
		if 40+plen > len(b) {
			return p, false, errors.New("bad IPv6 length")
		}
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		l4 = b[40 : 40+plen]
	default:
		return p, false, nil
	}
	if len(l4) < 8 {
		return p, false, errors.New("short UDP header")
	}
	ulen := int(binary.BigEndian.Uint16(l4[4:]))
	if ulen < 8 || ulen > len(l4) {
		return p, false, fmt.Errorf("bad UDP length %d", ulen)
	}
	p.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4[0:]))
	p.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4[2:]))
	p.Payload = l4[8:ulen]
	return p, true, nil
}

// capture is a loaded pcap: the seeder is the side that received the first
// datagram (the leecher's opening handshake).
type capture struct {
	name   string
	pkts   []capPacket
	seeder netip.AddrPort
}

func loadCapture(t testing.TB, name string) *capture {
	t.Helper()
	pkts, err := readPcap(filepath.Join(captureDir, name+".pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) == 0 {
		t.Fatalf("%s: empty capture", name)
	}
	// The decoded text lists the same datagrams, numbered: a cross-check
	// that the "#n" used in failure messages refer to the same datagram.
	txt, err := os.ReadFile(filepath.Join(captureDir, name+".decoded.txt"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	for _, l := range strings.Split(string(txt), "\n") {
		if strings.HasPrefix(l, "#") {
			blocks++
		}
	}
	if blocks != len(pkts) {
		t.Fatalf("%s: pcap has %d datagrams, decoded.txt %d", name, len(pkts), blocks)
	}
	return &capture{name: name, pkts: pkts, seeder: pkts[0].Dst}
}

func (c *capture) fromSeeder(i int) bool { return c.pkts[i].Src == c.seeder }

// ---- m74.jpg, reassembled from the capture ----

var m74Once struct {
	sync.Once
	data []byte
	err  error
}

// dataPayloads collects the DATA payloads a capture's seeder sent, by chunk.
func dataPayloads(c *capture) (map[uint64][]byte, error) {
	chunks := make(map[uint64][]byte)
	for i, p := range c.pkts {
		if !c.fromSeeder(i) {
			continue
		}
		_, msgs, err := ppsp.Parse(ppsp.Context{}, p.Payload, nil)
		if err != nil {
			return nil, fmt.Errorf("%s #%d: %w", c.name, i, err)
		}
		for _, m := range msgs {
			if m.Type != ppsp.MsgData {
				continue
			}
			if m.Spec.Start != m.Spec.End {
				return nil, fmt.Errorf("%s #%d: DATA %v", c.name, i, m.Spec)
			}
			if old, ok := chunks[m.Spec.Start]; ok && !bytes.Equal(old, m.Payload) {
				return nil, fmt.Errorf("%s #%d: chunk %d sent twice with different bytes", c.name, i, m.Spec.Start)
			}
			chunks[m.Spec.Start] = bytes.Clone(m.Payload)
		}
	}
	return chunks, nil
}

func assemble(chunks map[uint64][]byte) ([]byte, error) {
	var out []byte
	for c := uint64(0); c < m74Chunks; c++ {
		p, ok := chunks[c]
		if !ok {
			return nil, fmt.Errorf("chunk %d missing", c)
		}
		if c < m74Chunks-1 && len(p) != 1024 {
			return nil, fmt.Errorf("chunk %d is %d bytes", c, len(p))
		}
		out = append(out, p...)
	}
	if len(chunks) != m74Chunks {
		return nil, fmt.Errorf("%d chunks, want %d", len(chunks), m74Chunks)
	}
	return out, nil
}

// m74 returns m74.jpg as reassembled from the libswift seeder's DATA.
func m74(t testing.TB) []byte {
	t.Helper()
	m74Once.Do(func() {
		c := loadCapture(t, capLibswiftLibswift)
		chunks, err := dataPayloads(c)
		if err != nil {
			m74Once.err = err
			return
		}
		m74Once.data, m74Once.err = assemble(chunks)
	})
	if m74Once.err != nil {
		t.Fatal(m74Once.err)
	}
	return m74Once.data
}

// TestInteropM74Reassembly checks that the DATA payloads of every capture
// make up the same 26121-byte file, whose Merkle root (SHA-1, 1 KiB chunks)
// is the swarm ID all three captures use.
func TestInteropM74Reassembly(t *testing.T) {
	data := m74(t)
	if len(data) != m74Len {
		t.Fatalf("m74 is %d bytes, want %d", len(data), m74Len)
	}
	tree, err := merkle.Build(bytes.NewReader(data), int64(len(data)), merkle.Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(tree.Root()); got != m74RootHex {
		t.Fatalf("root %s, want %s", got, m74RootHex)
	}
	if got := fmt.Sprintf("%x", sha1.Sum(data)); !strings.HasPrefix(got, "3a81e0b5") {
		t.Errorf("sha1(m74) = %s, want 3a81e0b5… (ppsp-wire.md §3)", got)
	}
	// Peaks as listed in ppsp-wire.md §3.
	for _, p := range []struct {
		bin  merkle.Bin
		hash string
	}{{15, "6870507a"}, {39, "cf0517c9"}, {49, "5efa3327"}} {
		if got := hex.EncodeToString(tree.Hash(p.bin)); !strings.HasPrefix(got, p.hash) {
			t.Errorf("peak %d = %s, want %s…", p.bin, got, p.hash)
		}
	}
	for _, name := range []string{capLibswiftPeregrine, capPeregrineLibswift} {
		chunks, err := dataPayloads(loadCapture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		other, err := assemble(chunks)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(other, data) {
			t.Errorf("%s: DATA payloads differ from the libswift capture's", name)
		}
	}
}

// ---- raw peer ----

// rawPeer is the replaying side: a plain UDP socket on 127.0.0.1.
type rawPeer struct {
	t    testing.TB
	conn *net.UDPConn
	to   net.Addr
}

func newRawPeer(t testing.TB) *rawPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, conn: c}
}

func (p *rawPeer) addr() net.Addr { return p.conn.LocalAddr() }

func (p *rawPeer) send(b []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteTo(b, p.to); err != nil {
		p.t.Fatal(err)
	}
}

// recv returns the datagrams that arrive until none has for quiet, or
// until limit.
func (p *rawPeer) recv(quiet, limit time.Duration) [][]byte {
	p.t.Helper()
	var out [][]byte
	end := time.Now().Add(limit)
	buf := make([]byte, 65536)
	for {
		dl := time.Now().Add(quiet)
		if dl.After(end) {
			dl = end
		}
		p.conn.SetReadDeadline(dl)
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return out
			}
			p.t.Fatal(err)
		}
		if p.to != nil && !addrEqual(from, p.to) {
			continue
		}
		if p.to == nil {
			p.to = from
		}
		out = append(out, bytes.Clone(buf[:n]))
	}
}

// recvOne waits up to timeout for one datagram.
func (p *rawPeer) recvOne(timeout time.Duration) []byte {
	p.t.Helper()
	buf := make([]byte, 65536)
	p.conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			p.t.Fatalf("no datagram within %v: %v", timeout, err)
		}
		if p.to != nil && !addrEqual(from, p.to) {
			continue
		}
		if p.to == nil {
			p.to = from
		}
		return bytes.Clone(buf[:n])
	}
}

func withChannel(b []byte, ch uint32) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint32(b, ch)
	return b
}

func mustParse(t testing.TB, b []byte) (uint32, []ppsp.Message) {
	t.Helper()
	ch, msgs, err := ppsp.Parse(ppsp.Context{}, b, nil)
	if err != nil {
		t.Fatalf("parse %x: %v", b, err)
	}
	return ch, msgs
}

func describe(msgs []ppsp.Message) string {
	if len(msgs) == 0 {
		return "keep-alive"
	}
	var s []string
	for i := range msgs {
		m := &msgs[i]
		switch m.Type {
		case ppsp.MsgData:
			s = append(s, fmt.Sprintf("DATA %v", m.Spec))
		case ppsp.MsgIntegrity:
			s = append(s, fmt.Sprintf("INTEGRITY %v", m.Spec))
		default:
			s = append(s, m.String())
		}
	}
	return strings.Join(s, ", ")
}

// frozenClock returns a clock that never advances: no retransmission,
// keep-alive or request timer fires, so the engine's output depends only on
// the datagrams replayed to it, and DATA timestamps are known.
func frozenClock() (func() time.Time, uint64) {
	now := time.Now().Truncate(time.Microsecond)
	return func() time.Time { return now }, uint64(now.UnixMicro())
}

// ---- engine as SEEDER, captured leecher replayed ----

// dataDgram is one DATA datagram: the INTEGRITY bins before the DATA.
type dataDgram struct {
	idx    int // capture index, or position in our output
	chunk  uint64
	ts     uint64
	hashes []merkle.Bin
	nodes  []merkle.Node
	data   []byte
	raw    []byte
}

func specBin(t testing.TB, sp ppsp.Spec) merkle.Bin {
	t.Helper()
	b, ok := merkle.RangeBin(sp.Start, sp.End)
	if !ok {
		t.Fatalf("INTEGRITY %v is not a bin", sp)
	}
	return b
}

// dataDgrams extracts DATA datagrams, with the INTEGRITY that came in the
// same datagram.
func dataDgrams(t testing.TB, dgrams [][]byte, idx []int) []dataDgram {
	t.Helper()
	var out []dataDgram
	for i, b := range dgrams {
		_, msgs := mustParse(t, b)
		var d dataDgram
		has := false
		for _, m := range msgs {
			switch m.Type {
			case ppsp.MsgIntegrity:
				bn := specBin(t, m.Spec)
				d.hashes = append(d.hashes, bn)
				d.nodes = append(d.nodes, merkle.Node{Bin: bn, Hash: bytes.Clone(m.Hash)})
			case ppsp.MsgData:
				has = true
				d.chunk, d.ts, d.data = m.Spec.Start, m.Timestamp, bytes.Clone(m.Payload)
			}
		}
		if has {
			d.idx, d.raw = idx[i], b
			out = append(out, d)
		}
	}
	return out
}

// seederRun is the result of replaying a captured leecher to our seeder.
type seederRun struct {
	cap     *capture
	ts      uint64   // our frozen DATA timestamp
	out     [][]byte // every datagram our seeder sent, in order
	after   []int    // for each, the capture index of the leecher datagram that preceded it
	chanMap map[uint32]uint32
	sw      *Swarm
	eng     *Engine
}

// replayLeecher starts a seeder of m74 and plays the captured leecher's
// datagrams to it in capture order, the destination channel rewritten from
// the captured seeder's to ours. The captured seeder's handshake replies are
// compared byte for byte with ours (channel IDs aside).
func replayLeecher(t *testing.T, name string) *seederRun {
	data := m74(t)
	c := loadCapture(t, name)
	clock, ts := frozenClock()
	n := startEngine(t, nil, func(cfg *Config) { cfg.Now = clock })
	sw := seedContent(t, n, data, 1024)
	if !bytes.Equal(sw.ID(), m74Root(t)) {
		t.Fatalf("seeded root %x", sw.ID())
	}
	peer := newRawPeer(t)
	peer.to = n.conn.LocalAddr()
	r := &seederRun{cap: c, ts: ts, chanMap: make(map[uint32]uint32), sw: sw, eng: n.e}
	last := -1
	pendingHS := map[uint32][]byte{} // leecher channel -> our handshake reply
	for i, p := range c.pkts {
		if c.fromSeeder(i) {
			_, msgs := mustParse(t, p.Payload)
			if len(msgs) == 0 || msgs[0].Type != ppsp.MsgHandshake || msgs[0].IsClose() {
				continue
			}
			// A handshake reply: ours must be the same bytes but for the
			// channel IDs.
			dst := binary.BigEndian.Uint32(p.Payload)
			ours := pendingHS[dst]
			if ours == nil {
				t.Fatalf("#%d: the captured seeder answered leecher channel %08x, we did not", i, dst)
			}
			our := binary.BigEndian.Uint32(ours[5:])
			r.chanMap[msgs[0].SrcChannel] = our
			want := bytes.Clone(p.Payload)
			binary.BigEndian.PutUint32(want[5:], our)
			if !bytes.Equal(ours, want) {
				t.Errorf("#%d handshake reply:\n got %x\nwant %x (captured, our channel ID substituted)", i, ours, want)
			}
			continue
		}
		b := p.Payload
		if dst := binary.BigEndian.Uint32(b); dst != 0 {
			our, ok := r.chanMap[dst]
			if !ok {
				t.Fatalf("#%d: leecher datagram to unknown seeder channel %08x", i, dst)
			}
			b = withChannel(b, our)
		}
		peer.send(b)
		last = i
		for _, o := range peer.recv(40*time.Millisecond, 2*time.Second) {
			r.out = append(r.out, o)
			r.after = append(r.after, last)
			if _, msgs := mustParse(t, o); len(msgs) > 0 && msgs[0].Type == ppsp.MsgHandshake && !msgs[0].IsClose() {
				pendingHS[binary.BigEndian.Uint32(o)] = o
			}
		}
	}
	return r
}

// libswiftDgrams returns the capture's seeder DATA datagrams.
func (c *capture) seederData(t testing.TB) []dataDgram {
	var dg [][]byte
	var idx []int
	for i, p := range c.pkts {
		if c.fromSeeder(i) {
			dg = append(dg, p.Payload)
			idx = append(idx, i)
		}
	}
	return dataDgrams(t, dg, idx)
}

// checkFirstData checks that our first DATA datagram is the captured #3
// byte for byte, but for the channel ID and the timestamp: peaks, uncles
// highest layer first, DATA [0,0].
func (r *seederRun) checkFirstData(t *testing.T, ours, theirs dataDgram) {
	t.Helper()
	want := bytes.Clone(theirs.raw)
	copy(want, ours.raw[:4])
	// The timestamp sits 1+8 bytes after the DATA type byte, which is
	// len - 1024 - 17.
	off := len(want) - len(theirs.data) - 8
	binary.BigEndian.PutUint64(want[off:], r.ts)
	if !bytes.Equal(ours.raw, want) {
		t.Errorf("first DATA datagram (%d B) differs from captured #%d (%d B):\n got %s\nwant %s",
			len(ours.raw), theirs.idx, len(theirs.raw), hex.EncodeToString(ours.raw[:len(ours.raw)-len(ours.data)]),
			hex.EncodeToString(want[:len(want)-len(theirs.data)]))
	}
	if ours.ts != r.ts {
		t.Errorf("DATA timestamp %d, want the sender's clock in µs %d", ours.ts, r.ts)
	}
}

// checkVerifiable plays our DATA datagrams, in order, to a receiver that
// keeps every INTEGRITY it was sent (libswift's hash tree does: OfferHash
// stores unverified hashes) and knows only the root: each chunk must verify
// on arrival.
func checkVerifiable(t *testing.T, root []byte, dd []dataDgram) {
	t.Helper()
	tree, err := merkle.New(root, merkle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var pool []merkle.Node
	for k, d := range dd {
		pool = append(pool, d.nodes...)
		if k == 0 {
			var peaks []merkle.Node
			for _, nd := range d.nodes {
				if slices.Contains(merkle.Peaks(m74Chunks), nd.Bin) {
					peaks = append(peaks, nd)
				}
			}
			if err := tree.SetPeaks(peaks); err != nil {
				t.Fatalf("peaks of the first DATA datagram: %v", err)
			}
		}
		tree.Verify(pool, []merkle.Chunk{{Index: d.chunk, Data: d.data}}, nil, func(_ int, err error) {
			if err != nil {
				t.Errorf("DATA %d (our datagram %d) does not verify with the hashes sent so far: %v", d.chunk, k, err)
			}
		})
	}
}

func binsString(bs []merkle.Bin) string {
	var s []string
	for _, b := range bs {
		f, l := b.Base()
		s = append(s, fmt.Sprintf("[%d,%d]", f, l))
	}
	return "{" + strings.Join(s, " ") + "}"
}

// compareIntegrity compares, DATA by DATA, the uncle hashes we sent with
// those the captured libswift seeder sent with the same chunk, and returns
// the chunks where they differ, formatted "c: ours=… libswift=…".
func compareIntegrity(ours, theirs []dataDgram) []string {
	byChunk := make(map[uint64]dataDgram)
	for _, d := range theirs {
		if _, ok := byChunk[d.chunk]; !ok {
			byChunk[d.chunk] = d
		}
	}
	var diffs []string
	for _, d := range ours {
		l := byChunk[d.chunk]
		if !slices.Equal(d.hashes, l.hashes) {
			diffs = append(diffs, fmt.Sprintf("%d: ours=%s libswift=%s", d.chunk, binsString(d.hashes), binsString(l.hashes)))
		}
	}
	return diffs
}

func chunkOrder(dd []dataDgram) []uint64 {
	var o []uint64
	for _, d := range dd {
		o = append(o, d.chunk)
	}
	return o
}

// commonSeederChecks runs the assertions shared by both leecher captures.
func (r *seederRun) commonSeederChecks(t *testing.T) (ours, theirs []dataDgram) {
	t.Helper()
	idx := make([]int, len(r.out))
	for i := range idx {
		idx[i] = i
	}
	ours = dataDgrams(t, r.out, idx)
	theirs = r.cap.seederData(t)
	if len(ours) == 0 {
		t.Fatalf("our seeder sent no DATA; sent %d datagrams", len(r.out))
	}
	r.checkFirstData(t, ours[0], theirs[0])
	data := m74(t)
	seen := make(map[uint64]bool)
	for _, d := range ours {
		if seen[d.chunk] {
			t.Errorf("chunk %d sent twice (no loss in this replay)", d.chunk)
		}
		seen[d.chunk] = true
		if d.chunk >= m74Chunks || !bytes.Equal(d.data, data[d.chunk*1024:min(d.chunk*1024+1024, m74Len)]) {
			t.Errorf("DATA %d payload wrong", d.chunk)
		}
		if d.ts != r.ts {
			t.Errorf("DATA %d timestamp %d, want %d", d.chunk, d.ts, r.ts)
		}
		if binary.BigEndian.Uint32(d.raw) != r.chanMap[binary.BigEndian.Uint32(theirs[0].raw[5:])] && false {
			t.Errorf("wrong channel")
		}
	}
	if len(seen) != m74Chunks {
		t.Errorf("served %d distinct chunks, want %d", len(seen), m74Chunks)
	}
	checkVerifiable(t, m74Root(t), ours)
	// No hash is sent twice when nothing is lost (libswift repeats some).
	sent := make(map[merkle.Bin]int)
	for _, d := range ours {
		for _, b := range d.hashes {
			sent[b]++
			if sent[b] == 2 {
				t.Errorf("INTEGRITY %v sent twice", binsString([]merkle.Bin{b}))
			}
		}
	}
	return ours, theirs
}

// TestInteropSeederVsLibswiftLeecher replays libswift's leecher (capture
// libswift-seed_libswift-leech_m74) to our seeder.
func TestInteropSeederVsLibswiftLeecher(t *testing.T) {
	r := replayLeecher(t, capLibswiftLibswift)
	ours, theirs := r.commonSeederChecks(t)
	// Both serve REQUESTs in order: [0,0], [4,7], [2,3], [1,1], [8,15],
	// [16,23], [24,25].
	if got, want := chunkOrder(ours), chunkOrder(theirs); !slices.Equal(got, want) {
		t.Errorf("DATA order\n got %v\nwant %v (libswift)", got, want)
	}
	diffs := compareIntegrity(ours, theirs)
	for _, d := range diffs {
		t.Logf("INTEGRITY differs for DATA %s", d)
	}
	if want := libswiftLeechIntegrityDiffs; !slices.Equal(diffs, want) {
		t.Errorf("INTEGRITY differences from libswift changed:\n got %q\nwant %q", diffs, want)
	}
	r.checkTail(t)
}

// libswiftLeechIntegrityDiffs are the DATA datagrams whose INTEGRITY set
// differs from libswift's in capture libswift-seed_libswift-leech_m74. See
// the comment of TestInteropSeederVsLibswiftLeecher's caller docs in
// interop_test.go: libswift dithers its uncle choice on the clock
// ((NOW&3)==3 || !pos.parent().contains(data_out_cap_)), we send every
// uncle the peer does not provably have, once.
var libswiftLeechIntegrityDiffs = []string(nil)

// checkTail checks the end of the libswift-leech conversation: the leecher
// reconnects on a second channel with a handshake carrying HAVEs (answered
// as libswift did, compared in replayLeecher), and closes both channels.
func (r *seederRun) checkTail(t *testing.T) {
	t.Helper()
	if len(r.chanMap) != 2 {
		t.Errorf("%d handshakes answered, want 2", len(r.chanMap))
	}
	for i, o := range r.out {
		_, msgs := mustParse(t, o)
		if r.after[i] >= 90 && len(msgs) > 0 {
			t.Errorf("we answered the leecher's explicit close with %s", describe(msgs))
		}
	}
	deadline := time.Now().Add(time.Second)
	for len(r.sw.Peers()) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if p := r.sw.Peers(); len(p) != 0 {
		t.Errorf("%d channels left open after the leecher's closes", len(p))
	}
}

// TestInteropSeederVsPeregrineLeecher replays libperegrine's leecher
// (capture libswift-seed_peregrine-leech_m74) to our seeder: no PEX_REQ,
// REQUESTs of 4 chunks not aligned to bins ([1,4], [5,8], …), ACK without
// HAVE.
func TestInteropSeederVsPeregrineLeecher(t *testing.T) {
	r := replayLeecher(t, capLibswiftPeregrine)
	ours, theirs := r.commonSeederChecks(t)
	if got, want := chunkOrder(ours), chunkOrder(theirs); !slices.Equal(got, want) {
		t.Errorf("DATA order\n got %v\nwant %v (libswift)", got, want)
	}
	diffs := compareIntegrity(ours, theirs)
	for _, d := range diffs {
		t.Logf("INTEGRITY differs for DATA %s", d)
	}
	if want := peregrineLeechIntegrityDiffs; !slices.Equal(diffs, want) {
		t.Errorf("INTEGRITY differences from libswift changed:\n got %q\nwant %q", diffs, want)
	}
	if len(r.chanMap) != 1 {
		t.Errorf("%d handshakes answered, want 1", len(r.chanMap))
	}
}

var peregrineLeechIntegrityDiffs = []string(nil)
