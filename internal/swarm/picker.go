package swarm

import (
	"os"
	"slices"
	"time"

	"github.com/swarmgate/swarmgate/internal/ppsp"
)

// Request windows, in chunks per peer.
const (
	minReqWindow = 16
	maxReqWindow = 8192
	// initReqWindow is a new peer's window (64 before: with the sender's
	// 32 KiB initial window and faster slow start, requests, which reach
	// it half a round trip late and are topped up at half the window,
	// were what it waited for). It grows by reqWindowGrowth per chunk
	// received, doubling per round trip; 2 per chunk filled the path no
	// faster and, on loopback with a starved receiver, made runs with lost
	// datagrams more frequent (bench transfer overhead above 3% in 13 of
	// 37 runs, against 2 of 16 with 1, and 6 of 32 before).
	initReqWindow   = 128
	reqWindowGrowth = 1
	// probeChunks is how many chunks the request that learns the size
	// asks for.
	probeChunks = 64
)

// lastResortWindow is the request window of a last-resort peer while
// others deliver (LastResorter): enough to keep the chunks at the
// playhead coming, too few to carry much of the content.
const lastResortWindow = minReqWindow

// othersDeliver reports whether a peer other than ch, not itself of last
// resort, is open, unchoked, holds every chunk and delivered some within
// requestTimeout (or, new, has had less than that to start). Only
// seeders count: a peer with part of the content (a browser watching
// too) would otherwise hold the gateway back for what it cannot give.
func (s *Swarm) othersDeliver(ch *channel, now time.Time) bool {
	for _, o := range s.channels {
		if o == ch || o.lastResort || o.state != stateOpen || o.peerChoking || !o.peerSeeder() {
			continue
		}
		ref := o.lastData
		if ref.IsZero() {
			ref = o.opened
		}
		if now.Sub(ref) < requestTimeout {
			return true
		}
	}
	return false
}

// shed gives up all but the keep lowest-numbered (most urgent) requests
// owned by ch and cancels them there: a last-resort peer asked for much
// before another peer could deliver hands the rest over.
func (s *Swarm) shed(ch *channel, keep int) {
	var mine []uint64
	for c, r := range s.req {
		if r.owners[0] == ch || r.owners[1] == ch {
			mine = append(mine, c)
		}
	}
	if len(mine) <= keep {
		return
	}
	slices.Sort(mine)
	for _, c := range mine[keep:] {
		s.disown(c, s.req[c], ch)
		ch.queueCancel(c)
	}
	ch.flush()
}

// requestTimeout is how long a peer may leave our requests unanswered
// before they go to others.
const requestTimeout = 3 * time.Second

// staleRequest is the age at which one request is given up and picked again.
const staleRequest = 10 * time.Second

// topUp keeps the peer's request pipeline full.
func (ch *channel) topUp(now time.Time) {
	s := ch.s
	if ch.state != stateOpen || s.complete || s.closed || ch.peerChoking || s.err != nil {
		return
	}
	if s.tree.NumChunks() == 0 {
		// Ask one peer for the first chunks: the reply carries the peak
		// hashes, which prove the content size (RFC 7574 §5.3). A whole
		// request window, not one chunk, so the peer's first congestion
		// window goes out at once instead of a round trip later; they
		// count as requested once the size is known (Swarm.sizeKnown).
		// A peer that announced chunks takes the probe over from one that
		// announced none (a peer as new as we are, which would leave it
		// unanswered until the retry).
		blind := s.sizeProbe != nil && len(s.sizeProbe.pendingHave) == 0 && len(ch.pendingHave) > 0
		if s.sizeProbe == nil || s.sizeProbe.state == stateClosed || now.Sub(s.sizeProbeAt) > 2*time.Second || blind {
			s.sizeProbe, s.sizeProbeAt = ch, now
			c, end := uint64(0), uint64(probeChunks-1)
			if len(ch.pendingHave) > 0 {
				c = ch.pendingHave[0].Start
				end = min(ch.pendingHave[0].End, c+probeChunks-1)
			}
			s.probeSpan = span{c, end}
			ch.specMsg(ppsp.MsgRequest, c, end, 0)
		}
		return
	}
	win := ch.reqWindow
	if ch.lastResort && s.othersDeliver(ch, now) {
		win = min(win, lastResortWindow)
		if ch.outstanding > 2*win {
			s.shed(ch, win)
		}
	}
	if ch.outstanding > win/2 {
		return
	}
	picks := s.pick(ch, win-ch.outstanding, s.e.pickBuf[:0])
	s.e.pickBuf = picks[:0]
	if len(picks) == 0 {
		return
	}
	if ch.outstanding <= 0 {
		ch.reqSince = now
	}
	for i := 0; i < len(picks); {
		j := i + 1
		for j < len(picks) && picks[j] == picks[j-1]+1 {
			j++
		}
		ch.specMsg(ppsp.MsgRequest, picks[i], picks[j-1], 0)
		i = j
	}
	for _, c := range picks {
		if r := s.req[c]; r != nil {
			r.owners[1] = ch // endgame duplicate
		} else {
			s.req[c] = &request{owners: [2]*channel{ch, nil}, at: now}
			s.reqd.set(c)
		}
		ch.outstanding++
	}
}

