package swarm

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/ppsp"
)

// Config configures an Engine. Zero values pick the documented defaults.
type Config struct {
	// Conn is the datagram transport. Required.
	Conn net.PacketConn
	// Logger receives the engine's logs. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// MaxDatagram is the largest datagram sent to a non-loopback peer.
	// Default 1472 (an Ethernet MTU less IPv4 and UDP headers).
	MaxDatagram int
	// LoopbackDatagram is the largest datagram sent to a loopback peer.
	// Default 17000: sixteen 1 KiB chunks with their headers and hashes.
	LoopbackDatagram int
	// KeepAlive is the idle time after which a keep-alive is sent.
	// Default 20 s (libswift closes after 3×58 s of silence).
	KeepAlive time.Duration
	// DeadPeer is the silence after which a peer that was sent at least
	// three datagrams is declared dead (RFC 7574 §3.11). Default 3 min.
	DeadPeer time.Duration
	// HandshakeTimeout is how long an unanswered handshake is retried.
	// Default 30 s.
	HandshakeTimeout time.Duration
	// Compat selects the handshake sent to peers we connect to.
	// Default CompatAuto.
	Compat Compat
	// MaxPeers bounds the channels of one swarm. Default 64.
	MaxPeers int
	// Tick is the housekeeping period. Default 20 ms.
	Tick time.Duration
	// HashCache bounds the memory of the hash trees of every swarm whose
	// store keeps them in a file (store.HashReader, sqlitestore): they are
	// read on demand through one cache of at most this many bytes, so a
	// node seeding thousands of swarms stays within it. Default
	// merkle.DefaultCacheBytes (8 MiB).
	HashCache int
	// IdleRelease is how long a swarm must be without channels before its
	// hash-tree pages leave the cache (they are read again from the store
	// on the first request, so an idle swarm costs a few hundred bytes).
	// Default 30 s; negative: never.
	IdleRelease time.Duration
}

// PathSizer is implemented by a transport (Config.Conn) that knows the
// datagram size of some of its paths better than an address does: a WebRTC
// data channel carries messages of about 16 KiB whatever the peer's address.
// DatagramSize returns the largest datagram to send to addr, or 0 for the
// engine's default by address (MaxDatagram, LoopbackDatagram). A path the
// transport sizes carries only RFC 7574 peers (swarmgate's own engine), so
// they get the RFC handshake with the chunk-size option and never the
// libswift fallback.
type PathSizer interface {
	DatagramSize(addr net.Addr) int
}

// PathBlocker is implemented by a transport that queues datagrams per path
// and drops what it cannot queue: a WebRTC data channel's send buffer
// drains at the pace of its own congestion control, not ours. Blocked
// reports that a datagram to addr written now might be dropped. The engine
// then sends that peer no DATA until its next ACK or tick: a full buffer
// costs no retransmission and is not taken for congestion.
type PathBlocker interface {
	Blocked(addr net.Addr) bool
}

// LastResorter is implemented by a transport that knows some of its
// peers are to serve only what the others do not deliver: a gateway,
// listed to a client beside the boosters of a swarm (the peer of last
// resort, issue 6 §5). While another peer holding the whole content has
// delivered within requestTimeout, a last-resort peer is asked for at most
// lastResortWindow chunks at a time, the most urgent first (from the
// playhead); with no such peer it is asked as any other.
type LastResorter interface {
	LastResort(addr net.Addr) bool
}

// Compat selects which handshake the engine sends when it connects out.
type Compat int

const (
	// CompatAuto sends the RFC 7574 handshake with the chunk-size option
	// first and falls back to the libswift-compatible one if unanswered.
	CompatAuto Compat = iota
	// CompatLibswift never sends options libswift drops (7, 8, 9).
	CompatLibswift
	// CompatRFC always sends the chunk-size option.
	CompatRFC
)

