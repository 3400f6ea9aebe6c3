package swarm

import (
	"fmt"
	"time"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/ppsp"
)

// flight is one DATA datagram in flight: a run of consecutive chunks.
type flight struct {
	seq   uint64
	first uint64
	n     int
	acked int
	bytes int
	sent  time.Time
	retx  bool
	done  bool
	// parked: once declared lost while an earlier loss was being
	// repaired, and given one more round trip (see detectLoss).
	parked bool
}

// dupThresh is how many later datagrams must be acknowledged before an
// unacknowledged one counts as lost (as TCP's three duplicate ACKs).
const dupThresh = 3

func (ch *channel) servable(c uint64) bool {
	if !ch.s.have.has(c) || ch.peerHas.has(c) {
		return false
	}
	_, inflight := ch.flightOf[c]
	return !inflight
}

// nextRun returns the next run of chunks to send: retransmissions first,
// then the peer's requests in order (RFC 7574 §3.7).
func (ch *channel) nextRun(k int) (first uint64, n int, retx bool) {
	for len(ch.retx) > 0 {
		c := ch.retx[0]
		if !ch.servable(c) {
			ch.retx = ch.retx[1:]
			continue
		}
		n = 1
		for n < k && n < len(ch.retx) && ch.retx[n] == c+uint64(n) && ch.servable(ch.retx[n]) {
			n++
		}
		ch.retx = ch.retx[n:]
		return c, n, true
	}
	nc := ch.s.tree.NumChunks()
	for len(ch.want) > 0 {
		w := &ch.want[0]
		for w.first <= w.last && !ch.servable(w.first) {
			if !ch.s.have.has(w.first) {
				w.first = ch.s.have.nextSet(w.first, nc)
				continue
			}
			w.first++
		}
		if w.first > w.last {
			ch.want = ch.want[1:]
			continue
		}
		first = w.first
		n = 1
		// End runs on a multiple of k: aligned runs are whole subtrees.
		lim := k - int(first%uint64(k))
		for n < lim && first+uint64(n) <= w.last && ch.servable(first+uint64(n)) {
			n++
		}
		w.first += uint64(n)
		if w.first > w.last || w.first == 0 {
			ch.want = ch.want[1:]
		}
		return first, n, false
	}
	return 0, 0, false
}

// fillSend sends DATA while the congestion window allows.
func (ch *channel) fillSend(now time.Time) {
	if ch.state != stateOpen || ch.weChoke || ch.s.mode == ModeLeech || ch.s.have == nil || ch.s.err != nil {
		return
	}
	k := ch.chunksPerDatagram()
	for ch.inflightBytes < ch.cc.window() || ch.rtoProbe {
		if ch.e.block != nil && ch.e.block.Blocked(ch.addr) {
			return
		}
		first, n, retx := ch.nextRun(k)
		if n == 0 {
			return
		}
		if !ch.sendData(first, n, retx, now) {
			return
		}
		ch.rtoProbe = false
	}
}

