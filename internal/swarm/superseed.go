package swarm

import (
	"math/bits"
	"time"

	"github.com/swarmgate/swarmgate/internal/ppsp"
)

// Serving each chunk about once (SwarmConfig.SuperSeed), for a source
// that should upload one copy and leave the rest to the peers it feeds:
// a phone publishing to boosters (issue 8). Like BitTorrent's super-seeding
// (BEP 16), the source does not announce everything it has. Each peer is
// shown, by HAVE, a slice of chunks nobody was shown yet, and more as it
// gets them; the peers announce what they receive to each other and fetch
// the rest there. Only when every chunk was shown once does a chunk go out
// again: one no open peer holds or is still fetching (its peer left before
// passing it on; never once a peer held everything: a complete peer closes
// its channel to us, and the others fetch from it), or, to a peer that got
// nothing from others for superStall, what it lacks (it reaches no other
// peer). A single peer sees the whole content
// in order, a slice ahead: super-seeding costs it nothing.
//
// A peer may still ask for chunks it was not shown (the size probe asks for
// the first ones blind): they are served, and count as shown.

const (
	// superSlice is the most chunks shown at once (one HAVE, aligned).
	superSlice = 256
	// superAhead bounds how many shown chunks a peer may lack before it is
	// shown more (4 MiB of 1 KiB chunks).
	superAhead = 4096
	// superStall is how long a peer may get nothing from others, having
	// fetched all it was shown, before it is served as by a plain seeder;
	// it is also how long a shown chunk counts as being fetched by a peer
	// that gets nothing.
	superStall = 2 * time.Second
	// superRescan is how often, at most, the source looks for chunks no
	// open peer holds once every chunk was shown.
	superRescan = 100 * time.Millisecond
	// superReshow is the least time a peer that lacks chunks it was shown
	// must have got nothing before their HAVEs go again (at least the
	// channel's retransmission timeout).
	superReshow = 250 * time.Millisecond
)

// superPeer is a channel's super-seeding state.
type superPeer struct {
	shown     []span // shown to the peer and not all held by it yet
	lacking   uint64 // chunks of shown the peer lacked after the last tick
	lastCount uint64 // its chunk count then
	grewAt    time.Time
	othersAt  time.Time // when it last got chunks we had not shown it
	alone     bool      // it gets nothing from others: shown what it lacks
	cursor    uint64    // where an alone peer's top-ups resume
	reshownAt time.Time // when shown's HAVEs last went again
}

// superTick shows the peer more chunks when it lacks fewer of those shown
// than it fetches in two round trips (and a slice). It runs every tick
// and on acknowledgements, so the peer's pipeline from us stays full.
func (ch *channel) superTick(now time.Time) {
	s := ch.s
	n := s.tree.NumChunks()
	if !s.superSeed || ch.state != stateOpen || n == 0 || ch.peerHas == nil || !s.complete {
		return
	}
	if ch.peerSeeder() {
		s.superFull = true
		return
	}
	sp := ch.super
	if sp == nil {
		sp = &superPeer{lastCount: ch.peerCount, grewAt: now, othersAt: now}
		ch.super = sp
	}
	lacking := uint64(0)
	k := 0
	for _, r := range sp.shown {
		if l := r.last - r.first + 1 - ch.peerHas.countIn(r.first, r.last); l > 0 {
			sp.shown[k] = r
			k++
			lacking += l
		}
	}
	sp.shown = sp.shown[:k]
	if grown := ch.peerCount - sp.lastCount; grown > 0 {
		sp.grewAt = now
		ours := sp.lacking - min(lacking, sp.lacking)
		if grown > ours {
			sp.othersAt, sp.alone = now, false
		}
	}
	sp.lastCount = ch.peerCount
	// A HAVE goes once, on a path that loses datagrams (UDP, a data
	// channel without retransmissions): a peer that lacks chunks it was
	// shown and has got nothing for a while may never have heard of them,
	// and would never ask. Without this, lost HAVEs counted as shown and
	// lacking for good, and once they reached ahead the source showed
	// nothing more: the upload stopped (a 32 MiB publish from a tab, at
	// 28.6 MiB). Peers ignore a HAVE of what they know.
	if wait := max(superReshow, ch.cc.rto()); lacking > 0 && now.Sub(sp.grewAt) >= wait && now.Sub(sp.reshownAt) >= wait {
		sp.reshownAt = now
		for _, r := range sp.shown {
			ch.specMsg(ppsp.MsgHave, r.first, r.last, 0)
		}
	}
	if !sp.alone && lacking == 0 && s.superCursor >= n && now.Sub(sp.othersAt) >= superStall {
		// It has fetched all we showed it, every chunk was shown to
		// someone, and for superStall nobody else gave it anything: it
		// reaches no other peer (yet). Serve it as a plain seeder would.
		sp.alone, sp.cursor = true, 0
		s.e.log.Debug("super-seeding: peer gets nothing from others", "peer", ch.addr, "swarm", s)
	}
	ahead := uint64(2*ch.cc.window()/ch.s.tree.ChunkSize()) + superSlice
	ahead = min(max(ahead, 2*superSlice), superAhead)
	for lacking < ahead {
		r, ok := s.superNext(ch, now)
		if !ok {
			break
		}
		sp.shown = append(sp.shown, r)
		lacking += r.last - r.first + 1 - ch.peerHas.countIn(r.first, r.last)
		ch.specMsg(ppsp.MsgHave, r.first, r.last, 0)
	}
	sp.lacking = lacking
}

