package stream

import (
	"sync"
	"sync/atomic"

	"github.com/swarmgate/swarmgate/internal/store"
)

// Swarm is a store.Swarm that wakes waiters whenever the engine
// stores a chunk (which it does only after verifying it) or learns the
// content's length. Readers wait on it rather than polling.
type Swarm struct {
	store.Swarm
	waiting atomic.Bool
	mu      sync.Mutex
	ch      chan struct{}
}

// Wrap wraps sw; give the result to the engine (swarm.SwarmConfig.Store).
func Wrap(sw store.Swarm) *Swarm {
	return &Swarm{Swarm: sw, ch: make(chan struct{})}
}

// Unwrap returns the wrapped swarm: the engine looks there for the
// store's optional interfaces (store.HashReader: a tree kept in a file and
// read through the engine's bounded cache, not loaded whole).
func (n *Swarm) Unwrap() store.Swarm { return n.Swarm }

// Changed returns a channel closed at the next stored chunk or length
// change. Take it before checking the condition waited for.
func (n *Swarm) Changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.waiting.Store(true)
	return n.ch
}

func (n *Swarm) wake() {
	if !n.waiting.Load() {
		return // nobody waits: no allocation per chunk
	}
	n.mu.Lock()
	n.waiting.Store(false)
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

func (n *Swarm) WriteChunk(c uint64, p []byte) error {
	err := n.Swarm.WriteChunk(c, p)
	if err == nil {
		n.wake()
	}
	return err
}

func (n *Swarm) SetLength(l int64) error {
	err := n.Swarm.SetLength(l)
	if err == nil {
		n.wake()
	}
	return err
}
