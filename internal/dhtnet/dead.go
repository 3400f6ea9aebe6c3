package dhtnet

import (
	"net/netip"
	"sync"
	"time"
)

// Departed nodes stay listed in other nodes' tables for up to 15 minutes
// (most deployed implementations evict only after that long without an
// answer), so our lookups keep being handed them. deadSet remembers the
// addresses that let two queries in a row reach the hard QueryTimeout with
// no answer in between, and lookups skip them for deadTTL: a dead node
// costs at most two soft timeouts, not one per lookup. One lost datagram
// (a single miss) does not make a node dead; any answer clears it.
type deadSet struct {
	now func() time.Time

	mu sync.Mutex
	m  map[netip.AddrPort]deadEntry
}

type deadEntry struct {
	misses int
	last   time.Time
}

const (
	deadMisses = 2
	deadTTL    = 15 * time.Minute
	maxDead    = 4096
)

// miss records a query to ap that went unanswered until the hard timeout.
func (d *deadSet) miss(ap netip.AddrPort) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = make(map[netip.AddrPort]deadEntry)
	}
	e, ok := d.m[ap]
	if !ok && len(d.m) >= maxDead {
		for k, v := range d.m {
			if now.Sub(v.last) > deadTTL {
				delete(d.m, k)
			}
		}
		if len(d.m) >= maxDead {
			return
		}
	}
	if ok && now.Sub(e.last) > deadTTL {
		e.misses = 0
	}
	e.misses++
	e.last = now
	d.m[ap] = e
}

// answered clears ap: it is alive.
func (d *deadSet) answered(ap netip.AddrPort) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, ap)
}

// is reports whether ap is taken for dead.
func (d *deadSet) is(ap netip.AddrPort) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[ap]
	return ok && e.misses >= deadMisses && d.now().Sub(e.last) <= deadTTL
}

// len returns the number of addresses taken for dead.
func (d *deadSet) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := 0
	now := d.now()
	for _, e := range d.m {
		if e.misses >= deadMisses && now.Sub(e.last) <= deadTTL {
			k++
		}
	}
	return k
}
