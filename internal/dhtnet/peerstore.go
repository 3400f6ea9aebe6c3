package dhtnet

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
)

// PeerStore holds the peers announced to us (BEP 5 announce_peer), keyed by
// swarm and ip:port, each with an expiry. Several peers may share an IP.
// It implements anacrolix's peer_store.Interface. Safe for concurrent use.
type PeerStore struct {
	// TTL of an announcement (default 30 min, as BEP 5 implementations use).
	TTL time.Duration
	// MaxPerSwarm bounds the peers kept per swarm (default 1000); when full,
	// the entry closest to expiry is replaced.
	MaxPerSwarm int
	// MaxSwarms bounds the swarms kept (default 10000); when full, new
	// swarms are refused until entries expire.
	MaxSwarms int
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu     sync.Mutex
	swarms map[[20]byte]map[netip.AddrPort]time.Time
}

var _ peer_store.Interface = (*PeerStore)(nil)

func (s *PeerStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *PeerStore) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return 30 * time.Minute
}

// Add records that peer announced itself in swarm.
func (s *PeerStore) Add(swarm [20]byte, peer netip.AddrPort) {
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	if !usableAddr(peer) {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.swarms == nil {
		s.swarms = make(map[[20]byte]map[netip.AddrPort]time.Time)
	}
	m := s.swarms[swarm]
	if m == nil {
		maxSwarms := s.MaxSwarms
		if maxSwarms <= 0 {
			maxSwarms = 10000
		}
		if len(s.swarms) >= maxSwarms {
			s.expireLocked(now)
			if len(s.swarms) >= maxSwarms {
				return
			}
		}
		m = make(map[netip.AddrPort]time.Time)
		s.swarms[swarm] = m
	}
	maxPeers := s.MaxPerSwarm
	if maxPeers <= 0 {
		maxPeers = 1000
	}
	if _, ok := m[peer]; !ok && len(m) >= maxPeers {
		var oldest netip.AddrPort
		var oldestExp time.Time
		for p, exp := range m {
			if oldestExp.IsZero() || exp.Before(oldestExp) {
				oldest, oldestExp = p, exp
			}
		}
		delete(m, oldest)
	}
	m[peer] = now.Add(s.ttl())
}

// Get returns up to max live peers of swarm (max <= 0: all).
func (s *PeerStore) Get(swarm [20]byte, max int) []netip.AddrPort {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.swarms[swarm]
	var out []netip.AddrPort
	for p, exp := range m {
		if !now.Before(exp) {
			delete(m, p)
			continue
		}
		if max <= 0 || len(out) < max {
			out = append(out, p)
		}
	}
	if m != nil && len(m) == 0 {
		delete(s.swarms, swarm)
	}
	return out
}

// Len returns the number of stored (possibly expired) entries.
func (s *PeerStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.swarms {
		n += len(m)
	}
	return n
}

func (s *PeerStore) expireLocked(now time.Time) {
	for sw, m := range s.swarms {
		for p, exp := range m {
			if !now.Before(exp) {
				delete(m, p)
			}
		}
		if len(m) == 0 {
			delete(s.swarms, sw)
		}
	}
}

// AddPeer implements peer_store.Interface.
func (s *PeerStore) AddPeer(ih peer_store.InfoHash, na krpc.NodeAddr) {
	ip, ok := netip.AddrFromSlice(na.IP)
	if !ok || na.Port <= 0 || na.Port > 65535 {
		return
	}
	s.Add(ih, netip.AddrPortFrom(ip, uint16(na.Port)))
}

// GetPeers implements peer_store.Interface (up to 50 peers, as BEP 5
// answers must fit a datagram).
func (s *PeerStore) GetPeers(ih peer_store.InfoHash) []krpc.NodeAddr {
	ps := s.Get(ih, maxValues)
	out := make([]krpc.NodeAddr, len(ps))
	for i, p := range ps {
		out[i] = krpc.NodeAddr{IP: net.IP(p.Addr().AsSlice()), Port: int(p.Port())}
	}
	return out
}

// maxValues bounds the peers in one get_peers answer.
const maxValues = 50