// sendData sends chunks [first, first+n) with the hashes the peer needs
// to verify them (RFC 7574 §5.4): the peaks before the first DATA, then
// uncles highest layer first, skipping those the peer provably has.
func (ch *channel) sendData(first uint64, n int, retx bool, now time.Time) bool {
	s, e := ch.s, ch.e
	if s.superGiven != nil {
		s.superGiven.setRange(first, first+uint64(n)-1)
	}
	tree := s.tree
	cs := tree.ChunkSize()
	hs := tree.HashFunc().Size()
	nodes := e.uncles[:0]
	if !ch.peaksSent || (retx && ch.peerCount == 0) {
		nodes = append(nodes, tree.Peaks()...)
	}
	nodes = ch.unclesFor(nodes, first, first+uint64(n)-1, retx)
	e.uncles = nodes[:0]
	specSize := ch.ctx.CAM.SpecSize()
	intSize := 1 + specSize + hs
	dataSize := 1 + specSize + 8 + cs
	// Hashes that do not fit with the data go first, on their own (§5.4).
	b := ppsp.AppendHeader(e.out[:0], ch.remote)
	for len(nodes) > 0 && 4+len(nodes)*intSize+n*dataSize > ch.maxDgram {
		b = ppsp.AppendHeader(e.out[:0], ch.remote)
		for len(nodes) > 0 && len(b)+intSize <= ch.maxDgram {
			var err error
			if b, err = ch.appendIntegrity(b, nodes[0]); err != nil {
				return false
			}
			nodes = nodes[1:]
		}
		ch.write(b)
		b = ppsp.AppendHeader(e.out[:0], ch.remote)
	}
	for _, nd := range nodes {
		var err error
		if b, err = ch.appendIntegrity(b, nd); err != nil {
			return false
		}
	}
	ts := uint64(now.UnixMicro())
	if cap(e.chunk) < cs {
		e.chunk = make([]byte, cs)
	}
	content := 0
	for i := 0; i < n; i++ {
		c := first + uint64(i)
		k, err := s.st.ReadChunk(c, e.chunk[:cs])
		if err != nil {
			s.fail(fmt.Errorf("swarm: read chunk %d: %w", c, err))
			return false
		}
		if b, err = ppsp.AppendData(b, ch.ctx, ppsp.Chunk(c), ts, e.chunk[:k]); err != nil {
			return false
		}
		content += k
	}
	if !ch.write(b) {
		return false
	}
	ch.peaksSent = true
	seq := ch.nextSeq
	ch.nextSeq++
	ch.flights = append(ch.flights, flight{seq: seq, first: first, n: n, bytes: content, sent: now, retx: retx})
	for i := 0; i < n; i++ {
		ch.flightOf[first+uint64(i)] = seq
	}
	ch.inflightBytes += content
	ch.uploaded += uint64(content)
	s.stats.ChunksServed += uint64(n)
	s.stats.BytesUploaded += uint64(content)
	if retx {
		s.stats.Retransmits += uint64(n)
	}
	return true
}

func (ch *channel) appendIntegrity(b []byte, nd merkle.Bin) ([]byte, error) {
	f, l := nd.Base()
	ch.sentHash.set(uint64(nd))
	ch.s.stats.HashesSent++
	return ppsp.AppendIntegrity(b, ch.ctx, ppsp.Spec{Start: f, End: l}, ch.s.tree.Hash(nd))
}

// unclesFor appends the uncles the peer needs for chunks [first, last],
// highest layer first. Uncles inside the run are computable by the peer
// from the data itself; uncles under a parent of which the peer has a
// verified chunk are known to it; uncles sent before are skipped unless
// this is a retransmission (their datagram may have been the lost one).
func (ch *channel) unclesFor(dst []merkle.Bin, first, last uint64, retx bool) []merkle.Bin {
	tree := ch.s.tree
	knows := func(p merkle.Bin) bool {
		f, l := p.Base()
		return ch.peerHas.any(f, l)
	}
	start := len(dst)
	for c := first; c <= last; {
		// Largest aligned bin starting at c within the run.
		b := merkle.ChunkBin(c)
		for {
			p := b.Parent()
			f, l := p.Base()
			if f != c || l > last {
				break
			}
			b = p
		}
		tmp := tree.Uncles(ch.e.tmpBins[:0], b, knows)
		ch.e.tmpBins = tmp[:0]
	next:
		for _, u := range tmp {
			uf, ul := u.Base()
			if uf >= first && ul <= last {
				continue
			}
			if !retx && (ch.sentHash.has(uint64(u)) || ch.allInFlight(uf, ul)) {
				continue
			}
			for _, d := range dst[start:] {
				if d == u {
					continue next
				}
			}
			dst = append(dst, u)
		}
		_, l := b.Base()
		c = l + 1
	}
	// Highest layer first (insertion sort: a handful of entries).
	un := dst[start:]
	for i := 1; i < len(un); i++ {
		for j := i; j > 0 && un[j].Layer() > un[j-1].Layer(); j-- {
			un[j], un[j-1] = un[j-1], un[j]
		}
	}
	return dst
}

// allInFlight reports whether every chunk of [first, last] (at most 64) is
// in flight to the peer: it will compute their hash itself.
func (ch *channel) allInFlight(first, last uint64) bool {
	if last-first >= 64 {
		return false
	}
	for c := first; c <= last; c++ {
		if _, ok := ch.flightOf[c]; !ok {
			return false
		}
	}
	return true
}

func (ch *channel) flight(seq uint64) *flight {
	if seq < ch.flightBase {
		return nil
	}
	i := seq - ch.flightBase
	if i >= uint64(len(ch.flights)) {
		return nil
	}
	return &ch.flights[i]
}

