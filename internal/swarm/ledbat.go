package swarm

import "time"

// ledbat is the sender's congestion controller: LEDBAT (RFC 6817) driven
// by the one-way delay samples that PPSP carries in ACK (RFC 7574 §8.7),
// changed where RFC 6817 leaves a real Internet path idle
// (docs/decisions.md, decision 7):
//
//   - below the target, the window closes a share of the gap between the
//     queueing delay and the target every round trip, in bytes at the
//     current rate (a delay-based controller in the manner of FAST TCP),
//     rather than growing one MSS per round trip, which takes minutes to
//     fill a 100 Mbit/s path with a long RTT;
//   - a loss with no standing queue beyond twice the target is taken as
//     random (radio, bit errors, a lost ACK) and costs only the lost
//     bytes; a loss with a queue above that, or a round trip losing more
//     than lossGuard of its datagrams, is congestion and halves the
//     window, as RFC 6817 §2.4.1 says;
//   - after a timeout, slow start resumes up to half the old window.
type ledbat struct {
	mss        int     // bytes per full datagram
	cwnd       float64 // bytes
	ssthresh   float64 // slow start ends here (bytes); 0 = on delay only
	slowStart  bool
	baseHist   [10]int64 // per-minute minima of the one-way delay, µs
	baseMinute int64
	cur        [4]int64 // last delay samples, µs
	curN       int
	lastLoss   time.Time
	srtt       time.Duration
	rttvar     time.Duration
	hsRTT      time.Duration // the handshake's round trip, until srtt has a sample

	// The current round (about one srtt): bytes acknowledged and lost.
	roundStart time.Time
	roundAcked int
	roundLost  int

	// The window before the latest timeout, restored if it was spurious.
	undoCwnd, undoSsthresh float64
	undoSlowStart          bool
	undoSaved              bool

	lastDebug time.Time
	// Counters for tests and debugging.
	randomLosses, congestionLosses int
}

// LEDBAT parameters (RFC 6817 §2.5, §3.2) and ours.
const (
	ledbatTarget     = 25 * time.Millisecond // ≤ 100 ms; 25 ms keeps queues short
	ledbatGain       = 1.0
	ledbatAllowed    = 2        // ALLOWED_INCREASE, in MSS
	ledbatMinCwnd    = 2        // MIN_CWND, in MSS
	ledbatInitCwnd   = 4        // INIT_CWND, in MSS
	ledbatInitBytes  = 32 << 10 // and at least 32 one-chunk datagrams (decision 7)
	ledbatMaxCwnd    = 32 << 20
	baseHistoryEmpty = int64(1<<62 - 1)

	// closeGap is the share of the gap to the target queue closed per
	// round trip. Below 1 the loop (one round trip of feedback delay) is
	// stable at any RTT; 1/2 settles in a few round trips.
	closeGap = 0.5
	// congestedQueue is the queueing delay above which a loss is
	// congestion: twice the target, which the controller itself never
	// holds, so a queue that long is someone else's (a TCP flow filling a
	// drop-tail buffer) or our own slow-start overshoot.
	congestedQueue = 2 * ledbatTarget
	// slowStartGain is the window's growth per acknowledged byte in slow
	// start: ×2.5 per round trip, not TCP's ×2, and slowStartExit the
	// queueing delay that ends it, earlier than half the target to make up
	// for the larger overshoot (HyStart's exit on a delay increase,
	// RFC 9406 §4.2, measured on the one-way delay).
	slowStartGain = 1.5
	slowStartExit = ledbatTarget * 35 / 100
	// lossGuard is the share of one round trip's bytes that, lost, makes
	// any loss congestion: a buffer shallower than the target overflows
	// before the delay says so.
	lossGuard = 0.10
)