func (c *Config) defaults() error {
	if c.Conn == nil {
		return errors.New("swarm: Config.Conn is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxDatagram == 0 {
		c.MaxDatagram = 1472
	}
	if c.LoopbackDatagram == 0 {
		c.LoopbackDatagram = 17000
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 20 * time.Second
	}
	if c.DeadPeer == 0 {
		c.DeadPeer = 3 * time.Minute
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 30 * time.Second
	}
	if c.MaxPeers == 0 {
		c.MaxPeers = 64
	}
	if c.IdleRelease == 0 {
		c.IdleRelease = 30 * time.Second
	}
	if c.Tick == 0 {
		c.Tick = 20 * time.Millisecond
	}
	if c.MaxDatagram < 600 || c.LoopbackDatagram < 600 || c.MaxDatagram > 65507 || c.LoopbackDatagram > 65507 {
		return fmt.Errorf("swarm: datagram sizes must be 600..65507 bytes")
	}
	return nil
}

// Engine runs the PPSP protocol for a set of swarms on one transport.
type Engine struct {
	cfg   Config
	conn  net.PacketConn
	paths PathSizer    // cfg.Conn as a PathSizer, or nil
	block PathBlocker  // cfg.Conn as a PathBlocker, or nil
	last  LastResorter // cfg.Conn as a LastResorter, or nil
	log   *slog.Logger

	mu       sync.Mutex
	swarms   map[string]*Swarm
	channels map[uint32]*channel
	closed   bool

	cache *merkle.NodeCache // of the trees kept in files (Config.HashCache)

	ticks      uint64    // housekeeping rounds
	active     []*Swarm  // the swarms ticked every round (not dormant), rebuilt every dormantTicks
	freeMemory bool      // a swarm dropped its tree pages since lastFree
	lastFree   time.Time // when the memory was last given back to the OS

	// scratch, owned under mu
	msgs    []ppsp.Message
	cands   []merkle.Node
	chunks  []merkle.Chunk
	newly   []merkle.Bin
	out     []byte
	chunk   []byte
	uncles  []merkle.Bin
	tmpBins []merkle.Bin
	pickBuf []uint64
	candBuf []uint64
	// rarestFirst's
	partialBuf []*channel
	availBuf   []uint32
	idxBuf     []int
	sortBuf    []uint64
	ackBuf     []uint64
	hashBuf    []byte
	binBuf     []uint64
	spineBuf   []merkle.Bin
	fresh      []merkle.Chunk

	stats EngineStats
}

// EngineStats counts what crossed the transport.
type EngineStats struct {
	DatagramsSent, DatagramsRecv uint64
	BytesSent, BytesRecv         uint64 // PPSP datagram bytes (no IP/UDP headers)
	Dropped                      uint64 // datagrams dropped as unknown, spoofed or malformed
	WriteErrors                  uint64
}

// New returns an engine on cfg.Conn. Call Run to drive it.
func New(cfg Config) (*Engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg,
		conn:     cfg.Conn,
		log:      cfg.Logger,
		swarms:   make(map[string]*Swarm),
		channels: make(map[uint32]*channel),
		out:      make([]byte, 0, 65536),
		cache:    merkle.NewNodeCache(cfg.HashCache),
	}
	e.paths, _ = cfg.Conn.(PathSizer)
	e.block, _ = cfg.Conn.(PathBlocker)
	e.last, _ = cfg.Conn.(LastResorter)
	return e, nil
}

// HashCacheStats returns the figures of the engine's hash-tree cache.
func (e *Engine) HashCacheStats() merkle.CacheStats { return e.cache.Stats() }

// Stats returns the transport counters.
func (e *Engine) Stats() EngineStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// LocalAddr is the transport's address.
func (e *Engine) LocalAddr() net.Addr { return e.conn.LocalAddr() }

// Run reads datagrams and drives timers until ctx is done or the transport
// fails. On return every channel has been sent an explicit close.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(e.cfg.Tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				// Unblock the reader.
				e.conn.SetReadDeadline(time.Unix(1, 0))
				return
			case <-t.C:
				e.mu.Lock()
				e.tick()
				e.mu.Unlock()
			}
		}
	}()
	err := e.readLoop(ctx)
	cancel()
	wg.Wait()
	e.mu.Lock()
	for _, ch := range e.channels {
		ch.close("engine stopped", true)
	}
	e.closed = true
	e.mu.Unlock()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type addrPortReader interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
}

func (e *Engine) readLoop(ctx context.Context) error {
	buf := make([]byte, 65536)
	udp, _ := e.conn.(addrPortReader)
	for {
		var n int
		var from net.Addr
		var err error
		if udp != nil {
			var ap netip.AddrPort
			n, ap, err = udp.ReadFromUDPAddrPort(buf)
			if err == nil {
				from = udpAddr(ap)
			}
		} else {
			n, from, err = e.conn.ReadFrom(buf)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("swarm: read: %w", err)
		}
		e.mu.Lock()
		e.stats.DatagramsRecv++
		e.stats.BytesRecv += uint64(n)
		e.handleDatagram(buf[:n], from)
		e.mu.Unlock()
	}
}

// udpAddrCache avoids allocating a *net.UDPAddr per datagram for the
// common case of a known peer.
var udpAddrCache sync.Map // netip.AddrPort -> *net.UDPAddr

func udpAddr(ap netip.AddrPort) *net.UDPAddr {
	if a, ok := udpAddrCache.Load(ap); ok {
		return a.(*net.UDPAddr)
	}
	a := net.UDPAddrFromAddrPort(ap)
	udpAddrCache.Store(ap, a)
	return a
}

// addrKey returns a comparable key for an address.
func addrKey(a net.Addr) string {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.AddrPort().String()
	}
	return a.Network() + ":" + a.String()
}

func addrEqual(a, b net.Addr) bool {
	if a == b {
		return true
	}
	ua, ok1 := a.(*net.UDPAddr)
	ub, ok2 := b.(*net.UDPAddr)
	if ok1 && ok2 {
		return ua.Port == ub.Port && ua.IP.Equal(ub.IP)
	}
	return a.Network() == b.Network() && a.String() == b.String()
}

