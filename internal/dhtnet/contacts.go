package dhtnet

import (
	"bytes"
	"math/bits"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// NR128 is the bucket-size profile of thesis ch. 8 §V-D: the buckets
// used by most lookups (the farthest halves of the ID space) are enlarged
// in proportion to how often they are used; all deeper buckets hold 8.
var NR128 = []int{128, 64, 32, 16}

// Contact is a routing-table entry: a node that answered us.
type Contact struct {
	ID        [20]byte
	Addr      netip.AddrPort
	RTT       time.Duration // smoothed round-trip time
	LastReply time.Time
}

// contactTable is the application-level routing table (thesis ch. 8 NR128 +
// NRTT, ch. 7 connectivity): only nodes that answered one of our queries
// enter (reciprocity checked), a full bucket takes a newcomer only in place
// of a slower contact (low-RTT bias), and a contact that fails to answer is
// removed at once (non-transitive and non-persistent nodes stay out).
type contactTable struct {
	self  [20]byte
	sizes []int // sizes[i] for bucket i; deeper buckets use defaultK
	now   func() time.Time

	mu      sync.Mutex
	buckets [160][]*Contact
	byAddr  map[netip.AddrPort]*Contact
}

const defaultK = 8

func newContactTable(self [20]byte, sizes []int, now func() time.Time) *contactTable {
	return &contactTable{self: self, sizes: sizes, now: now, byAddr: make(map[netip.AddrPort]*Contact)}
}

// bucketOf returns the bucket index of id: the length of its common prefix
// with self (0 = the farthest half of the ID space), or -1 for self.
func bucketOf(self, id [20]byte) int {
	for i := range 20 {
		if x := self[i] ^ id[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return -1
}

func (t *contactTable) size(b int) int {
	if b < len(t.sizes) {
		return t.sizes[b]
	}
	return defaultK
}

// Len returns the number of contacts.
func (t *contactTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byAddr)
}

// Has reports whether addr is a contact.
func (t *contactTable) Has(addr netip.AddrPort) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byAddr[addr] != nil
}

// RTT returns the smoothed RTT of addr, if it is a contact.
func (t *contactTable) RTT(addr netip.AddrPort) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.byAddr[addr]; c != nil && c.RTT > 0 {
		return c.RTT, true
	}
	return 0, false
}

// Wants reports whether a new node id would be taken if it answered: its
// bucket has room.
func (t *contactTable) Wants(id [20]byte, addr netip.AddrPort) bool {
	b := bucketOf(t.self, id)
	if b < 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byAddr[addr] == nil && len(t.buckets[b]) < t.size(b)
}

// Replied records that id at addr answered after rtt. It returns whether the
// node is (now) a contact.
func (t *contactTable) Replied(id [20]byte, addr netip.AddrPort, rtt time.Duration) bool {
	b := bucketOf(t.self, id)
	if b < 0 || !usableAddr(addr) {
		return false
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.byAddr[addr]; c != nil {
		if c.ID == id {
			if c.RTT <= 0 {
				c.RTT = rtt
			} else {
				c.RTT = (3*c.RTT + rtt) / 4
			}
			c.LastReply = now
			return true
		}
		t.removeLocked(c) // the node at addr changed its ID
	}
	c := &Contact{ID: id, Addr: addr, RTT: rtt, LastReply: now}
	return t.insertLocked(b, c)
}

func (t *contactTable) insertLocked(b int, c *Contact) bool {
	bk := t.buckets[b]
	if len(bk) >= t.size(b) {
		// NRTT: replace the slowest contact if the newcomer is faster.
		worst := -1
		for i, o := range bk {
			if worst < 0 || o.RTT > bk[worst].RTT {
				worst = i
			}
		}
		if c.RTT <= 0 || bk[worst].RTT <= c.RTT {
			return false
		}
		delete(t.byAddr, bk[worst].Addr)
		bk[worst] = c
	} else {
		t.buckets[b] = append(bk, c)
	}
	t.byAddr[c.Addr] = c
	return true
}

// Failed removes addr: it did not answer a query.
func (t *contactTable) Failed(addr netip.AddrPort) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.byAddr[addr]; c != nil {
		t.removeLocked(c)
	}
}

func (t *contactTable) removeLocked(c *Contact) {
	delete(t.byAddr, c.Addr)
	b := bucketOf(t.self, c.ID)
	if b < 0 {
		return
	}
	t.buckets[b] = slices.DeleteFunc(t.buckets[b], func(o *Contact) bool { return o == c })
}

// Closest returns up to n contacts closest to target by XOR distance,
// nearest first.
func (t *contactTable) Closest(target [20]byte, n int) []Contact {
	if n <= 0 {
		return nil
	}
	type cand struct {
		d [20]byte
		c *Contact
	}
	best := make([]cand, 0, n+1)
	t.mu.Lock()
	for _, c := range t.byAddr {
		var d [20]byte
		for i := range 20 {
			d[i] = c.ID[i] ^ target[i]
		}
		if len(best) == n && bytes.Compare(d[:], best[n-1].d[:]) >= 0 {
			continue
		}
		i := len(best)
		best = append(best, cand{})
		for i > 0 && bytes.Compare(d[:], best[i-1].d[:]) < 0 {
			best[i] = best[i-1]
			i--
		}
		best[i] = cand{d, c}
		if len(best) > n {
			best = best[:n]
		}
	}
	out := make([]Contact, len(best))
	for i, b := range best {
		out[i] = *b.c
	}
	t.mu.Unlock()
	return out
}

// cmpDistance compares the XOR distances of a and b to target.
func cmpDistance(target, a, b [20]byte) int {
	var da, db [20]byte
	for i := range 20 {
		da[i], db[i] = a[i]^target[i], b[i]^target[i]
	}
	return bytes.Compare(da[:], db[:])
}

// All returns a copy of every contact.
func (t *contactTable) All() []Contact {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Contact, 0, len(t.byAddr))
	for _, c := range t.byAddr {
		out = append(out, *c)
	}
	return out
}

// Load inserts persisted contacts (a warm start), keeping bucket limits.
func (t *contactTable) Load(cs []Contact) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range cs {
		b := bucketOf(t.self, c.ID)
		if b < 0 || !usableAddr(c.Addr) || t.byAddr[c.Addr] != nil {
			continue
		}
		cc := c
		t.insertLocked(b, &cc)
	}
}

// Stalest returns the contact of bucket b (or of the next non-empty bucket
// after it, cyclically) that answered longest ago, and the bucket used.
func (t *contactTable) Stalest(b int) (Contact, int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range 160 {
		bi := (b + i) % 160
		bk := t.buckets[bi]
		if len(bk) == 0 {
			continue
		}
		s := bk[0]
		for _, c := range bk[1:] {
			if c.LastReply.Before(s.LastReply) {
				s = c
			}
		}
		return *s, bi, true
	}
	return Contact{}, 0, false
}

// BucketLens returns the number of contacts per bucket up to the deepest
// non-empty one.
func (t *contactTable) BucketLens() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := -1
	for i := range t.buckets {
		if len(t.buckets[i]) > 0 {
			last = i
		}
	}
	out := make([]int, last+1)
	for i := range out {
		out[i] = len(t.buckets[i])
	}
	return out
}
