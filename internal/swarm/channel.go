package swarm

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/ppsp"
)

// unconfirmedTimeout is how long a channel we answered may wait for the
// opener's first datagram on it before the slot is freed.
const unconfirmedTimeout = 10 * time.Second

type chanState int

const (
	stateHandshake chanState = iota // we sent a handshake, no reply yet
	stateOpen
	stateClosed
)

// channel is one peer in one swarm (RFC 7574 §3.1: a channel per swarm and
// peer, identified by each side's channel ID).
type channel struct {
	s         *Swarm
	e         *Engine
	local     uint32
	remote    uint32
	addr      net.Addr
	initiator bool
	state     chanState
	ctx       ppsp.Context
	rfc       bool // the peer speaks the RFC's option 9: several DATA per datagram
	maxDgram  int

	// Amplification guard (before the peer proved its address).
	confirmed         bool
	bytesIn, bytesOut uint64

	// Timers.
	opened        time.Time
	lastRecv      time.Time
	lastSend      time.Time
	sentSinceRecv int
	hsTries       int
	hsNext        time.Time
	errors        int

	// What the peer has (HAVE ∪ ACK); nil until our size is known.
	peerHas     *bitset
	peerCount   uint64
	pendingHave []ppsp.Spec
	peerChoking bool

	// Download side.
	lastResort  bool // asked only for what others do not deliver (LastResorter)
	outstanding int
	reqWindow   int
	lastData    time.Time
	reqSince    time.Time // when the pipeline last went from empty to busy
	servedReqAt time.Time // the latest request time of a chunk this peer delivered
	servedIdx   uint64    // the highest such chunk of that request time
	lastRetry   time.Time
	retained    []merkle.Node  // INTEGRITY from this peer not yet used
	held        []merkle.Chunk // DATA from this peer awaiting an uncle (recv.go)
	heldMax     uint64         // highest index in held
	retainedBuf []byte

	// Upload side (see send.go).
	want          []span
	retx          []uint64
	flights       []flight
	flightHead    int
	flightBase    uint64 // seq of flights[0]
	nextSeq       uint64
	flightOf      map[uint64]uint64 // chunk -> seq of the flight carrying it
	inflightBytes int
	highestAcked  uint64
	lossRootSeq   uint64    // the latest flight lost outright
	lossRootAt    time.Time // when it was found lost
	parked        []flight  // scratch for detectLoss
	anyAcked      bool
	rtoAt         time.Time // the latest retransmission timeout
	rtoBackoff    uint      // timeouts since the last acknowledgement (RFC 6298 §5.5)
	rtoProbe      bool      // send one datagram past the window: the probe
	probeAt       time.Time // when the latest probe was sent (probeFor)
	probeByNack   bool      // it stands for a repeated REQUEST, not a timeout
	probeBytes    int       // the size of the flight it resends
	rtoUndo       bool      // a verdict on the probe is pending: an original sent before it may prove nothing lost
	rtoProbeAcked time.Time // when the probe (or its original) was acknowledged, verdict pending
	cc            *ledbat
	super         *superPeer // SwarmConfig.SuperSeed's state
	replySentAt   time.Time  // our handshake reply, for a first RTT sample
	sentHash      *bitset
	peaksSent     bool
	uploaded      uint64
	downloaded    uint64 // content bytes from it that verified and were stored
	weChoke       bool

	// Outgoing control messages, flushed as one datagram.
	ctl      []byte
	ctlMsgs  int
	cancelQ  []span
	pexIntro map[string]time.Time
}

type span struct{ first, last uint64 }

func (s *Swarm) newChannel(addr net.Addr, initiator bool) (*channel, error) {
	id, err := s.e.newChannelID()
	if err != nil {
		return nil, err
	}
	now := s.e.cfg.Now()
	s.wake()
	// A channel reads the tree: the idle clock restarts now, not at the
	// next tick, which a short exchange (a small file on loopback) may
	// finish before; else the swarm would stay marked released while it
	// holds pages again, and never drop them.
	s.idleSince, s.released = time.Time{}, false
	ch := &channel{
		s: s, e: s.e, local: id, addr: addr, initiator: initiator,
		state: stateHandshake, opened: now, lastRecv: now, lastSend: now,
		reqWindow: initReqWindow, flightOf: make(map[uint64]uint64),
		maxDgram: s.e.maxDatagram(addr), weChoke: s.mode == ModeLeech,
		pexIntro: make(map[string]time.Time),
	}
	if !initiator {
		ch.confirmed = false
	} else {
		ch.confirmed = true // we chose the address
	}
	ch.cc = newLedbat(ch.mss())
	ch.lastResort = s.e.last != nil && s.e.last.LastResort(addr)
	s.channels[id] = ch
	s.e.channels[id] = ch
	if s.tree.NumChunks() != 0 {
		ch.sizeKnown()
	}
	return ch, nil
}

// mss is the content bytes in a full data datagram to this peer.
func (ch *channel) mss() int {
	return ch.chunksPerDatagram() * ch.s.tree.ChunkSize()
}

