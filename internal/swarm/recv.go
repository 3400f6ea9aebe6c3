package swarm

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/ppsp"
)

// maxProtocolErrors is how many unparsable datagrams a peer may send before
// it is dropped (RFC 7574 §8: SHOULD stop talking to it; one garbled
// datagram is forgiven, a stream of them is not).
const maxProtocolErrors = 3

// onDatagram handles a datagram addressed to this channel.
func (ch *channel) onDatagram(b []byte) {
	now := ch.e.cfg.Now()
	ch.lastRecv = now
	ch.sentSinceRecv = 0
	ch.bytesIn += uint64(len(b))
	if !ch.initiator && ch.state == stateOpen {
		// It used the channel ID we sent to its address: the address is real.
		ch.confirmed = true
	}
	_, msgs, err := ppsp.Parse(ch.ctx, b, ch.e.msgs[:0])
	ch.e.msgs = msgs[:0]
	if err != nil {
		ch.e.stats.Dropped++
		ch.errors++
		if ch.errors >= maxProtocolErrors {
			ch.misbehave(fmt.Errorf("malformed datagrams: %w", err))
		}
		return
	}
	ch.handleMessages(msgs)
	if ch.state == stateOpen {
		ch.fillSend(now)
		ch.topUp(now)
	}
	ch.flush()
}

// handleMessages processes the messages of one datagram in order (RFC 7574
// §8); DATA, which comes last, is verified after the INTEGRITY before it.
func (ch *channel) handleMessages(msgs []ppsp.Message) {
	e := ch.e
	now := e.cfg.Now()
	cands := e.cands[:0]
	chunks := e.chunks[:0]
	var ts uint64
	for i := range msgs {
		if ch.state == stateClosed {
			return
		}
		m := &msgs[i]
		if ch.state == stateHandshake && m.Type != ppsp.MsgHandshake {
			return // nothing counts before the handshake reply
		}
		switch m.Type {
		case ppsp.MsgHandshake:
			if m.IsClose() {
				ch.close("peer closed", false)
				return
			}
			if ch.state == stateHandshake && ch.initiator {
				if err := ch.checkOptions(&m.Options); err != nil {
					ch.misbehave(err)
					return
				}
				ch.remote = m.SrcChannel
				ch.open(ch.e.cfg.Compat != CompatLibswift && m.Options.Has(ppsp.OptChunkSize))
				if ch.weChoke {
					ch.ctlMsg(func(b []byte) ([]byte, error) { return ppsp.AppendChoke(b), nil })
				}
				if ch.s.superSeed {
					ch.superTick(now)
				} else if ch.s.mode == ModePeer && ch.s.have != nil && ch.s.nhave > 0 {
					ch.ctlBegin()
					ch.ctl = ch.appendHaves(ch.ctl, ch.maxDgram-len(ch.ctl)-64)
					ch.ctlMsgs++
				}
				ch.ctlMsg(func(b []byte) ([]byte, error) { return ppsp.AppendPexReq(b), nil })
			}
		case ppsp.MsgHave:
			ch.onHave(m.Spec)
		case ppsp.MsgAck:
			ch.onAck(m.Spec, m.Delay, now)
		case ppsp.MsgIntegrity:
			b, ok := m.Spec.Bin()
			if !ok {
				ch.misbehave(fmt.Errorf("INTEGRITY %v is not a bin", m.Spec))
				return
			}
			cands = append(cands, merkle.Node{Bin: merkle.Bin(b), Hash: m.Hash})
		case ppsp.MsgData:
			if m.Spec.Start != m.Spec.End {
				ch.misbehave(fmt.Errorf("DATA %v is not one chunk", m.Spec))
				return
			}
			chunks = append(chunks, merkle.Chunk{Index: m.Spec.Start, Data: m.Payload})
			ts = m.Timestamp
		case ppsp.MsgRequest:
			if !ch.replySentAt.IsZero() {
				// The peer's first REQUEST answers our handshake reply:
				// a round trip, for the retransmission timeout of the
				// first data (ledbat.rto).
				ch.cc.onHandshakeRTT(now.Sub(ch.replySentAt))
				ch.replySentAt = time.Time{}
			}
			ch.onRequest(m.Spec)
		case ppsp.MsgCancel:
			ch.onCancel(m.Spec)
		case ppsp.MsgChoke:
			ch.peerChoking = true
			ch.s.release(ch)
		case ppsp.MsgUnchoke:
			ch.peerChoking = false
		case ppsp.MsgPexReq:
			ch.onPexReq(now)
		case ppsp.MsgPexResV4, ppsp.MsgPexResV6:
			ch.s.onPexRes(m.Addr, now)
		}
	}
	e.cands, e.chunks = cands[:0], chunks[:0]
	if len(chunks) > 0 {
		ch.onChunks(cands, chunks, ts, now)
	} else if len(cands) > 0 {
		ch.retain(cands)
	}
}

