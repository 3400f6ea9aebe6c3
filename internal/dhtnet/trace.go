package dhtnet

import (
	"fmt"
	"math/bits"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// lookupTrace records the timeline of one lookup (the benchmark's
// --verbose view of slow announces): each get_peers and announce_peer
// sent, answered, past its soft timeout or failed, with the time since the
// lookup started. A nil *lookupTrace records nothing.
type lookupTrace struct {
	target [20]byte
	start  time.Time

	mu  sync.Mutex
	evs []string
}

func newLookupTrace(target [20]byte) *lookupTrace {
	return &lookupTrace{target: target, start: time.Now()}
}

// add records one event: what happened to the node at ap (ID id, if known).
func (t *lookupTrace) add(what string, ap netip.AddrPort, id *[20]byte, detail string) {
	if t == nil {
		return
	}
	cpl := "?"
	if id != nil {
		cpl = fmt.Sprint(commonPrefix(t.target, *id))
	}
	s := fmt.Sprintf("%5.0f %-6s :%d/%s %s", float64(time.Since(t.start).Microseconds())/1e3, what, ap.Port(), cpl, detail)
	t.mu.Lock()
	t.evs = append(t.evs, s)
	t.mu.Unlock()
}

// String returns the timeline, one event a line.
func (t *lookupTrace) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.evs, "\n")
}

// commonPrefix returns the number of leading bits a and b share (the
// log distance of BEP 5, inverted).
func commonPrefix(a, b [20]byte) int {
	for i := range 20 {
		if x := a[i] ^ b[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return 160
}