// chunksPerDatagram is how many DATA messages fit one datagram.
func (ch *channel) chunksPerDatagram() int {
	if !ch.rfc {
		return 1
	}
	cs := ch.s.tree.ChunkSize()
	hs := ch.s.tree.HashFunc().Size()
	room := ch.maxDgram - 4 - 8*(1+8+hs) // leave room for a few uncles
	n := min(room/(1+8+8+cs), 64)
	// A power of two, so that runs align with subtrees and need few uncles.
	k := 1
	for k*2 <= n {
		k *= 2
	}
	return k
}

func (ch *channel) sizeKnown() {
	n := ch.s.tree.NumChunks()
	ch.peerHas = newBitset(n)
	ch.sentHash = newBitset(2 * n)
	for _, sp := range ch.pendingHave {
		ch.addPeerHas(sp.Start, sp.End)
	}
	ch.pendingHave = nil
}

func (ch *channel) peerSeeder() bool {
	n := ch.s.tree.NumChunks()
	return n != 0 && ch.peerCount == n
}

// handshakeOptions are the options we send (RFC 7574 §7, ppsp-wire.md §4).
func (ch *channel) handshakeOptions(withID bool) ppsp.Options {
	var id []byte
	if withID {
		id = ch.s.id
	}
	o := ppsp.LibswiftOptions(id, uint8(ch.s.tree.HashFunc()))
	if ch.rfc {
		o.SetChunkSize(uint32(ch.s.tree.ChunkSize()))
	}
	return o
}

// sendHandshake sends (or resends) our opening handshake.
func (ch *channel) sendHandshake() {
	switch ch.e.cfg.Compat {
	case CompatLibswift:
		ch.rfc = false
	case CompatRFC:
		ch.rfc = true
	default:
		// Alternate: RFC first, then libswift's form, so either answers;
		// a path the transport sizes (a data channel) has only RFC peers.
		ch.rfc = ch.hsTries%2 == 0 || ch.e.pathSize(ch.addr) != 0
	}
	ch.hsTries++
	b := ppsp.AppendHeader(ch.e.out[:0], 0)
	b, err := ppsp.AppendHandshake(b, ch.local, ch.handshakeOptions(true))
	if err != nil {
		ch.close(err.Error(), false)
		return
	}
	ch.write(b)
	backoff := 300 * time.Millisecond << min(ch.hsTries-1, 4)
	ch.hsNext = ch.e.cfg.Now().Add(backoff)
}

// acceptHandshake checks an opening handshake from the peer (we respond).
func (ch *channel) acceptHandshake(m *ppsp.Message) error {
	if err := ch.checkOptions(&m.Options); err != nil {
		return err
	}
	ch.remote = m.SrcChannel
	ch.open(m.Options.Has(ppsp.OptChunkSize))
	return nil
}

// open marks the handshake done. An RFC peer (it sent option 9) may get
// several DATA per datagram and loopback-sized datagrams; any other peer
// gets datagrams of at most MaxDatagram: libperegrine reads into a
// 1500-byte buffer and silently truncates longer ones.
func (ch *channel) open(rfc bool) {
	ch.rfc = rfc
	ch.maxDgram = ch.e.maxDatagram(ch.addr)
	if !rfc {
		ch.maxDgram = min(ch.maxDgram, ch.e.cfg.MaxDatagram)
	}
	ch.state = stateOpen
	ch.cc = newLedbat(ch.mss())
}

// checkOptions validates the peer's protocol options against our swarm.
func (ch *channel) checkOptions(o *ppsp.Options) error {
	if o.Has(ppsp.OptVersion) && o.Version != 1 {
		// libswift does not enforce versions; we speak only version 1.
		if o.Has(ppsp.OptMinVersion) && o.MinVersion > 1 {
			return fmt.Errorf("peer needs protocol version %d", o.MinVersion)
		}
	}
	if o.Has(ppsp.OptSwarmID) && !bytes.Equal(o.SwarmID, ch.s.id) {
		return errors.New("swarm ID mismatch")
	}
	if o.Has(ppsp.OptCIPM) && o.CIPM != 1 {
		return fmt.Errorf("content integrity method %d unsupported (static content uses 1, Merkle)", o.CIPM)
	}
	if o.Has(ppsp.OptMHF) && merkle.HashFunc(o.MHF) != ch.s.tree.HashFunc() {
		return fmt.Errorf("merkle hash function %d, swarm uses %d", o.MHF, ch.s.tree.HashFunc())
	}
	if o.Has(ppsp.OptChunkSize) && o.ChunkSize != uint32(ch.s.tree.ChunkSize()) {
		return fmt.Errorf("chunk size %d, swarm uses %d", o.ChunkSize, ch.s.tree.ChunkSize())
	}
	ctx, err := ppsp.Context{}.Apply(o)
	if err != nil {
		return err
	}
	if o.Has(ppsp.OptCAM) && o.CAM == ppsp.CAMByteRanges64 {
		return errors.New("byte-range chunk addressing unsupported")
	}
	ctx.ChunkSize = ch.s.tree.ChunkSize()
	ch.ctx = ctx
	return nil
}

