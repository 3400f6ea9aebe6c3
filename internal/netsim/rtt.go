package netsim

import (
	"hash/fnv"
	"math"
	"math/rand"
	"net"
	"sync"
	"time"
)

// Quantiles of the Mainline DHT round-trip time measured in the thesis
// (ch. 8, Fig. 2). RTTSampler interpolates between them in log space.
var rttKnots = []struct {
	z   float64 // standard normal quantile
	rtt float64 // milliseconds
}{
	{-0.6745, 95},  // p25
	{0, 175},       // p50
	{0.6745, 344},  // p75
	{2.0537, 1100}, // p98
}

const (
	minRTT = 5 * time.Millisecond
	maxRTT = 10 * time.Second
)

// rttFromZ maps a standard normal quantile to an RTT: a log-normal whose log
// is piecewise linear in z through the measured quantiles, extended with the
// end slopes. It hits p25, p50, p75 and p98 exactly.
func rttFromZ(z float64) time.Duration {
	k := rttKnots
	i := 0
	for i < len(k)-2 && z > k[i+1].z {
		i++
	}
	a, b := k[i], k[i+1]
	la, lb := math.Log(a.rtt), math.Log(b.rtt)
	l := la + (z-a.z)*(lb-la)/(b.z-a.z)
	d := time.Duration(math.Exp(l) * float64(time.Millisecond))
	return min(max(d, minRTT), maxRTT)
}

// RTTSampler returns a sampler of round-trip times distributed like the
// Mainline DHT RTTs of the thesis (ch. 8, Fig. 2): p25 95 ms, median 175 ms,
// p75 344 ms, p98 1.1 s, clamped to [5 ms, 10 s]. scale multiplies every
// sample (1 = as measured; 0 is taken as 1).
func RTTSampler(scale float64) func(r *rand.Rand) time.Duration {
	if scale <= 0 {
		scale = 1
	}
	return func(r *rand.Rand) time.Duration {
		return time.Duration(float64(rttFromZ(r.NormFloat64())) * scale)
	}
}

// OneWay turns an RTT sampler into a one-way delay sampler (RTT/2), for
// Config.Delay: each direction of a round trip draws its own half.
func OneWay(rtt func(r *rand.Rand) time.Duration) func(r *rand.Rand) time.Duration {
	return func(r *rand.Rand) time.Duration { return rtt(r) / 2 }
}

// PathRTT returns the RTT of the path between two addresses: a fixed value
// per unordered pair of addresses (and seed), distributed like RTTSampler.
// Real RTTs are a property of the path, not of each datagram; use PathDelay
// to build a Config.PathDelay from it.
func PathRTT(seed int64, a, b string, scale float64) time.Duration {
	if scale <= 0 {
		scale = 1
	}
	if a > b {
		a, b = b, a
	}
	h := fnv.New64a()
	var s [8]byte
	for i := range s {
		s[i] = byte(seed >> (8 * i))
	}
	h.Write(s[:])
	h.Write([]byte(a))
	h.Write([]byte{0})
	h.Write([]byte(b))
	// Two uniforms from the hash (splitmix64), one normal by Box-Muller.
	x := h.Sum64()
	u1 := float64(splitmix(&x)>>11+1) / (1 << 53)
	u2 := float64(splitmix(&x)>>11) / (1 << 53)
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	return time.Duration(float64(rttFromZ(z)) * scale)
}

func splitmix(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// PathDelay returns a Config.PathDelay for the conn bound at self: every
// datagram to a destination is delayed by half that path's PathRTT, so a
// request and its reply together take exactly the path's RTT.
func PathDelay(seed int64, self net.Addr, scale float64) func(to net.Addr) time.Duration {
	me := self.String()
	var mu sync.Mutex
	cache := make(map[string]time.Duration)
	return func(to net.Addr) time.Duration {
		k := to.String()
		mu.Lock()
		d, ok := cache[k]
		mu.Unlock()
		if !ok {
			d = PathRTT(seed, me, k, scale) / 2
			mu.Lock()
			cache[k] = d
			mu.Unlock()
		}
		return d
	}
}
