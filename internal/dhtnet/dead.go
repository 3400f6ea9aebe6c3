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
//
// A timeout is evidence against the remote node only if our own node was
// hearing answers meanwhile: a miss counts only when a query sent later
// than the missed one was answered (a node whose receive path stalls — CPU
// starved, suspended, offline for a few seconds — times out every query in
// flight and must not take healthy nodes for dead for 15 minutes). And "in
// a row" means in two separate windows: the second miss counts only for a
// query sent after the first miss was recorded, so a burst of concurrent
// queries to the same node (several lookups at once) is one miss.
type deadSet struct {
	now func() time.Time

	mu     sync.Mutex
	m      map[netip.AddrPort]deadEntry
	lastOK time.Time // the latest send time of a query that was answered
}

type deadEntry struct {
	misses int
	last   time.Time // when the last counted miss was recorded
}

const (
	deadMisses = 2
	deadTTL    = 15 * time.Minute
	maxDead    = 4096
)

// evidence reports whether a query sent later than sent was answered: a
// timeout of a query sent at sent says something about the remote node,
// not about our own receive path.
func (d *deadSet) evidence(sent time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastOK.After(sent)
}

// miss records that a query to ap sent at sent went unanswered until the
// hard timeout. It reports whether the miss counted: it needs evidence
// (see evidence), and a query sent before the previous counted miss was
// recorded adds nothing.
func (d *deadSet) miss(ap netip.AddrPort, sent time.Time) bool {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.lastOK.After(sent) {
		return false
	}
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
			return true
		}
	}
	if ok && now.Sub(e.last) > deadTTL {
		e.misses = 0
	}
	if ok && e.misses > 0 && !sent.After(e.last) {
		return true // the same window as the miss already counted
	}
	e.misses++
	e.last = now
	d.m[ap] = e
	return true
}

// answered clears ap, which answered a query sent at sent: it is alive, and
// our node hears answers to queries sent then.
func (d *deadSet) answered(ap netip.AddrPort, sent time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if sent.After(d.lastOK) {
		d.lastOK = sent
	}
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