// superNext picks the next chunks to show ch: never shown ones in order,
// then ones no open peer holds or fetches, then, to a peer alone, what it
// lacks.
func (s *Swarm) superNext(ch *channel, now time.Time) (span, bool) {
	n := s.tree.NumChunks()
	if c := s.superGiven.nextClear(s.superCursor, n); c < n {
		s.superCursor = c
		end := min(c|(superSlice-1), n-1)
		last := s.superGiven.nextSet(c, end+1) - 1
		s.superGiven.setRange(c, last)
		return span{c, last}, true
	}
	s.superCursor = n
	if !s.superFull && len(s.superRegive) == 0 && now.Sub(s.superScanAt) >= superRescan {
		s.superScanAt = now
		s.superRegive = s.superUncovered(now, s.superRegive[:0])
	}
	for len(s.superRegive) > 0 {
		r := s.superRegive[0]
		s.superRegive = s.superRegive[1:]
		if !ch.peerHas.all(r.first, r.last) {
			s.stats.Reshown += r.last - r.first + 1
			return r, true
		}
	}
	sp := ch.super
	if !sp.alone {
		return span{}, false
	}
	c := ch.peerHas.nextClear(sp.cursor, n)
	if c >= n {
		c = ch.peerHas.nextClear(0, n)
	}
	if c >= n {
		return span{}, false
	}
	end := min(c|(superSlice-1), n-1)
	last := ch.peerHas.nextSet(c, end+1) - 1
	sp.cursor = last + 1
	return span{c, last}, true
}

// superUncovered lists the chunks that no open peer holds nor was shown
// while it was making progress, in runs of at most superSlice.
func (s *Swarm) superUncovered(now time.Time, out []span) []span {
	n := s.tree.NumChunks()
	nw := (n + 63) / 64
	if uint64(cap(s.superCover)) < nw {
		s.superCover = make([]uint64, nw)
	}
	cov := s.superCover[:nw]
	clear(cov)
	for _, ch := range s.channels {
		if ch.state != stateOpen || ch.peerHas == nil {
			continue
		}
		for w := range cov {
			cov[w] |= ch.peerHas.word(uint64(w))
		}
		if sp := ch.super; sp != nil && now.Sub(sp.grewAt) < superStall {
			for _, r := range sp.shown {
				for c := r.first; c <= r.last; c++ {
					cov[c>>6] |= 1 << (c & 63)
				}
			}
		}
	}
	for c := uint64(0); c < n; {
		w := cov[c>>6] | (1<<(c&63) - 1)
		if w == ^uint64(0) {
			c = (c | 63) + 1
			continue
		}
		first := c&^63 + uint64(bits.TrailingZeros64(^w))
		if first >= n {
			break
		}
		last := first
		for last+1 < n && last+1-first < superSlice && cov[(last+1)>>6]&(1<<((last+1)&63)) == 0 {
			last++
		}
		out = append(out, span{first, last})
		c = last + 1
	}
	return out
}
