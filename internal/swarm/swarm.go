package swarm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/ppsp"
	"github.com/swarmgate/swarmgate/internal/store"
)

// Mode is what a swarm member does besides downloading.
type Mode int

const (
	// ModePeer downloads and uploads: a desktop peer, a seeder, a booster.
	ModePeer Mode = iota
	// ModeLeech downloads only (a phone): it never uploads DATA, never sends
	// HAVE, chokes every peer, never answers PEX, and closes every channel
	// once complete.
	ModeLeech
)

// SwarmConfig describes one swarm to join.
type SwarmConfig struct {
	// Store holds the content and its verification state. Required; its
	// Info gives the swarm ID, hash function and chunk size.
	Store store.Swarm
	// Mode selects what the engine does for this swarm. Default ModePeer.
	Mode Mode
	// StreamWindow is the number of chunks after the playhead fetched in
	// order before rarest-first applies. Default: 4 MiB worth of chunks.
	StreamWindow int
	// SuperSeed makes a complete swarm show each peer only part of what it
	// holds, so that every chunk is uploaded about once and the peers
	// spread the rest among themselves (superseed.go): a source that
	// publishes. Peers see the whole content only one after another.
	SuperSeed bool
}

// Swarm is the engine's view of one swarm. Its methods are safe for
// concurrent use.
type Swarm struct {
	e    *Engine
	id   []byte
	st   store.Swarm
	tree *merkle.Tree
	mode Mode

	window   uint64
	playhead uint64
	hold     bool   // fetch only the playhead's window (SetHold)
	holdEnd  uint64 // and, while hold is on, nothing at or past this chunk if > 0 (SetHoldEnd)
	jumped   bool   // the playhead jumped: refocus the requests (SetPlayhead)

	// Super-seeding (superseed.go).
	superSeed   bool
	superGiven  *bitset // chunks shown to some peer or sent
	superCursor uint64  // below it every chunk was given
	superRegive []span  // chunks to show again, from the latest scan
	superScanAt time.Time
	superFull   bool     // some peer held every chunk: nothing is uncovered
	superCover  []uint64 // scratch of superUncovered

	// Download state; nil until the size is known.
	have        *bitset
	nhave       uint64
	reqd        *bitset             // chunks requested from some peer
	req         map[uint64]*request // outstanding requests
	sizeProbe   *channel            // the channel asked for a chunk to learn the size
	sizeProbeAt time.Time
	probeSpan   span // the chunks sizeProbe was asked for
	lastExpire  time.Time
	lastHaves   time.Time
	recent      []span // verified since the last HAVE round

	storedHashes []merkle.Node // hashes from the store, applied once the size is known (flat trees)
	paged        bool          // the tree reads and writes the store's hashes itself

	channels       map[uint32]*channel
	banned         map[string]time.Time
	known          map[string]net.Addr // peers heard of (PEX, Connect), not all connected
	fromPeer       map[string]uint64   // verified content bytes by sender (net.Addr.String()) of closed channels
	lastConnectTry map[string]time.Time

	idleSince time.Time // when the last channel went; zero while there are channels
	released  bool      // the tree's cached pages were dropped while idle
	dormant   bool      // released with nothing to do: ticked once a second (wake clears it)
	inActive  bool      // in e.active

	done     chan struct{}
	complete bool
	closed   bool
	err      error

	stats SwarmStats
}

// request is an outstanding REQUEST of one chunk.
type request struct {
	owners [2]*channel // a second owner only in endgame
	at     time.Time
}

// SwarmStats counts a swarm's traffic.
type SwarmStats struct {
	ChunksVerified   uint64 // chunks verified and stored this session
	ChunksServed     uint64 // DATA messages sent (including retransmissions)
	HashesSent       uint64 // INTEGRITY messages sent
	Retransmits      uint64
	Timeouts         uint64 // retransmission timeouts
	SpuriousTimeouts uint64 // of them, undone: the original was acknowledged after all
	TimeoutLosses    uint64 // datagrams found lost when a probe was acknowledged and nothing older followed
	Forgotten        uint64 // chunks held, found damaged in the store, fetched again (Forget)
	Reshown          uint64 // super-seeding: chunks shown again, their first peer gone
	Duplicates       uint64 // verified chunks received that we had already
	Unverifiable     uint64 // chunks held (not stored) for want of an uncle hash
	Nacks            uint64 // repeated REQUESTs taken as word of a loss
	NackProbes       uint64 // repeated REQUESTs for what nothing later overtook, answered by a probe
	PeersDropped     uint64 // peers closed for failing verification or the protocol
	BytesDownloaded  uint64 // content bytes verified
	BytesUploaded    uint64 // content bytes sent
}

