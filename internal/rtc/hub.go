package rtc

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Hub is an in-process signaling relay between Transports in one process:
// for tests and benchmarks, and for a process that hosts several peers. It
// delivers every Signal in order to the named peer.
type Hub struct {
	mu    sync.Mutex
	peers map[string]*HubPeer
}

// NewHub returns an empty Hub.
func NewHub() *Hub { return &Hub{peers: make(map[string]*HubPeer)} }

// hubQueue bounds the Signals waiting for one peer.
const hubQueue = 4096

type hubMsg struct {
	from string
	s    Signal
}

// HubPeer is one peer's Signaler on a Hub.
type HubPeer struct {
	h    *Hub
	id   string
	in   chan hubMsg
	done chan struct{}
	once sync.Once
}

// Join adds the peer id to the hub and returns its Signaler.
func (h *Hub) Join(id string) (*HubPeer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.peers[id]; ok {
		return nil, fmt.Errorf("rtc: hub: peer %q already joined", id)
	}
	p := &HubPeer{h: h, id: id, in: make(chan hubMsg, hubQueue), done: make(chan struct{})}
	h.peers[id] = p
	return p, nil
}

// Leave removes the peer; its Recv returns an error.
func (p *HubPeer) Leave() {
	p.once.Do(func() {
		p.h.mu.Lock()
		delete(p.h.peers, p.id)
		p.h.mu.Unlock()
		close(p.done)
	})
}

var errLeft = errors.New("rtc: hub: peer left")

// Send implements Signaler.
func (p *HubPeer) Send(ctx context.Context, to string, s Signal) error {
	p.h.mu.Lock()
	q := p.h.peers[to]
	p.h.mu.Unlock()
	if q == nil {
		return fmt.Errorf("rtc: hub: no peer %q", to)
	}
	select {
	case q.in <- hubMsg{from: p.id, s: s}:
		return nil
	case <-q.done:
		return fmt.Errorf("rtc: hub: no peer %q", to)
	default:
		return fmt.Errorf("rtc: hub: queue of %q full", to)
	}
}

// Recv implements Signaler.
func (p *HubPeer) Recv(ctx context.Context) (string, Signal, error) {
	select {
	case m := <-p.in:
		return m.from, m.s, nil
	case <-p.done:
		return "", Signal{}, errLeft
	case <-ctx.Done():
		return "", Signal{}, ctx.Err()
	}
}