// retain keeps INTEGRITY hashes that came without DATA (the hashes of a
// chunk that did not fit one datagram, RFC 7574 §5.4) for this peer's next
// DATA. Bounded; only ever used to verify this peer's own chunks.
func (ch *channel) retain(cands []merkle.Node) {
	const maxRetained = 256
	for _, c := range cands {
		if len(ch.retained) >= maxRetained {
			ch.retained = ch.retained[:0]
			ch.retainedBuf = ch.retainedBuf[:0]
		}
		off := len(ch.retainedBuf)
		ch.retainedBuf = append(ch.retainedBuf, c.Hash...)
		ch.retained = append(ch.retained, merkle.Node{Bin: c.Bin, Hash: ch.retainedBuf[off:len(ch.retainedBuf):len(ch.retainedBuf)]})
	}
	// Re-slice after possible reallocation of retainedBuf.
	off := 0
	for i := range ch.retained {
		n := len(ch.retained[i].Hash)
		ch.retained[i].Hash = ch.retainedBuf[off : off+n : off+n]
		off += n
	}
}

// onHave records chunks the peer announces.
func (ch *channel) onHave(sp ppsp.Spec) {
	if sp.IsEmpty() {
		return
	}
	if ch.peerHas == nil {
		if len(ch.pendingHave) < 1024 {
			ch.pendingHave = append(ch.pendingHave, sp)
		}
		return
	}
	ch.ackRange(sp, ch.e.cfg.Now(), false)
}

// addPeerHas marks [first, last] as held by the peer.
func (ch *channel) addPeerHas(first, last uint64) {
	n := ch.s.tree.NumChunks()
	if first >= n {
		return
	}
	last = min(last, n-1)
	if ch.peerHas.all(first, last) {
		return
	}
	old := ch.peerHas.count()
	ch.peerHas.setRange(first, last)
	ch.peerCount += ch.peerHas.count() - old
	// A page of sent hashes whose chunks the peer all has is never looked
	// at again: every bin b in it has chunk b/2 under it, so the peer knows
	// a chunk under b's parent and b is no uncle it needs (unclesFor).
	// Dropping it keeps a serving channel's map to the part in flight, not
	// 256 KiB per GiB of what the peer downloaded.
	const span = pageBits / 2 // chunks whose bins are one sentHash page
	for k := first / span; k <= last/span && (k+1)*span <= n; k++ {
		if ch.sentHash.hasPage(k) && ch.peerHas.all(k*span, (k+1)*span-1) {
			ch.sentHash.dropPage(k)
		}
	}
}

