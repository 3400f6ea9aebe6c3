package swarm

import "time"

// ledbat is the sender's congestion controller: LEDBAT (RFC 6817) driven
// by the one-way delay samples that PPSP carries in ACK (RFC 7574 §8.7),
// with slow start and a multiplicative decrease on loss.
type ledbat struct {
	mss        int     // bytes per full datagram
	cwnd       float64 // bytes
	slowStart  bool
	baseHist   [10]int64 // per-minute minima of the one-way delay, µs
	baseMinute int64
	cur        [4]int64 // last delay samples, µs
	curN       int
	lastLoss   time.Time
	srtt       time.Duration
	rttvar     time.Duration
}

// LEDBAT parameters (RFC 6817 §2.5, §3.2).
const (
	ledbatTarget     = 25 * time.Millisecond // ≤ 100 ms; 25 ms keeps queues short
	ledbatGain       = 1.0
	ledbatAllowed    = 2 // ALLOWED_INCREASE, in MSS
	ledbatMinCwnd    = 2 // MIN_CWND, in MSS
	ledbatInitCwnd   = 4 // INIT_CWND, in MSS
	ledbatMaxCwnd    = 32 << 20
	baseHistoryEmpty = int64(1<<62 - 1)
)

func newLedbat(mss int) *ledbat {
	l := &ledbat{mss: mss, cwnd: float64(ledbatInitCwnd * mss), slowStart: true, baseMinute: -1}
	for i := range l.baseHist {
		l.baseHist[i] = baseHistoryEmpty
	}
	return l
}

// window returns the congestion window in bytes.
func (l *ledbat) window() int { return int(l.cwnd) }

// onDelay records a one-way delay sample (µs, receiver clock minus sender
// clock; only differences matter).
func (l *ledbat) onDelay(now time.Time, d int64) {
	minute := now.Unix() / 60
	if minute != l.baseMinute {
		if l.baseMinute >= 0 {
			copy(l.baseHist[1:], l.baseHist[:len(l.baseHist)-1])
		}
		l.baseHist[0] = baseHistoryEmpty
		l.baseMinute = minute
	}
	if d < l.baseHist[0] {
		l.baseHist[0] = d
	}
	l.cur[l.curN%len(l.cur)] = d
	l.curN++
}

func (l *ledbat) queueingDelay() time.Duration {
	if l.curN == 0 {
		return 0
	}
	base := baseHistoryEmpty
	for _, b := range l.baseHist {
		base = min(base, b)
	}
	cur := baseHistoryEmpty
	for i := 0; i < min(l.curN, len(l.cur)); i++ {
		cur = min(cur, l.cur[i])
	}
	if cur <= base {
		return 0
	}
	return time.Duration(cur-base) * time.Microsecond
}

// onAck grows the window for acked bytes; flight is the bytes in flight
// before this ACK.
func (l *ledbat) onAck(acked, flight int) {
	q := l.queueingDelay()
	if l.slowStart {
		if q > ledbatTarget/2 {
			l.slowStart = false
		} else {
			l.cwnd += float64(acked)
		}
	}
	if !l.slowStart {
		off := float64(ledbatTarget-q) / float64(ledbatTarget)
		l.cwnd += ledbatGain * off * float64(acked) * float64(l.mss) / l.cwnd
	}
	if max := float64(flight + ledbatAllowed*l.mss); l.cwnd > max && !l.slowStart {
		l.cwnd = max
	}
	l.clamp()
}

// onLoss halves the window, at most once per round trip.
func (l *ledbat) onLoss(now time.Time) {
	if now.Sub(l.lastLoss) < l.rto()/2 {
		return
	}
	l.lastLoss = now
	l.slowStart = false
	l.cwnd /= 2
	l.clamp()
}

// onTimeout collapses the window (RFC 6817 §2.4.2: cwnd = 1 MSS after a
// timeout; we keep MIN_CWND).
func (l *ledbat) onTimeout(now time.Time) {
	l.lastLoss = now
	l.slowStart = false
	l.cwnd = float64(ledbatMinCwnd * l.mss)
}

func (l *ledbat) clamp() {
	if l.cwnd < float64(ledbatMinCwnd*l.mss) {
		l.cwnd = float64(ledbatMinCwnd * l.mss)
	}
	if l.cwnd > ledbatMaxCwnd {
		l.cwnd = ledbatMaxCwnd
	}
}

// onRTT updates the smoothed round-trip time (RFC 6298).
func (l *ledbat) onRTT(r time.Duration) {
	if l.srtt == 0 {
		l.srtt, l.rttvar = r, r/2
		return
	}
	d := l.srtt - r
	if d < 0 {
		d = -d
	}
	l.rttvar = (3*l.rttvar + d) / 4
	l.srtt = (7*l.srtt + r) / 8
}

// rto is the retransmission timeout (RFC 6298): srtt + 4 rttvar, at
// least twice srtt and 200 ms (Linux's TCP floor; a spurious timeout costs
// a whole window), 1 s before any sample. Fast loss detection comes from
// later acknowledgements (dupThresh), not from this timer.
func (l *ledbat) rto() time.Duration {
	if l.srtt == 0 {
		return time.Second
	}
	return max(l.srtt+4*l.rttvar, 2*l.srtt, 200*time.Millisecond)
}