// Add joins a swarm. Its content and state come from cfg.Store; verified
// hashes are restored from it without re-hashing.
func (e *Engine) Add(cfg SwarmConfig) (*Swarm, error) {
	if cfg.Store == nil {
		return nil, errors.New("swarm: SwarmConfig.Store is required")
	}
	info := cfg.Store.Info()
	opts := merkle.Options{HashFunc: merkle.HashFunc(info.HashFunc), ChunkSize: int(info.ChunkSize)}
	var paged bool
	inner := cfg.Store
	for {
		u, ok := inner.(interface{ Unwrap() store.Swarm })
		if !ok {
			break
		}
		inner = u.Unwrap() // a wrapper (stream.Swarm) over the real store
	}
	if ns, ok := inner.(merkle.NodeStore); ok {
		if _, ok := inner.(store.HashReader); ok {
			// The tree stays in the store's file, read through the
			// engine's bounded cache; hashes verified are written through.
			opts.Nodes, opts.Cache, paged = ns, e.cache, true
		}
	}
	tree, err := merkle.New(info.SwarmID, opts)
	if err != nil {
		return nil, err
	}
	// Content hashed in this process (InPlace: a publisher's file) hands
	// its complete tree over rather than a copy of it (40 MiB for 1 GiB).
	if ip, ok := inner.(*inPlace); ok && !paged && bytes.Equal(ip.tree.Root(), info.SwarmID) {
		tree = ip.tree
	}
	s := &Swarm{
		e:              e,
		id:             bytes.Clone(info.SwarmID),
		st:             cfg.Store,
		tree:           tree,
		mode:           cfg.Mode,
		superSeed:      cfg.SuperSeed && cfg.Mode == ModePeer,
		channels:       make(map[uint32]*channel),
		banned:         make(map[string]time.Time),
		known:          make(map[string]net.Addr),
		fromPeer:       make(map[string]uint64),
		lastConnectTry: make(map[string]time.Time),
		done:           make(chan struct{}),
		req:            make(map[uint64]*request),
		paged:          paged,
	}
	s.window = uint64(cfg.StreamWindow)
	if s.window == 0 {
		s.window = uint64(4<<20) / uint64(info.ChunkSize)
	}
	if err := s.restore(info); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("swarm: engine stopped")
	}
	if e.swarms[string(s.id)] != nil {
		return nil, fmt.Errorf("swarm: %x already added", s.id)
	}
	e.swarms[string(s.id)] = s
	s.wake()
	return s, nil
}

// restore rebuilds the tree and chunk map from the store. With the size
// known, stored hashes go straight into the sized tree: collected first,
// as they were, a complete 256 MiB tree (a publisher's, in the tab) cost
// 94 MiB of transient Node values and hash copies for its 10 MiB.
func (s *Swarm) restore(info store.Info) error {
	cs := int64(info.ChunkSize)
	if info.Length <= 0 {
		if !s.paged { // kept until the peaks give the size (sizeKnown)
			err := s.st.Hashes(func(bin uint64, h []byte) {
				s.storedHashes = append(s.storedHashes, merkle.Node{Bin: merkle.Bin(bin), Hash: bytes.Clone(h)})
			})
			if err != nil {
				return fmt.Errorf("swarm: restore hashes: %w", err)
			}
		}
		return nil
	}
	n := uint64((info.Length + cs - 1) / cs)
	if l, ok := s.tree.Length(); ok && l == info.Length && s.tree.NumChunks() == n {
		s.sizeKnown() // a complete tree handed over (Add)
		return nil
	}
	exact := int64(-1)
	if s.st.Have(n - 1) {
		exact = info.Length
	}
	if err := s.tree.Restore(n, exact); err != nil {
		return fmt.Errorf("swarm: restore: %w", err)
	}
	if !s.paged {
		err := s.st.Hashes(func(bin uint64, h []byte) {
			if b := merkle.Bin(bin); !s.tree.Known(b) {
				s.tree.Put(b, h) // copied; a bin out of range is dropped
			}
		})
		if err != nil {
			return fmt.Errorf("swarm: restore hashes: %w", err)
		}
	}
	s.sizeKnown()
	return nil
}