// onChunks verifies and stores the DATA of one datagram.
func (ch *channel) onChunks(cands []merkle.Node, chunks []merkle.Chunk, ts uint64, now time.Time) {
	s := ch.s
	if s.complete && s.mode == ModeLeech {
		return
	}
	tree := s.tree
	if tree.NumChunks() == 0 {
		// The peaks may have come in an INTEGRITY-only datagram before
		// (libperegrine sends them so).
		peaks := cands
		if len(ch.retained) > 0 {
			peaks = append(append([]merkle.Node(nil), ch.retained...), cands...)
		}
		if err := s.learnSize(peaks); err != nil {
			ch.misbehave(err)
			return
		}
		if tree.NumChunks() == 0 {
			return
		}
	} else if !tree.PeaksKnown() {
		// A tree restored from a store that lacks some peak hashes: take
		// them from the sender, which sends them before its first DATA.
		if len(ch.retained) > 0 {
			s.restorePeaks(append(append([]merkle.Node(nil), ch.retained...), cands...))
		} else {
			s.restorePeaks(cands)
		}
	}
	if len(ch.retained) > 0 {
		cands = append(cands, ch.retained...)
	}
	var bad error
	acks := ch.e.ackBuf[:0]
	verified := false
	var held []merkle.Chunk
	fresh := ch.e.fresh[:0] // verified, not held before: stored below
	result := func(chunks []merkle.Chunk) func(i int, err error) {
		return func(i int, err error) {
			c := chunks[i].Index
			switch {
			case err == nil:
				ch.lastData = now
				ch.served(s.req[c], c)
				if s.have.has(c) {
					acks = append(acks, c)
					s.stats.Duplicates++
					return
				}
				for _, f := range fresh {
					if f.Index == c {
						s.stats.Duplicates++ // twice in one datagram
						return
					}
				}
				acks = append(acks, c)
				fresh = append(fresh, chunks[i])
				if len(ch.held) > 0 && c < ch.heldMax {
					// It fills a gap before chunks held for want of its
					// hashes (a retransmission): they may verify now.
					verified = true
				}
			case errors.Is(err, merkle.ErrMissingHash):
				// It arrived: later requests are being served, so earlier
				// missing ones are overdue (retryRequests asks again, which
				// tells the sender what was lost).
				ch.lastData = now
				ch.served(s.req[c], c)
				held = append(held, chunks[i])
			default:
				if bad == nil {
					bad = err
				}
			}
		}
	}
	ch.e.newly = tree.Verify(cands, chunks, ch.e.newly[:0], result(chunks))
	s.stats.Unverifiable += uint64(len(held))
	// Chunks held back for want of an uncle (it rode a lost datagram) may
	// verify now that a chunk before them arrived: a retransmission fills
	// the gap. Those that still do not are held again.
	if verified && bad == nil && len(ch.held) > 0 {
		again := ch.held[:0]
	outer:
		for _, c := range ch.held {
			if s.have.has(c.Index) {
				continue
			}
			for _, f := range fresh {
				if f.Index == c.Index {
					continue outer
				}
			}
			again = append(again, c)
		}
		ch.held = nil
		ch.e.newly = tree.Verify(cands, again, ch.e.newly, result(again))
	}
	for _, c := range held {
		ch.hold(c)
	}
	ch.e.ackBuf = acks[:0]
	// The hashes go to the store before the chunks they verify: a crash
	// (kill -9) between the two must never leave a chunk recorded as
	// verified without the uncles and path hashes that verified it, since a
	// peer told of the chunk (HAVE) skips those uncles from then on (RFC
	// 7574 §5.4) and the chunks beside it would never verify again.
	if s.err == nil && len(ch.e.newly) > 0 {
		s.persistHashes(ch.e.newly)
	}
	for _, f := range fresh {
		if s.err != nil {
			break
		}
		c := f.Index
		if c == tree.NumChunks()-1 {
			if l, ok := tree.Length(); ok {
				if err := s.st.SetLength(l); err != nil {
					s.fail(fmt.Errorf("swarm: store length: %w", err))
					break
				}
			}
		}
		if err := s.st.WriteChunk(c, f.Data); err != nil {
			s.fail(fmt.Errorf("swarm: store chunk %d: %w", c, err))
			break
		}
		s.stats.BytesDownloaded += uint64(len(f.Data))
		ch.downloaded += uint64(len(f.Data))
		s.onVerified(c, ch)
		ch.reqWindow = min(ch.reqWindow+reqWindowGrowth, maxReqWindow)
	}
	clear(fresh) // drop references to datagram and held buffers
	ch.e.fresh = fresh[:0]
	if bad != nil {
		ch.misbehave(bad)
		return
	}
	if len(ch.retained) > 0 {
		ch.retained = ch.retained[:0]
		ch.retainedBuf = ch.retainedBuf[:0]
	}
	if len(acks) > 0 {
		slices.Sort(acks)
		delay := uint64(now.UnixMicro()) - ts
		ch.queueAcks(acks, delay)
	}
	s.checkComplete()
}

// served notes that chunk c, requested by r, arrived from this peer: a
// peer serves requests in order (RFC 7574 §3.7), so what was requested
// before it, or with it at a lower index, is overdue (retryRequests).
func (ch *channel) served(r *request, c uint64) {
	if r == nil {
		return
	}
	switch {
	case r.at.After(ch.servedReqAt):
		ch.servedReqAt, ch.servedIdx = r.at, c
	case r.at.Equal(ch.servedReqAt) && c > ch.servedIdx:
		ch.servedIdx = c
	}
}