// onAck handles an acknowledgement: the peer verified and stored these
// chunks; its delay sample drives LEDBAT.
func (ch *channel) onAck(sp ppsp.Spec, delay uint64, now time.Time) {
	if sp.IsEmpty() {
		return
	}
	if ch.peerHas == nil {
		ch.onHave(sp)
		return
	}
	ch.cc.onDelay(now, int64(delay))
	ch.ackRange(sp, now, true)
}

// ackRange marks chunks of sp held by the peer and completes the flights
// carrying them. HAVE counts too (without RTT or delay samples): libswift
// ACKs only the last chunk of a datagram and reports the others by HAVE.
func (ch *channel) ackRange(sp ppsp.Spec, now time.Time, sample bool) {
	n := ch.s.tree.NumChunks()
	if sp.Start >= n {
		return
	}
	end := min(sp.End, n-1)
	ch.addPeerHas(sp.Start, end)
	if len(ch.flightOf) == 0 {
		return
	}
	before := ch.inflightBytes
	acked := 0
	confirmed := false // this acknowledgement proves the latest timeout a loss
	ackOne := func(c uint64) {
		seq, ok := ch.flightOf[c]
		if !ok {
			return
		}
		delete(ch.flightOf, c)
		f := ch.flight(seq)
		if f == nil || f.done {
			return
		}
		f.acked++
		if f.acked < f.n {
			return
		}
		f.done = true
		ch.inflightBytes -= f.bytes
		acked += f.bytes
		if ch.rtoUndo {
			// The acknowledgements after a probe (a timeout's, or a
			// repeated REQUEST's: probeFor) tell whether what it
			// stands for was lost (RFC 5682's F-RTO, simplified): one
			// for a datagram sent before it means the path or the
			// receiver had stalled, lost nothing, so nothing more is
			// resent and a timeout's window comes back; one for new
			// data sent after it, with older data still outstanding,
			// confirms the loss. One for a resent datagram says nothing
			// yet: it may be the original's, delayed (a data channel
			// never loses, it only queues), so the verdict waits for
			// the next or, if none comes, for rtoVerdictWait.
			switch {
			case !f.retx && f.sent.Before(ch.probeAt):
				ch.rtoUndo, ch.rtoProbeAcked = false, time.Time{}
				if !ch.probeByNack {
					ch.cc.undoTimeout()
					ch.s.stats.SpuriousTimeouts++
				}
			case f.retx:
				if ch.rtoProbeAcked.IsZero() {
					ch.rtoProbeAcked = now
				}
			default:
				confirmed = true
			}
		}
		if sample && !f.retx {
			ch.cc.onRTT(now.Sub(f.sent))
		}
		// A retransmission's acknowledgement may be the original's
		// (RFC 6298 §3's ambiguity, which Karn's rule avoids for RTT): it
		// must not declare everything sent before it lost. One that comes
		// at least half a round trip after the retransmission is its own.
		// While a probe's verdict is pending, no resent datagram's is.
		own := !f.retx || now.Sub(f.sent) >= ch.cc.srtt/2 && !ch.rtoUndo
		if own && (!ch.anyAcked || seq > ch.highestAcked) {
			ch.highestAcked, ch.anyAcked = seq, true
		}
	}
	if end-sp.Start < uint64(2*len(ch.flightOf)+8) {
		for c := sp.Start; c <= end; c++ {
			ackOne(c)
		}
	} else {
		for c := range ch.flightOf {
			if c >= sp.Start && c <= end {
				ackOne(c)
			}
		}
	}
	if acked > 0 {
		ch.rtoBackoff = 0
		ch.cc.onAck(now, acked, before)
		if ch.s.superSeed {
			ch.superTick(now)
		}
	}
	if confirmed {
		ch.confirmProbe(now)
	}
	ch.detectLoss(now, false)
}

// rtoVerdict confirms the latest probe when it was acknowledged and
// nothing sent before it followed within rtoVerdictWait: had the
// originals only been delayed, their acknowledgements would come right
// behind the first one's, in the order they were sent.
func (ch *channel) rtoVerdict(now time.Time) {
	if ch.rtoUndo && !ch.rtoProbeAcked.IsZero() && now.Sub(ch.rtoProbeAcked) >= max(ch.cc.srtt/2, rtoVerdictWait) {
		ch.confirmProbe(now)
	}
}

// rtoVerdictWait is the least time rtoVerdict gives the acknowledgements
// of originals to follow the probe's: more than a tick, and than a busy
// receiver's gap between two datagrams it handles.
const rtoVerdictWait = 30 * time.Millisecond