// sizeKnown allocates the chunk maps once the tree knows its size, and
// applies stored hashes and verified ranges.
func (s *Swarm) sizeKnown() {
	n := s.tree.NumChunks()
	s.have = newBitset(n)
	if s.superSeed {
		s.superGiven = newBitset(n)
	}
	for _, h := range s.storedHashes {
		if !s.tree.Known(h.Bin) {
			s.tree.Put(h.Bin, h.Hash)
		}
	}
	s.storedHashes = nil
	if !s.tree.PeaksKnown() {
		// A store written before peaks were stored: derive them from the
		// nodes below when they are there (a completed download is).
		// (Only Add gets here, before the swarm is shared: no engine
		// scratch buffers.)
		newly, err := s.tree.DerivePeaks(nil)
		if err != nil {
			s.e.log.Warn("stored hashes do not hash to the root", "swarm", s, "err", err)
		}
		if s.paged {
			newly = nil // written through already
		}
		var ids []uint64
		var buf []byte
		for _, b := range newly {
			ids = append(ids, uint64(b))
			buf = append(buf, s.tree.Hash(b)...)
		}
		if len(ids) > 0 {
			if err := s.st.PutHashes(ids, buf); err != nil {
				s.e.log.Warn("storing derived peak hashes", "swarm", s, "err", err)
			}
		}
	}
	for _, r := range s.st.Verified() {
		if r.End >= n {
			r.End = n - 1
		}
		s.have.setRange(r.Start, r.End)
	}
	s.nhave = s.have.count()
	if s.nhave < n {
		// Picker state, only while something is missing: a seeder never
		// needs it.
		s.reqd = newBitset(n)
	}
	for _, ch := range s.channels {
		ch.sizeKnown()
	}
	if p := s.sizeProbe; p != nil && s.reqd != nil && p.state == stateOpen && s.probeSpan.first < n {
		// The probe asked for more than the chunk that proved the size:
		// the rest is on its way, so the picker must not ask again.
		for c := s.probeSpan.first; c <= min(s.probeSpan.last, n-1); c++ {
			if s.have.has(c) || s.req[c] != nil {
				continue
			}
			if p.outstanding <= 0 {
				p.reqSince = s.sizeProbeAt
			}
			s.req[c] = &request{owners: [2]*channel{p, nil}, at: s.sizeProbeAt}
			s.reqd.set(c)
			p.outstanding++
		}
	}
	s.checkComplete()
	// Every open channel can be asked for chunks now, not at the next tick.
	s.askNow()
}

// ID returns the swarm ID (root hash).
func (s *Swarm) ID() []byte { return s.id }

// String names the swarm in logs.
func (s *Swarm) String() string { return hex.EncodeToString(s.id) }

// Done is closed when every chunk is verified and stored.
func (s *Swarm) Done() <-chan struct{} { return s.done }

// Err returns the error that stopped the swarm (a store failure), if any.
func (s *Swarm) Err() error {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.err
}

// Progress returns verified and total chunks (total 0 while unknown).
func (s *Swarm) Progress() (have, total uint64) {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.nhave, s.tree.NumChunks()
}

// Length returns the content length once known.
func (s *Swarm) Length() (int64, bool) {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	if l, ok := s.tree.Length(); ok {
		return l, true
	}
	return 0, false
}

// Stats returns the swarm's counters.
func (s *Swarm) Stats() SwarmStats {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.stats
}

// SetPlayhead tells the picker where playback is: chunks from there on are
// fetched in order first.
//
// A jump (a seek: before the playhead, or past its window) cancels the
// requests outside the new window and asks for the new window at once:
// peers serve requests in order (RFC 7574 §3.7), so the chunks a player
// now waits for would otherwise come after the whole pipeline.
func (s *Swarm) SetPlayhead(chunk uint64) {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	jump := chunk < s.playhead || chunk >= s.playhead+s.window
	s.playhead = chunk
	if !jump {
		return
	}
	s.wake()
	if s.tree.NumChunks() == 0 || s.closed {
		s.jumped = true // refocused once the size is known (tick)
		return
	}
	// Cancel what is outside the new window and ask for the new position
	// now, not at the next tick (20 ms, more in a busy tab).
	s.refocus()
	s.askNow()
}