// maxHeldBytes bounds the unverifiable chunks kept per peer: a lost
// datagram whose uncle hashes later chunks rely on costs one
// retransmission, not a retransmission of every chunk after it.
const maxHeldBytes = 1 << 20

// hold keeps a copy of a chunk that could not be verified yet; it is never
// stored, acknowledged or served until it verifies.
func (ch *channel) hold(c merkle.Chunk) {
	for _, h := range ch.held {
		if h.Index == c.Index {
			return
		}
	}
	if len(ch.held) >= max(64, maxHeldBytes/ch.s.tree.ChunkSize()) {
		copy(ch.held, ch.held[1:])
		ch.held = ch.held[:len(ch.held)-1]
	}
	if len(ch.held) == 0 || c.Index > ch.heldMax {
		ch.heldMax = c.Index
	}
	ch.held = append(ch.held, merkle.Chunk{Index: c.Index, Data: append([]byte(nil), c.Data...)})
}

// persistHashes stores newly verified tree nodes.
func (s *Swarm) persistHashes(bins []merkle.Bin) {
	if s.paged {
		// The tree wrote them through to the store as they verified.
		if err := s.tree.Err(); err != nil {
			s.fail(fmt.Errorf("swarm: store hashes: %w", err))
		}
		return
	}
	e := s.e
	hs := s.tree.HashFunc().Size()
	buf := e.hashBuf[:0]
	ids := e.binBuf[:0]
	for _, b := range bins {
		h := s.tree.Hash(b)
		if h == nil {
			continue
		}
		ids = append(ids, uint64(b))
		buf = append(buf, h[:hs]...)
	}
	if len(ids) > 0 {
		if err := s.st.PutHashes(ids, buf); err != nil {
			s.fail(fmt.Errorf("swarm: store hashes: %w", err))
		}
	}
	e.hashBuf, e.binBuf = buf[:0], ids[:0]
}

// persistSpine stores the peak hashes and the nodes above them (RFC 7574
// §5.3). A restarted engine needs them: senders send the peaks once per
// channel and the uncles only up to the peak (§5.4), so without them only
// chunks under the peak that the first verified chunk's path crossed could
// verify after a restart (issue 9: resume stalled at the first peak).
func (s *Swarm) persistSpine() {
	s.e.spineBuf = s.tree.Spine(s.e.spineBuf[:0])
	s.persistHashes(s.e.spineBuf)
}

// leadingPeaks returns the longest run at the head of cands that can be a
// peak set: contiguous from chunk 0, each narrower than the one before.
func leadingPeaks(cands []merkle.Node) []merkle.Node {
	next := uint64(0)
	for k, c := range cands {
		f, l := c.Bin.Base()
		if f != next || (k > 0 && c.Bin.Width() >= cands[k-1].Bin.Width()) {
			return cands[:k]
		}
		next = l + 1
	}
	return cands
}

// learnSize verifies the peak hashes at the head of cands (RFC 7574 §5.3):
// the first INTEGRITY messages a seeder sends.
func (s *Swarm) learnSize(cands []merkle.Node) error {
	peaks := leadingPeaks(cands)
	for k := len(peaks); k > 0; k-- {
		err := s.tree.SetPeaks(peaks[:k])
		if err == nil {
			if l := s.tree.NumChunks() * uint64(s.tree.ChunkSize()); s.st.Info().Length < 0 {
				if err := s.st.SetLength(int64(l)); err != nil {
					return fmt.Errorf("store length: %w", err)
				}
			}
			s.persistSpine()
			s.sizeKnown()
			return nil
		}
		if errors.Is(err, merkle.ErrMismatch) {
			return err
		}
	}
	return nil
}

// restorePeaks completes the peaks of a tree whose size is known (restored
// from the store) from the peaks at the head of cands, when they are
// exactly this tree's peaks. Anything else is ignored: uncles can look like
// a peak set of another size, and a chunk under a peak still unknown
// merely stays unverifiable.
func (s *Swarm) restorePeaks(cands []merkle.Node) {
	want := s.tree.Peaks()
	peaks := leadingPeaks(cands)
	if len(peaks) < len(want) {
		return
	}
	peaks = peaks[:len(want)]
	for i := range want {
		if peaks[i].Bin != want[i] {
			return
		}
	}
	if err := s.tree.SetPeaks(peaks); err != nil {
		s.e.log.Debug("peak hashes do not verify", "swarm", s, "err", err)
		return
	}
	s.persistSpine()
}

