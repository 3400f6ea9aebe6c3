package swarm

import (
	"net/netip"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/ppsp"
)

func netipAddrPort4(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// ctlBegin starts the control datagram if it is empty.
func (ch *channel) ctlBegin() {
	if len(ch.ctl) == 0 {
		ch.ctl = ppsp.AppendHeader(ch.ctl, ch.remote)
	}
}

// ctlMsg appends one control message, flushing first when full.
func (ch *channel) ctlMsg(f func([]byte) ([]byte, error)) bool {
	if ch.state == stateClosed {
		return false
	}
	if len(ch.ctl) > ch.maxDgram-80 {
		ch.writeCtl()
	}
	ch.ctlBegin()
	b, err := f(ch.ctl)
	if err != nil {
		return false
	}
	ch.ctl = b
	ch.ctlMsgs++
	return true
}

// appendSpan appends a spec message for [first, last]; with a bin
// addressing method the range is split into bins.
func (ch *channel) specMsg(t ppsp.MsgType, first, last, delay uint64) {
	for first <= last {
		sp := ppsp.Spec{Start: first, End: last}
		if ch.ctx.CAM == ppsp.CAMBins32 || ch.ctx.CAM == ppsp.CAMBins64 {
			// Largest aligned bin starting at first within last.
			b := merkle.ChunkBin(first)
			for {
				p := b.Parent()
				f, l := p.Base()
				if f != first || l > last {
					break
				}
				b = p
			}
			f, l := b.Base()
			sp = ppsp.Spec{Start: f, End: l}
		}
		ch.ctlMsg(func(b []byte) ([]byte, error) {
			switch t {
			case ppsp.MsgAck:
				return ppsp.AppendAck(b, ch.ctx, sp, delay)
			case ppsp.MsgHave:
				return ppsp.AppendHave(b, ch.ctx, sp)
			case ppsp.MsgRequest:
				return ppsp.AppendRequest(b, ch.ctx, sp)
			default:
				return ppsp.AppendCancel(b, ch.ctx, sp)
			}
		})
		if sp.End == ^uint64(0) {
			return
		}
		first = sp.End + 1
	}
}

// queueAcks acknowledges verified chunks (RFC 7574 §3.4: ACK is mandatory
// over UDP), as ranges, with the LEDBAT delay sample.
func (ch *channel) queueAcks(chunks []uint64, delay uint64) {
	for i := 0; i < len(chunks); {
		j := i + 1
		for j < len(chunks) && chunks[j] == chunks[j-1]+1 {
			j++
		}
		ch.specMsg(ppsp.MsgAck, chunks[i], chunks[j-1], delay)
		i = j
	}
}

func (ch *channel) queueCancel(c uint64) {
	if k := len(ch.cancelQ); k > 0 && ch.cancelQ[k-1].last+1 == c {
		ch.cancelQ[k-1].last = c
		return
	}
	ch.cancelQ = append(ch.cancelQ, span{c, c})
}

// flush sends the pending control messages (queued CANCELs included).
func (ch *channel) flush() {
	if ch.state != stateOpen {
		ch.ctl, ch.ctlMsgs, ch.cancelQ = ch.ctl[:0], 0, ch.cancelQ[:0]
		return
	}
	q := ch.cancelQ
	ch.cancelQ = nil
	for _, c := range q {
		ch.specMsg(ppsp.MsgCancel, c.first, c.last, 0)
	}
	ch.cancelQ = q[:0]
	ch.writeCtl()
}

// writeCtl sends the control datagram built so far.
func (ch *channel) writeCtl() {
	if ch.ctlMsgs > 0 && ch.state == stateOpen {
		ch.write(ch.ctl)
	}
	ch.ctl, ch.ctlMsgs = ch.ctl[:0], 0
}