// pick chooses up to max chunks to request from ch: first in order from the
// playhead through the streaming window, then rarest first beyond it
// (lowest index among equals), then, when everything missing is already
// requested, duplicates of others' requests (endgame).
func (s *Swarm) pick(ch *channel, max int, out []uint64) []uint64 {
	n := s.tree.NumChunks()
	if max <= 0 || n == 0 {
		return out
	}
	// The last chunk first while the length is unknown: its size makes
	// the content's exact length known, which a player needs at once (the
	// Service Worker's Content-Range, MediaSource's duration, /raw/'s
	// Content-Length). One chunk, so streaming from the playhead waits
	// for nothing.
	if _, ok := s.tree.Length(); !ok {
		k := len(out)
		if out = s.scan(ch, n-1, n, 1, out); len(out) > k {
			// Picked: the scans below must not pick it again, and it
			// stays first, so that the peer, which serves requests in
			// order, sends it before the window.
			out = s.pickAfter(ch, max-1, out)
			slices.Sort(out[k:])
			out = slices.Compact(out)
			last := len(out) - 1 // n-1, the largest
			copy(out[k+1:], out[k:last])
			out[k] = n - 1
			return out
		}
	}
	return s.pickAfter(ch, max, out)
}

// holdWindow is the streaming window while SetHold is on: what a player
// needs for its first frame, fetched with the least work for the tab.
const holdWindow = 1 << 20