// isLoopback reports whether a is a loopback address.
func isLoopback(a net.Addr) bool {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.IP.IsLoopback()
	}
	return false
}

func (e *Engine) handleDatagram(b []byte, from net.Addr) {
	if len(b) < 4 {
		e.stats.Dropped++
		return
	}
	dst := binary.BigEndian.Uint32(b)
	if dst == 0 {
		e.handleInitial(b, from)
		return
	}
	ch := e.channels[dst]
	if ch == nil || !addrEqual(ch.addr, from) {
		e.stats.Dropped++
		return
	}
	ch.onDatagram(b)
}

// handleInitial answers a datagram to channel 0: a handshake that opens a
// channel (RFC 7574 §8.4).
func (e *Engine) handleInitial(b []byte, from net.Addr) {
	_, msgs, err := ppsp.Parse(ppsp.Context{}, b, e.msgs[:0])
	e.msgs = msgs[:0]
	if err != nil || len(msgs) == 0 || msgs[0].Type != ppsp.MsgHandshake || msgs[0].SrcChannel == 0 {
		// Includes libswift's legacy handshake (ppsp.ErrLegacyHandshake):
		// we speak only RFC 7574; its fallback alternates with the RFC form.
		e.stats.Dropped++
		return
	}
	hs := &msgs[0]
	if !hs.Options.Has(ppsp.OptSwarmID) {
		e.stats.Dropped++
		return
	}
	s := e.swarms[string(hs.Options.SwarmID)]
	if s == nil || s.closed || s.mode == ModeLeech {
		// A leecher serves nobody, so it accepts no channels.
		e.stats.Dropped++
		return
	}
	// A retransmitted handshake for a channel we already opened: answer again.
	for _, ch := range s.channels {
		if ch.remote == hs.SrcChannel && addrEqual(ch.addr, from) {
			ch.bytesIn += uint64(len(b))
			if !ch.initiator {
				ch.sendHandshakeReply()
			}
			return
		}
	}
	if len(s.channels) >= e.cfg.MaxPeers || s.isBanned(from) {
		e.stats.Dropped++
		return
	}
	ch, err := s.newChannel(from, false)
	if err != nil {
		e.stats.Dropped++
		return
	}
	ch.bytesIn += uint64(len(b))
	if err := ch.acceptHandshake(hs); err != nil {
		e.log.Debug("handshake refused", "peer", from, "err", err)
		ch.close(err.Error(), true)
		return
	}
	ch.sendHandshakeReply()
	// Light payload after the handshake (HAVE, REQUEST) is processed once
	// the channel exists.
	ch.handleMessages(msgs[1:])
	ch.flush()
}

// newChannelID returns a fresh random channel ID (RFC 7574 §12.1).
func (e *Engine) newChannelID() (uint32, error) {
	var b [4]byte
	for range 16 {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		id := binary.BigEndian.Uint32(b[:])
		if id != 0 && e.channels[id] == nil {
			return id, nil
		}
	}
	return 0, errors.New("swarm: no free channel ID")
}

// send writes one datagram.
func (e *Engine) send(b []byte, to net.Addr) error {
	_, err := e.conn.WriteTo(b, to)
	if err != nil {
		e.stats.WriteErrors++
		return err
	}
	e.stats.DatagramsSent++
	e.stats.BytesSent += uint64(len(b))
	return nil
}

func (e *Engine) tick() {
	now := e.cfg.Now()
	e.ticks++
	if e.ticks%dormantTicks == 0 {
		// Every swarm, once in dormantTicks rounds; the others go through
		// only the ones not dormant (idle, pages dropped), so thousands of
		// idle swarms cost one pass a second, not fifty.
		e.active = e.active[:0]
		for _, s := range e.swarms {
			s.tick(now)
			s.inActive = !s.dormant
			if s.inActive {
				e.active = append(e.active, s)
			}
		}
	} else {
		for _, s := range e.active {
			if !s.closed {
				s.tick(now)
			}
		}
	}
	if e.freeMemory && now.Sub(e.lastFree) >= e.cfg.IdleRelease {
		// Swarms went idle and dropped their tree pages: give the memory
		// back to the OS now. An idle process would otherwise keep it
		// until its next collection (forced only every two minutes) and
		// the scavenger's pace; at most once per IdleRelease.
		e.freeMemory, e.lastFree = false, now
		go debug.FreeOSMemory()
	}
}

// dormantTicks: a dormant swarm is ticked once in this many rounds.
const dormantTicks = 50

// pathSize is the transport's datagram size to addr (600..65507), 0 if it
// has none.
func (e *Engine) pathSize(to net.Addr) int {
	if e.paths == nil {
		return 0
	}
	if n := e.paths.DatagramSize(to); n >= 600 {
		return min(n, 65507)
	}
	return 0
}

func (e *Engine) maxDatagram(to net.Addr) int {
	if n := e.pathSize(to); n != 0 {
		return n
	}
	if isLoopback(to) {
		return e.cfg.LoopbackDatagram
	}
	return e.cfg.MaxDatagram
}