// askNow tops up every open channel's requests at once. Under e.mu.
func (s *Swarm) askNow() {
	if s.complete || s.closed {
		return
	}
	now := s.e.cfg.Now()
	for _, ch := range s.channels {
		if ch.state == stateOpen {
			ch.topUp(now)
			ch.flush()
		}
	}
}

// refocus, after a jump, cancels every request outside the playhead's new
// window, so that topUp can fill the pipelines from there.
func (s *Swarm) refocus() {
	s.jumped = false
	n := s.tree.NumChunks()
	if n == 0 || s.have == nil {
		return
	}
	start := s.have.nextClear(min(s.playhead, n-1), n)
	end := min(start+s.window, n)
	var drop []uint64
	for c := range s.req {
		if c < start || c >= end {
			drop = append(drop, c)
		}
	}
	slices.Sort(drop)
	touched := map[*channel]bool{}
	for _, c := range drop {
		r := s.req[c]
		for _, o := range r.owners {
			if o != nil && s.disown(c, r, o) {
				o.queueCancel(c)
				touched[o] = true
			}
		}
	}
	for ch := range touched {
		ch.flush()
	}
}

// Forget drops chunk c from what the swarm holds, so that it is fetched
// again (at once if it is at the playhead): the store found it damaged
// when reading it back (a chunk an earlier session stored that no longer
// re-verifies, blobstore.ErrCorrupt). It reports whether the chunk will
// be fetched: a complete swarm has closed or stopped asking its peers, so
// it does not forget, and its reader fails instead.
func (s *Swarm) Forget(c uint64) bool {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	if s.complete || s.closed || s.have == nil || c >= s.tree.NumChunks() || !s.have.has(c) {
		return false
	}
	s.have.clear(c)
	s.nhave--
	s.stats.Forgotten++
	s.wake()
	return true
}

// SetHold, while on, limits fetching to the streaming window after the
// playhead: a player that has not shown its first frame yet gets the
// machine's CPU and the link for what it needs first, not for the rest of
// the file. Off (the default) fetches everything.
func (s *Swarm) SetHold(on bool) {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	s.hold = on
	if !on {
		s.holdEnd = 0
		s.wake() // the engine's active list: under its lock
		s.askNow()
	}
}

// SetHoldEnd narrows a hold (SetHold) to the chunks before end: a player
// that knows which bytes its next frame needs (a seek's, the first one)
// gets them and then a quiet tab, not the hold window's 1 MiB more to
// verify while it decodes. The playhead past end (a read beyond it)
// gets the hold window as before. 0 ends the narrowing.
func (s *Swarm) SetHoldEnd(end uint64) {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	old := s.holdEnd
	s.holdEnd = end
	if end == 0 || end > old {
		s.wake()
		s.askNow()
	}
}

// PeerInfo describes a channel.
type PeerInfo struct {
	Addr     net.Addr
	Open     bool
	Seeder   bool   // the peer has every chunk (holds a full copy)
	Chunks   uint64 // chunks the peer has, by its HAVE and ACK messages
	Uploaded uint64 // content bytes we sent it
	// Downloaded counts content bytes from it that verified and were
	// stored (duplicates not counted).
	Downloaded uint64
	Libswift   bool // it was sent the libswift-compatible handshake
}

// maxFromPeer bounds the senders DownloadedFrom remembers.
const maxFromPeer = 1024

// DownloadedFrom reports the verified content bytes received from each
// peer (by its address's String()), including peers whose channel has
// closed, for at most the first 1024 senders.
func (s *Swarm) DownloadedFrom() map[string]uint64 {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	out := make(map[string]uint64, len(s.fromPeer)+len(s.channels))
	for k, v := range s.fromPeer {
		out[k] = v
	}
	for _, ch := range s.channels {
		if ch.downloaded > 0 {
			out[ch.addr.String()] += ch.downloaded
		}
	}
	return out
}

// keepDownloaded folds what a closing channel delivered into fromPeer (per
// chunk it is counted on the channel only: an address's String() per
// chunk is too dear).
func (s *Swarm) keepDownloaded(ch *channel) {
	if ch.downloaded == 0 {
		return
	}
	if k := ch.addr.String(); len(s.fromPeer) < maxFromPeer || s.fromPeer[k] > 0 {
		s.fromPeer[k] += ch.downloaded
	}
}