// confirmProbe takes what the latest probe stood for as lost: a
// timeout's window stays collapsed; a repeated REQUEST's is a loss
// (once) now; and everything sent before the probe and still
// unacknowledged is resent.
func (ch *channel) confirmProbe(now time.Time) {
	if debugSwarm {
		println("confirm", ch.probeByNack)
	}
	ch.rtoUndo, ch.rtoProbeAcked = false, time.Time{}
	ch.cc.undoSaved = false
	lost := ch.loseSentBefore(ch.probeAt)
	if ch.probeByNack {
		ch.cc.onLoss(now, lost+ch.probeBytes)
	}
}

// probeFor resends f alone, past the window, as the probe whose
// acknowledgements tell whether the rest sent before it was lost; a
// timeout's probe also holds the window collapsed until they tell.
func (ch *channel) probeFor(f *flight, now time.Time, byNack bool) {
	ch.probeBytes = f.bytes
	ch.loseFlight(f)
	ch.probeAt, ch.rtoProbe, ch.rtoUndo, ch.rtoProbeAcked, ch.probeByNack = now, true, true, time.Time{}, byNack
}

// detectLoss declares flights lost after dupThresh later ones were
// acknowledged, or, with timers, after the retransmission timeout; their
// chunks are queued again and the window shrinks.
func (ch *channel) detectLoss(now time.Time, timers bool) {
	lost, timeout := false, false
	lostBytes := 0
	rto := ch.cc.rto()
	for ch.flightHead < len(ch.flights) {
		f := &ch.flights[ch.flightHead]
		switch {
		case f.done:
		case ch.anyAcked && f.seq+dupThresh <= ch.highestAcked:
			if !f.parked && f.sent.Before(ch.lossRootAt) && now.Sub(ch.lossRootAt) < ch.cc.srtt {
				// Sent after a datagram that was lost, before we knew: it
				// may have skipped uncle hashes that rode the lost one
				// (they were in flight), so the peer holds it unverified
				// until the repair arrives, and then acknowledges it.
				// Wait one more round trip instead of sending it again.
				ch.parked = append(ch.parked, *f)
				f.done = true
				break
			}
			lost = true
			if !f.parked {
				// A parked flight's loss follows from the one it
				// waited on: not a second congestion signal.
				lostBytes += f.bytes
			}
			ch.loseFlight(f)
			ch.lossRootSeq, ch.lossRootAt = f.seq, now
		case timers && now.Sub(f.sent) > rto && now.Sub(ch.rtoAt) > rto<<ch.rtoBackoff:
			// Only the oldest flight is resent (RFC 6298 §5.4), as one
			// probe past the collapsed window; the rest wait for its
			// acknowledgement. A receiver that stalled longer than the
			// timeout (a GC pause, a busy tab) then costs one datagram,
			// not everything in flight sent twice. Each further timeout
			// without an acknowledgement doubles the wait (§5.5).
			timeout = true
			ch.probeFor(f, now, false)
			ch.rtoAt = now
			ch.rtoBackoff = min(ch.rtoBackoff+1, 6)
			ch.s.stats.Timeouts++
			ch.flightHead++
			goto compact
		default:
			goto compact
		}
		ch.flightHead++
	}
compact:
	for _, p := range ch.parked {
		seq := ch.nextSeq
		ch.nextSeq++
		for i := 0; i < p.n; i++ {
			if c := p.first + uint64(i); ch.flightOf[c] == p.seq {
				ch.flightOf[c] = seq
			}
		}
		p.seq, p.sent, p.retx, p.parked, p.done = seq, now, true, true, false
		ch.flights = append(ch.flights, p)
	}
	ch.parked = ch.parked[:0]
	if ch.flightHead > 256 && ch.flightHead*2 > len(ch.flights) {
		k := copy(ch.flights, ch.flights[ch.flightHead:])
		ch.flights = ch.flights[:k]
		ch.flightBase += uint64(ch.flightHead)
		ch.flightHead = 0
	}
	if debugSwarm && (timeout || lost) {
		println("loss", ch.addr.String(), "timeout", timeout, "rto", rto.String(), "srtt", ch.cc.srtt.String(), "inflight", ch.inflightBytes, "cwnd", ch.cc.window())
	}
	if timeout {
		ch.cc.onTimeout(now)
	} else if lost {
		ch.cc.onLoss(now, lostBytes)
	}
	if lost || timeout {
		ch.resendHashes()
	}
}