// sendHandshakeReply answers the peer's handshake, with our HAVEs when we
// upload (RFC 7574 §8.4: light payload allowed in the first datagrams).
func (ch *channel) sendHandshakeReply() {
	b := ppsp.AppendHeader(ch.e.out[:0], ch.remote)
	o := ch.handshakeOptions(false)
	o.SetCAM(ch.ctx.CAM)
	b, err := ppsp.AppendHandshake(b, ch.local, o)
	if err != nil {
		return
	}
	if ch.s.mode == ModePeer && ch.s.have != nil && !ch.s.superSeed {
		b = ch.appendHaves(b, 3*int(ch.bytesIn)-len(b))
	}
	if ch.weChoke {
		b = ppsp.AppendChoke(b)
	}
	if ch.write(b) {
		ch.replySentAt = ch.e.cfg.Now()
	}
}

// appendHaves appends HAVE messages for our verified chunks, as many whole
// bins as fit in room bytes.
func (ch *channel) appendHaves(b []byte, room int) []byte {
	n := ch.s.tree.NumChunks()
	size := 1 + ch.ctx.CAM.SpecSize()
	for c := uint64(0); c < n && room >= size; {
		if !ch.s.have.has(c) {
			c = ch.s.have.nextSet(c, n)
			continue
		}
		// Largest aligned bin of verified chunks starting at c.
		b0 := merkle.ChunkBin(c)
		for {
			p := b0.Parent()
			f, l := p.Base()
			if f != c || l >= n || !ch.s.have.all(f, l) {
				break
			}
			b0 = p
		}
		f, l := b0.Base()
		var err error
		b, err = ppsp.AppendHave(b, ch.ctx, ppsp.Spec{Start: f, End: l})
		if err != nil {
			return b
		}
		room -= size
		c = l + 1
	}
	return b
}

// write sends a datagram on this channel, honouring the amplification
// limit: before the peer proved its address it never gets more than three
// times what it sent.
func (ch *channel) write(b []byte) bool {
	if !ch.confirmed && ch.bytesOut+uint64(len(b)) > 3*ch.bytesIn {
		return false
	}
	if err := ch.e.send(b, ch.addr); err != nil {
		return false
	}
	ch.bytesOut += uint64(len(b))
	ch.lastSend = ch.e.cfg.Now()
	ch.sentSinceRecv++
	return true
}

// close ends the channel; with explicit, the peer is told (RFC 7574 §8.4:
// a handshake with source channel 0).
func (ch *channel) close(reason string, explicit bool) {
	if ch.state == stateClosed {
		return
	}
	if explicit && ch.remote != 0 {
		b := ppsp.AppendHeader(ch.e.out[:0], ch.remote)
		b = ppsp.AppendClose(b)
		ch.write(b)
	}
	ch.e.log.Debug("channel closed", "peer", ch.addr, "swarm", ch.s, "reason", reason)
	ch.state = stateClosed
	s := ch.s
	if s.superSeed && ch.peerSeeder() {
		s.superFull = true
	}
	s.release(ch)
	if s.sizeProbe == ch {
		s.sizeProbe = nil
	}
	s.keepDownloaded(ch)
	delete(s.channels, ch.local)
	delete(ch.e.channels, ch.local)
}

// misbehave drops a peer that broke the protocol or sent data that failed
// verification, and bans it from the swarm.
func (ch *channel) misbehave(err error) {
	ch.e.log.Info("dropping peer", "peer", ch.addr, "swarm", ch.s, "err", err)
	ch.s.stats.PeersDropped++
	ch.s.ban(ch.addr)
	ch.close(err.Error(), true)
}

func (ch *channel) tick(now time.Time) {
	switch ch.state {
	case stateHandshake:
		if now.Sub(ch.opened) > ch.e.cfg.HandshakeTimeout {
			ch.close("handshake timeout", false)
			return
		}
		if now.After(ch.hsNext) {
			ch.sendHandshake()
		}
		return
	case stateClosed:
		return
	}
	if !ch.confirmed && now.Sub(ch.opened) > unconfirmedTimeout {
		// Nobody used the channel ID we sent: a spoofed or vanished
		// opener. Free the slot.
		ch.close("address never confirmed", false)
		return
	}
	if now.Sub(ch.lastRecv) > ch.e.cfg.DeadPeer && ch.sentSinceRecv >= 3 {
		ch.close("dead peer", false)
		return
	}
	ch.rtoVerdict(now)
	ch.detectLoss(now, true)
	ch.superTick(now)
	ch.fillSend(now)
	ch.s.requestTimeouts(ch, now)
	ch.s.retryRequests(ch, now)
	ch.topUp(now)
	ch.flush()
	if now.Sub(ch.lastSend) > ch.e.cfg.KeepAlive {
		ch.write(ppsp.AppendHeader(ch.e.out[:0], ch.remote)) // keep-alive
	}
}