// Peers lists the swarm's channels.
func (s *Swarm) Peers() []PeerInfo {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	var out []PeerInfo
	for _, ch := range s.channels {
		out = append(out, PeerInfo{
			Addr: ch.addr, Open: ch.state == stateOpen, Seeder: ch.peerSeeder(),
			Chunks: ch.peerCount, Uploaded: ch.uploaded, Downloaded: ch.downloaded, Libswift: !ch.rfc,
		})
	}
	return out
}

// Connect opens a channel to addr, unless one exists or it is banned.
func (s *Swarm) Connect(addr net.Addr) error {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	if s.closed {
		return errors.New("swarm: closed")
	}
	s.known[addrKey(addr)] = addr
	s.wake()
	return s.connect(addr)
}

func (s *Swarm) connect(addr net.Addr) error {
	if s.complete && s.mode == ModeLeech {
		return nil
	}
	for _, ch := range s.channels {
		if addrEqual(ch.addr, addr) {
			return nil
		}
	}
	if s.isBanned(addr) {
		return fmt.Errorf("swarm: %v is banned", addr)
	}
	if len(s.channels) >= s.e.cfg.MaxPeers {
		return errors.New("swarm: too many peers")
	}
	if la := s.e.conn.LocalAddr(); la != nil && addrEqual(la, addr) {
		return nil // ourselves
	}
	if len(s.lastConnectTry) >= 4096 {
		clear(s.lastConnectTry)
	}
	s.lastConnectTry[addrKey(addr)] = s.e.cfg.Now()
	ch, err := s.newChannel(addr, true)
	if err != nil {
		return err
	}
	ch.sendHandshake()
	return nil
}

// Close leaves the swarm: every channel gets an explicit close.
func (s *Swarm) Close() error {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	s.leave()
	return nil
}

func (s *Swarm) leave() {
	if s.closed {
		return
	}
	for _, ch := range s.channels {
		ch.close("left swarm", true)
	}
	s.closed = true
	delete(s.e.swarms, string(s.id))
	s.tree.Release()
}

func (s *Swarm) isBanned(a net.Addr) bool {
	t, ok := s.banned[addrKey(a)]
	if ok && s.e.cfg.Now().After(t) {
		delete(s.banned, addrKey(a))
		return false
	}
	return ok
}

func (s *Swarm) ban(a net.Addr) {
	now := s.e.cfg.Now()
	if len(s.banned) >= maxBanned {
		for k, until := range s.banned {
			if now.After(until) {
				delete(s.banned, k)
			}
		}
		if len(s.banned) >= maxBanned {
			clear(s.banned) // a flood of liars: start over rather than grow
		}
	}
	s.banned[addrKey(a)] = now.Add(10 * time.Minute)
	delete(s.known, addrKey(a))
}

// idle drops the tree's cached pages once the swarm has been without
// channels for Config.IdleRelease; the first request reads them again.
func (s *Swarm) idle(now time.Time) {
	if len(s.channels) > 0 {
		s.idleSince, s.released = time.Time{}, false
		return
	}
	if s.idleSince.IsZero() {
		s.idleSince = now
		return
	}
	if d := s.e.cfg.IdleRelease; d > 0 && !s.released && now.Sub(s.idleSince) >= d {
		s.tree.Release()
		s.released = true
		s.e.freeMemory = true
	}
}

// wake makes a dormant swarm ticked every round again (a channel comes, a
// peer to connect to); e.mu is held.
func (s *Swarm) wake() {
	s.dormant = false
	if !s.inActive {
		s.inActive = true
		s.e.active = append(s.e.active, s)
	}
}

// maxBanned bounds the ban list of a swarm.
const maxBanned = 4096

// fail stops the swarm after a local error (a store failure: full disk).
func (s *Swarm) fail(err error) {
	if s.err == nil {
		s.err = err
		s.e.log.Error("swarm stopped", "swarm", s, "err", err)
		s.leave()
		s.closeDone()
	}
}

func (s *Swarm) closeDone() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