// nackInFlight treats a repeated REQUEST for chunks we sent at least a
// round trip ago, still unacknowledged, as word that they may be lost:
// the receiver asks again for what it saw overtaken, or for everything
// when it has waited long for anything (retryRequests). A flight that a
// later one overtook (acknowledged) is lost. The others may be lost or
// only delayed (a stalled path, a busy receiver: a data channel never
// loses): the oldest goes again alone as a probe, and its
// acknowledgements tell (confirmProbe). It catches the loss that
// acknowledgements cannot: when the lost datagram carried uncle hashes
// that every later chunk relies on, nothing later verifies, so nothing is
// acknowledged until the probe brings them again.
func (ch *channel) nackInFlight(sp ppsp.Spec) {
	srtt := ch.cc.srtt
	if srtt == 0 || len(ch.flightOf) == 0 || sp.End < sp.Start {
		return
	}
	now := ch.e.cfg.Now()
	lostBytes := 0
	var oldest *flight
	lose := func(f *flight) {
		if f == nil || f.done || now.Sub(f.sent) < srtt {
			return
		}
		if debugSwarm {
			println("nack", f.first, f.n, "seq", f.seq, "highest", ch.highestAcked, "age", now.Sub(f.sent).String(), "srtt", srtt.String())
		}
		if ch.anyAcked && f.seq < ch.highestAcked {
			lostBytes += f.bytes
			ch.loseFlight(f)
		} else if oldest == nil || f.seq < oldest.seq {
			oldest = f
		}
	}
	if sp.End-sp.Start <= 256 {
		for c := sp.Start; c <= sp.End; c++ {
			if seq, ok := ch.flightOf[c]; ok {
				lose(ch.flight(seq))
			}
		}
	} else {
		// A long span (a receiver that asks again for everything it
		// has been waiting on): walk what is in flight, not the span.
		for i := ch.flightHead; i < len(ch.flights); i++ {
			if f := &ch.flights[i]; f.first <= sp.End && f.first+uint64(f.n) > sp.Start {
				lose(f)
			}
		}
	}
	probe := oldest != nil && !ch.rtoUndo
	if probe {
		ch.probeFor(oldest, now, true)
		ch.s.stats.NackProbes++
	}
	if lostBytes > 0 {
		ch.s.stats.Nacks++
		ch.cc.onLoss(now, lostBytes)
	}
	if lostBytes > 0 || probe {
		ch.resendHashes()
	}
}

// loseSentBefore declares lost every flight sent before t and still
// unacknowledged, once the first acknowledgement after a timeout at t
// was for the probe or later data: the timeout was real, and a datagram
// sent before it that is still unacknowledged when one sent after it is
// will not be (RFC 5682 §2.1 step 2b: the usual retransmission of what
// was outstanding, in slow start). The duplicate-acknowledgement rule
// cannot find them: the probe's acknowledgement may be the original's
// (it follows the probe within half a round trip), so it does not count
// as a later flight acknowledged, and each would wait a whole timeout of
// its own, one datagram per timeout (seconds when much was in flight).
// The window already collapsed at the timeout: no second reduction.
func (ch *channel) loseSentBefore(t time.Time) (bytes int) {
	n := 0
	for i := ch.flightHead; i < len(ch.flights); i++ {
		f := &ch.flights[i]
		if !f.done && f.sent.Before(t) {
			bytes += f.bytes
			ch.loseFlight(f)
			n++
		}
	}
	if n > 0 {
		ch.s.stats.TimeoutLosses += uint64(n)
		ch.resendHashes()
	}
	return bytes
}

// resendHashes forgets which hashes were sent: a lost datagram may have
// carried some (uncles, and the peaks to a peer that holds nothing yet),
// so they go again with the next DATA.
func (ch *channel) resendHashes() {
	ch.sentHash.reset()
	if ch.peerCount == 0 {
		ch.peaksSent = false
	}
}

func (ch *channel) loseFlight(f *flight) {
	if debugSwarm {
		println("lose", f.first, f.n, "seq", f.seq, "highest", ch.highestAcked, "retx", f.retx, "age", ch.e.cfg.Now().Sub(f.sent).String())
	}
	for i := 0; i < f.n; i++ {
		c := f.first + uint64(i)
		if seq, ok := ch.flightOf[c]; ok && seq == f.seq {
			delete(ch.flightOf, c)
			if !ch.peerHas.has(c) {
				ch.retx = append(ch.retx, c)
			}
		}
	}
	ch.inflightBytes -= f.bytes
	f.done = true
}
