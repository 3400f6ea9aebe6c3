package dhtnet

import (
	"math/rand"
	"net/netip"
	"testing"
	"time"
)

func idInBucket(r *rand.Rand, self [20]byte, b int) [20]byte {
	var id [20]byte
	r.Read(id[:])
	for i := range b {
		m := byte(0x80) >> (i % 8)
		id[i/8] = id[i/8]&^m | self[i/8]&m
	}
	m := byte(0x80) >> (b % 8)
	id[b/8] = id[b/8]&^m | ^self[b/8]&m
	return id
}

func addrN(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)
}

func TestBucketOf(t *testing.T) {
	var self [20]byte
	if bucketOf(self, self) != -1 {
		t.Fatal("self has a bucket")
	}
	r := rand.New(rand.NewSource(1))
	for _, b := range []int{0, 1, 7, 8, 100, 159} {
		if got := bucketOf(self, idInBucket(r, self, b)); got != b {
			t.Errorf("bucketOf = %d, want %d", got, b)
		}
		if got := bucketOf(self, randomInBucket(self, b)); got != b {
			t.Errorf("randomInBucket(%d) lands in %d", b, got)
		}
	}
}

func TestContactTableNR128Sizes(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	var self [20]byte
	r.Read(self[:])
	tb := newContactTable(self, NR128, time.Now)
	want := []int{128, 64, 32, 16, 8, 8}
	k := 0
	for b, size := range want {
		for range size + 20 {
			k++
			tb.Replied(idInBucket(r, self, b), addrN(k), 100*time.Millisecond)
		}
	}
	got := tb.BucketLens()
	for b, size := range want {
		if got[b] != size {
			t.Errorf("bucket %d holds %d, want %d", b, got[b], size)
		}
	}
}

func TestContactTableLowRTTBiasAndEviction(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var self [20]byte
	tb := newContactTable(self, []int{2}, time.Now)
	a, b, c := idInBucket(r, self, 0), idInBucket(r, self, 0), idInBucket(r, self, 0)
	tb.Replied(a, addrN(1), 300*time.Millisecond)
	tb.Replied(b, addrN(2), 100*time.Millisecond)
	if tb.Replied(c, addrN(3), 400*time.Millisecond) {
		t.Fatal("slower newcomer replaced a contact in a full bucket")
	}
	if !tb.Replied(c, addrN(3), 50*time.Millisecond) {
		t.Fatal("faster newcomer not taken")
	}
	if tb.Has(addrN(1)) || !tb.Has(addrN(2)) || !tb.Has(addrN(3)) {
		t.Fatal("the slowest contact should have been replaced")
	}
	tb.Failed(addrN(2))
	if tb.Has(addrN(2)) || tb.Len() != 1 {
		t.Fatal("a contact that failed to answer stays")
	}
	if tb.Replied(self, addrN(9), time.Millisecond) {
		t.Fatal("own ID entered the table")
	}
	bad := netip.MustParseAddrPort("0.0.0.0:1")
	if tb.Replied(b, bad, time.Millisecond) {
		t.Fatal("unusable address entered the table")
	}
}

func TestContactTableClosest(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	var self [20]byte
	r.Read(self[:])
	tb := newContactTable(self, NR128, time.Now)
	for i := range 300 {
		var id [20]byte
		r.Read(id[:])
		tb.Replied(id, addrN(i), time.Duration(i)*time.Millisecond)
	}
	var target [20]byte
	r.Read(target[:])
	cs := tb.Closest(target, 8)
	if len(cs) != 8 {
		t.Fatalf("got %d", len(cs))
	}
	for i := 1; i < len(cs); i++ {
		if cmpDistance(target, cs[i-1].ID, cs[i].ID) > 0 {
			t.Fatal("Closest not in XOR order")
		}
	}
	// No contact outside the result is closer than the farthest returned.
	for _, c := range tb.All() {
		if cmpDistance(target, c.ID, cs[7].ID) < 0 {
			found := false
			for _, x := range cs {
				found = found || x.ID == c.ID
			}
			if !found {
				t.Fatalf("closer contact %x missing", c.ID)
			}
		}
	}
}