func newLedbat(mss int) *ledbat {
	l := &ledbat{mss: mss, cwnd: float64(max(ledbatInitCwnd*mss, ledbatInitBytes)), slowStart: true, baseMinute: -1}
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

// queueingDelay is the current delay filter (the least of the last four
// samples, RFC 6817 §3.4.2) over the base delay.
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

// round rolls the per-round loss accounting over every srtt.
func (l *ledbat) round(now time.Time) {
	rtt := l.srtt
	if rtt == 0 {
		rtt = 100 * time.Millisecond
	}
	if now.Sub(l.roundStart) >= rtt {
		l.roundStart, l.roundAcked, l.roundLost = now, 0, 0
	}
}

// onAck grows or shrinks the window for acked bytes; flight is the bytes
// in flight before this ACK.
func (l *ledbat) onAck(now time.Time, acked, flight int) {
	l.round(now)
	l.roundAcked += acked
	q := l.queueingDelay()
	if debugSwarm && now.Sub(l.lastDebug) > 250*time.Millisecond {
		l.lastDebug = now
		println("cc", now.Format("05.000"), "cwnd", int(l.cwnd), "q", q.String(), "srtt", l.srtt.String(), "ss", l.slowStart, "flight", flight)
	}
	if l.slowStart {
		if q > slowStartExit || (l.ssthresh > 0 && l.cwnd >= l.ssthresh) {
			l.slowStart = false
		} else {
			l.cwnd += slowStartGain * float64(acked)
		}
	}
	if !l.slowStart {
		off := float64(ledbatTarget-q) / float64(ledbatTarget)
		// RFC 6817: GAIN·off_target MSS per round trip.
		inc := ledbatGain * off * float64(acked) * float64(l.mss) / l.cwnd
		// Ours: closeGap of the gap to the target queue per round trip
		// (acked bytes add up to about one window per srtt).
		if rtt := l.srtt; rtt > 0 {
			gap := closeGap * float64(ledbatTarget-q) / float64(rtt) * float64(acked)
			if off > 0 {
				inc = max(inc, gap)
			} else {
				inc = min(inc, gap)
			}
		}
		// At most halving per round trip (LEDBAT++ §4.3).
		l.cwnd += max(inc, -float64(acked)/2)
		// RFC 6817 §2.5 caps the window near the flight so that an
		// application-limited sender does not build credit; RFC 7661
		// allows twice the flight.
		if lim := float64(max(flight+ledbatAllowed*l.mss, 2*flight)); l.cwnd > lim {
			l.cwnd = max(lim, l.cwnd-float64(acked))
		}
	}
	l.clamp()
}

// onLoss handles lost bytes detected by later acknowledgements: random
// loss costs the lost bytes; congestion halves the window, at most once
// per round trip.
func (l *ledbat) onLoss(now time.Time, lost int) {
	l.round(now)
	l.roundLost += lost
	q := l.queueingDelay()
	heavy := l.roundLost >= 3*l.mss && float64(l.roundLost) > lossGuard*max(l.cwnd, float64(l.roundAcked+l.roundLost))
	if debugSwarm {
		println("cc loss", lost, "q", q.String(), "heavy", heavy, "roundLost", l.roundLost, "roundAcked", l.roundAcked, "cwnd", int(l.cwnd))
	}
	if q < congestedQueue && !heavy {
		l.randomLosses++
		l.cwnd -= float64(lost)
		l.clamp()
		return
	}
	if now.Sub(l.lastLoss) < l.rto()/2 {
		return
	}
	l.congestionLosses++
	l.lastLoss = now
	l.slowStart = false
	l.cwnd /= 2
	l.clamp()
}

// onTimeout collapses the window (RFC 6817 §2.4.2: cwnd = 1 MSS after a
// timeout; we keep MIN_CWND) and slow-starts back to half of it.
func (l *ledbat) onTimeout(now time.Time) {
	if !l.undoSaved {
		l.undoCwnd, l.undoSsthresh, l.undoSlowStart, l.undoSaved = l.cwnd, l.ssthresh, l.slowStart, true
	}
	l.lastLoss = now
	l.ssthresh = max(l.cwnd/2, float64(ledbatMinCwnd*l.mss))
	l.slowStart = true
	l.cwnd = float64(ledbatMinCwnd * l.mss)
}

// undoTimeout restores the window of before the timeout when the
// acknowledgement of an original shows nothing was lost.
func (l *ledbat) undoTimeout() {
	if !l.undoSaved {
		return
	}
	l.cwnd, l.ssthresh, l.slowStart, l.undoSaved = l.undoCwnd, l.undoSsthresh, l.undoSlowStart, false
	l.clamp()
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

// onHandshakeRTT records the round trip from our handshake reply to the
// peer's first request.
func (l *ledbat) onHandshakeRTT(r time.Duration) {
	if r > 0 {
		l.hsRTT = r
	}
}

// rto is the retransmission timeout (RFC 6298): srtt + 4 rttvar, at
// least twice srtt and 200 ms (Linux's TCP floor; a spurious timeout costs
// a whole window). Before any sample of the data: three handshake round
// trips (RFC 6298 §2.2 from the handshake's sample, as TCP takes the SYN's),
// at least 200 ms and at most the 1 s of §2.1 that applies without one: a
// lost first window (its first datagram carries the peak hashes the others
// need) otherwise stalls the start for a second. Fast loss detection comes
// from later acknowledgements (dupThresh), not from this timer.
func (l *ledbat) rto() time.Duration {
	if l.srtt == 0 {
		if l.hsRTT > 0 {
			return min(max(3*l.hsRTT, 200*time.Millisecond), time.Second)
		}
		return time.Second
	}
	return max(l.srtt+4*l.rttvar, 2*l.srtt, 200*time.Millisecond)
}
