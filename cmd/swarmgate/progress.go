package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/swarmgate/swarmgate/internal/swarm"
	"golang.org/x/sys/unix"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

type progressBar struct {
	w       io.Writer
	on      bool
	t0      time.Time
	lastOut time.Time
	hint    int64
}

func newProgressBar(w io.Writer, on bool, lengthHint int64) *progressBar {
	return &progressBar{w: w, on: on, t0: time.Now(), hint: lengthHint}
}

func (p *progressBar) update(have, total uint64, s *swarm.Swarm) {
	if !p.on || time.Since(p.lastOut) < 200*time.Millisecond && have != total {
		return
	}
	p.lastOut = time.Now()
	const width = 30
	frac := 0.0
	if total > 0 {
		frac = float64(have) / float64(total)
	}
	n := int(frac * width)
	st := s.Stats()
	rate := float64(st.BytesDownloaded) / time.Since(p.t0).Seconds() / (1 << 20)
	peers := 0
	for _, pi := range s.Peers() {
		if pi.Open {
			peers++
		}
	}
	fmt.Fprintf(p.w, "\r[%s%s] %5.1f%%  %d/%d chunks  %.1f MiB/s  %d peers ",
		strings.Repeat("=", n), strings.Repeat(" ", width-n), 100*frac, have, total, rate, peers)
}

func (p *progressBar) finish() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}