func (s *Swarm) checkComplete() {
	n := s.tree.NumChunks()
	if n == 0 || s.nhave < n || s.complete {
		return
	}
	s.complete = true
	if err := s.st.Flush(); err != nil {
		s.fail(fmt.Errorf("swarm: flush: %w", err))
		return
	}
	for c, r := range s.req {
		for _, o := range r.owners {
			if o != nil {
				o.outstanding--
			}
		}
		delete(s.req, c)
	}
	s.closeDone()
	if s.mode == ModeLeech {
		// A finished phone goes quiet.
		for _, ch := range s.channels {
			ch.flush() // the last ACK (RFC 7574 §3.4: mandatory over UDP)
			ch.close("complete", true)
		}
	}
}

// onVerified records chunk c, verified and stored, received on from.
func (s *Swarm) onVerified(c uint64, from *channel) {
	s.have.set(c)
	s.nhave++
	s.stats.ChunksVerified++
	if r := s.req[c]; r != nil {
		for _, o := range r.owners {
			if o == nil {
				continue
			}
			o.outstanding--
			if o != from {
				o.queueCancel(c)
			}
		}
		delete(s.req, c)
	}
	s.reqd.clear(c)
	// Announced to every peer at the next HAVE round (flushHaves).
	if k := len(s.recent); k > 0 && s.recent[k-1].last+1 == c {
		s.recent[k-1].last = c
	} else if k < maxRecent {
		s.recent = append(s.recent, span{c, c})
	}
}

// maxRecent bounds the chunk ranges waiting for a HAVE round.
const maxRecent = 4096

// haveInterval is the HAVE round period: newly verified chunks are
// announced to every peer, coalesced, at most this often.
const haveInterval = 50 * time.Millisecond

// flushHaves announces newly verified chunks to open channels (RFC 7574
// §3.2). Seeders get them too, unlike the RFC's SHOULD NOT: a seeder that
// knows what we hold skips the uncle hashes we already have (§5.4), which
// keeps hash overhead down with several seeders. A leecher tells only
// seeders: they can ask it for nothing, so it invites no uploads.
func (s *Swarm) flushHaves() {
	if len(s.recent) == 0 {
		return
	}
	for _, ch := range s.channels {
		if ch.state != stateOpen || (s.mode == ModeLeech && !ch.peerSeeder()) {
			continue
		}
		for _, sp := range s.recent {
			ch.specMsg(ppsp.MsgHave, sp.first, sp.last, 0)
		}
		ch.flush()
	}
	s.recent = s.recent[:0]
}

// release forgets every request owned by ch, so others can take them.
func (s *Swarm) release(ch *channel) {
	for c, r := range s.req {
		s.disown(c, r, ch)
	}
	ch.outstanding = 0
}

// disown removes ch from the owners of request r (of chunk c), forgetting
// the request when nobody owns it any more. It reports whether ch owned it.
func (s *Swarm) disown(c uint64, r *request, ch *channel) bool {
	owned := false
	for i, o := range r.owners {
		if o == ch {
			r.owners[i] = nil
			ch.outstanding--
			owned = true
		}
	}
	if r.owners[0] == nil && r.owners[1] == nil {
		delete(s.req, c)
		s.reqd.clear(c)
	} else if r.owners[0] == nil {
		r.owners[0], r.owners[1] = r.owners[1], nil
	}
	return owned
}

func (s *Swarm) tick(now time.Time) {
	if len(s.channels) == 0 && len(s.req) == 0 && len(s.recent) == 0 && (s.complete || len(s.known) == 0) {
		// Idle: nothing to send, expire or connect to. (Ranging over an
		// empty map costs more than this whole check; a node holding
		// thousands of idle swarms runs this for each every tick.)
		s.idle(now)
		s.dormant = s.released
		return
	}
	s.dormant = false
	if s.jumped {
		s.refocus()
	}
	for _, ch := range s.channels {
		ch.tick(now)
	}
	s.idle(now)
	if s.closed || (s.complete && s.mode == ModeLeech) {
		return
	}
	if now.Sub(s.lastHaves) >= haveInterval {
		s.lastHaves = now
		s.flushHaves()
	}
	if now.Sub(s.lastExpire) > time.Second {
		s.lastExpire = now
		s.expireRequests(now)
	}
	// Connect to peers we heard of while we have room.
	if len(s.channels) < s.e.cfg.MaxPeers && !s.complete {
		for k, a := range s.known {
			if len(s.channels) >= s.e.cfg.MaxPeers {
				break
			}
			if now.Sub(s.lastConnectTry[k]) < 10*time.Second {
				continue
			}
			s.connect(a)
		}
	}
}