// onRequest queues chunks the peer asks for (RFC 7574 §3.7), served in
// order, unless we do not upload.
func (ch *channel) onRequest(sp ppsp.Spec) {
	if ch.weChoke || ch.s.mode == ModeLeech || sp.IsEmpty() {
		return
	}
	n := ch.s.tree.NumChunks()
	if n == 0 || sp.Start >= n {
		return
	}
	ch.nackInFlight(sp)
	const maxWant = 4096
	if len(ch.want) >= maxWant {
		return
	}
	ch.want = append(ch.want, span{sp.Start, min(sp.End, n-1)})
}

// onCancel removes chunks from what the peer wants (RFC 7574 §3.8).
func (ch *channel) onCancel(sp ppsp.Spec) {
	if sp.IsEmpty() {
		return
	}
	out := ch.want[:0]
	for _, w := range ch.want {
		if w.last < sp.Start || w.first > sp.End {
			out = append(out, w)
			continue
		}
		if w.first < sp.Start {
			out = append(out, span{w.first, sp.Start - 1})
		}
		if w.last > sp.End {
			out = append(out, span{sp.End + 1, w.last})
		}
	}
	ch.want = out
	// Do not retransmit cancelled chunks.
	rx := ch.retx[:0]
	for _, c := range ch.retx {
		if c < sp.Start || c > sp.End {
			rx = append(rx, c)
		}
	}
	ch.retx = rx
}

// onPexReq answers with peers of the swarm we talked to in the last 60 s
// (RFC 7574 §3.9), and introduces the requester to each of them within
// two seconds so both sides open their NATs (thesis ch. 9, Swift PEX).
func (ch *channel) onPexReq(now time.Time) {
	s := ch.s
	if s.mode == ModeLeech {
		return // phones do not route
	}
	n := 0
	for _, o := range s.channels {
		if o == ch || o.state != stateOpen || now.Sub(o.lastRecv) > time.Minute || n >= 16 {
			continue
		}
		if !pexShareable(o.addr, ch.addr) {
			continue
		}
		if ch.queuePex(o.addr) {
			n++
			// Mutual introduction: tell o about ch.
			if t, ok := o.pexIntro[addrKey(ch.addr)]; !ok || now.Sub(t) > time.Minute {
				if pexShareable(ch.addr, o.addr) && o.queuePex(ch.addr) {
					o.pexIntro[addrKey(ch.addr)] = now
					o.flush()
				}
			}
		}
	}
}

// pexShareable reports whether addr may be told to to: private and
// link-local addresses only to private requesters (RFC 7574 §3.9).
func pexShareable(addr, to net.Addr) bool {
	a, ok1 := addr.(*net.UDPAddr)
	t, ok2 := to.(*net.UDPAddr)
	if !ok1 || !ok2 {
		return false
	}
	local := func(u *net.UDPAddr) bool {
		return u.IP.IsPrivate() || u.IP.IsLoopback() || u.IP.IsLinkLocalUnicast()
	}
	return !local(a) || local(t)
}

func (ch *channel) queuePex(a net.Addr) bool {
	u, ok := a.(*net.UDPAddr)
	if !ok {
		return false
	}
	ap := u.AddrPort()
	if ap.Addr().Is4() || ap.Addr().Is4In6() {
		ap = netipAddrPort4(ap)
		return ch.ctlMsg(func(b []byte) ([]byte, error) { return ppsp.AppendPexResV4(b, ap) })
	}
	return ch.ctlMsg(func(b []byte) ([]byte, error) { return ppsp.AppendPexResV6(b, ap) })
}

// onPexRes learns a peer; it is a hint, connected to when there is room.
func (s *Swarm) onPexRes(ap netip.AddrPort, now time.Time) {
	if !ap.IsValid() || ap.Port() == 0 || ap.Addr().IsUnspecified() || ap.Addr().IsMulticast() {
		return
	}
	if s.complete && s.mode == ModeLeech {
		return
	}
	a := udpAddr(ap)
	k := addrKey(a)
	if _, ok := s.known[k]; ok || len(s.known) >= 1024 {
		return
	}
	s.known[k] = a
	if len(s.channels) < s.e.cfg.MaxPeers {
		s.connect(a)
	}
}