// pickAfter is pick's body: the playhead's window, rarest first, endgame.
func (s *Swarm) pickAfter(ch *channel, max int, out []uint64) []uint64 {
	n := s.tree.NumChunks()
	if max <= 0 {
		return out
	}
	ph := min(s.playhead, n-1)
	start := s.have.nextClear(ph, n)
	win := s.window
	if s.hold {
		win = min(win, uint64(holdWindow/s.tree.ChunkSize()))
	}
	end := min(start+win, n)
	if s.hold && s.holdEnd > 0 && ph < s.holdEnd {
		// Only what the player's next frame needs (SetHoldEnd); nothing
		// once that is held.
		end = min(end, s.holdEnd)
		if end < start {
			end = start
		}
	}
	out = s.scan(ch, start, end, max, out)
	if len(out) >= max || s.hold {
		return out
	}
	// Rarest first over a bounded horizon of candidates.
	horizon := 4 * (max - len(out))
	if horizon < 4096 {
		horizon = 4096
	}
	cands := s.e.candBuf[:0]
	cands = s.scan(ch, end, n, horizon, cands)
	if len(cands) < horizon {
		cands = s.scan(ch, 0, min(start, n), horizon-len(cands), cands)
	}
	s.rarestFirst(cands)
	for _, c := range cands {
		if len(out) >= max {
			break
		}
		out = append(out, c)
	}
	s.e.candBuf = cands[:0]
	slices.Sort(out)
	if len(out) > 0 {
		return out
	}
	if missing := n - s.nhave; missing > 2*minReqWindow || ch.outstanding > 0 {
		return out
	}
	// Endgame: the last chunks are all requested and this peer is idle:
	// ask it too (at most two owners a chunk; the loser gets a CANCEL).
	for c, r := range s.req {
		if len(out) >= max || len(out) >= 2*minReqWindow {
			break
		}
		if r.owners[1] == nil && r.owners[0] != ch && ch.peerHas.has(c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// rarestFirst orders candidate chunks by how many peers have them, fewest
// first, lowest index among equals (cands come in index order, and the
// sort is stable). Availability is counted here, over the candidates only,
// rather than kept per chunk (2 bytes a chunk: 8 MiB for 4 GiB): seeders
// have every chunk and add the same to each count, so only the peers
// still downloading are counted, and with none of them (one seeder, or
// only seeders: the common case) the index order is the order.
func (s *Swarm) rarestFirst(cands []uint64) {
	if len(cands) < 2 {
		return
	}
	partial := s.e.partialBuf[:0]
	for _, ch := range s.channels {
		if ch.peerHas != nil && ch.peerCount > 0 && !ch.peerSeeder() {
			partial = append(partial, ch)
		}
	}
	s.e.partialBuf = partial[:0]
	if len(partial) == 0 {
		return
	}
	avail := s.e.availBuf[:0]
	uniform := true
	for _, c := range cands {
		a := uint32(0)
		for _, ch := range partial {
			if ch.peerHas.has(c) {
				a++
			}
		}
		avail = append(avail, a)
		uniform = uniform && a == avail[0]
	}
	if !uniform {
		idx := s.e.idxBuf[:0]
		for i := range cands {
			idx = append(idx, i)
		}
		slices.SortStableFunc(idx, func(a, b int) int { return int(avail[a]) - int(avail[b]) })
		sorted := s.e.sortBuf[:0]
		for _, i := range idx {
			sorted = append(sorted, cands[i])
		}
		copy(cands, sorted)
		s.e.idxBuf, s.e.sortBuf = idx[:0], sorted[:0]
	}
	for i := range partial {
		partial[i] = nil // no references kept past the call
	}
	s.e.availBuf = avail[:0]
}

// scan appends chunks in [from, to) that ch has and nobody is fetching.
func (s *Swarm) scan(ch *channel, from, to uint64, max int, out []uint64) []uint64 {
	if from >= to || max <= 0 {
		return out
	}
	for w := from >> 6; w <= (to-1)>>6 && max > 0; w++ {
		m := ch.peerHas.word(w) &^ s.have.word(w) &^ s.reqd.word(w)
		if m == 0 {
			continue
		}
		for m != 0 && max > 0 {
			bit := uint64(trailingZeros(m))
			m &= m - 1
			c := w<<6 | bit
			if c < from || c >= to {
				continue
			}
			out = append(out, c)
			max--
		}
	}
	return out
}

// requestTimeouts hands a silent peer's requests to others.
func (s *Swarm) requestTimeouts(ch *channel, now time.Time) {
	if ch.outstanding <= 0 {
		return
	}
	ref := ch.lastData
	if ch.reqSince.After(ref) {
		ref = ch.reqSince
	}
	if now.Sub(ref) < requestTimeout {
		return
	}
	if debugSwarm {
		println("request timeout", ch.addr.String(), "outstanding", ch.outstanding, "window", ch.reqWindow, "reqs", len(s.req), "have", s.nhave)
	}
	s.release(ch)
	ch.reqWindow = max(minReqWindow, ch.reqWindow/4)
}

// reorderSlack is how far below the highest chunk delivered from a request
// batch a missing chunk of that batch must lie to count as overdue.
const reorderSlack = 32

// retryInterval paces re-sent REQUESTs.
const retryInterval = 50 * time.Millisecond

// retryRequests re-sends REQUESTs that were probably lost. A peer serves
// requests in order (RFC 7574 §3.7), so a chunk requested well before one
// that already arrived is overdue: its REQUEST or its DATA was lost (the
// sender retransmits lost DATA itself; a repeated REQUEST is harmless).
// When nothing arrives at all, every outstanding request is repeated.
func (s *Swarm) retryRequests(ch *channel, now time.Time) {
	if ch.outstanding <= 0 || now.Sub(ch.lastRetry) < retryInterval {
		return
	}
	idle := now.Sub(ch.lastData) > 4*retryInterval && now.Sub(ch.reqSince) > 4*retryInterval
	cutoff := ch.servedReqAt.Add(-retryInterval / 5)
	picks := s.e.pickBuf[:0]
	for c, r := range s.req {
		if r.owners[0] != ch && r.owners[1] != ch {
			continue
		}
		// Requested in the same batch as a chunk that came, at a lower
		// index (well below: retransmissions come late), is overdue too:
		// large batches on long paths would otherwise hide a loss until
		// the sender's timeout.
		sameBatch := !r.at.After(ch.servedReqAt) && c+reorderSlack < ch.servedIdx
		if idle || r.at.Before(cutoff) || sameBatch {
			picks = append(picks, c)
			r.at = now
		}
	}
	s.e.pickBuf = picks[:0]
	// The scan walks every outstanding request: at most once per interval
	// whether it found any (on every 20 ms tick it was a tenth of a tab's
	// CPU while downloading).
	ch.lastRetry = now
	if len(picks) == 0 {
		return
	}
	slices.Sort(picks)
	for i := 0; i < len(picks); {
		j := i + 1
		for j < len(picks) && picks[j] == picks[j-1]+1 {
			j++
		}
		ch.specMsg(ppsp.MsgRequest, picks[i], picks[j-1], 0)
		i = j
	}
}

// expireRequests drops requests older than staleRequest.
func (s *Swarm) expireRequests(now time.Time) {
	for c, r := range s.req {
		if now.Sub(r.at) < staleRequest {
			continue
		}
		for _, o := range r.owners {
			if o != nil {
				o.outstanding--
			}
		}
		delete(s.req, c)
		s.reqd.clear(c)
	}
}

var debugSwarm = os.Getenv("SWARMGATE_DEBUG") != ""
