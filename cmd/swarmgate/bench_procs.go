package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// benchProcs runs children of this binary for a benchmark (daemons:
// gateways, boosters, DHT nodes) and stops them all at the end.
type benchProcs struct {
	self  string
	env   []string // added to the environment of every child
	procs []*exec.Cmd
}

func newBenchProcs(env ...string) (*benchProcs, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return &benchProcs{self: self, env: env}, nil
}

// start runs a child and returns the lines of its stdout up to the first
// one starting with prefix, that line's rest last ("" takes the first
// line). It gives up after 60 s or if the child exits first.
func (b *benchProcs) start(prefix string, args ...string) ([]string, error) {
	cmd := exec.Command(b.self, args...)
	cmd.Env = append(os.Environ(), b.env...)
	cmd.Stderr = io.Discard
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b.procs = append(b.procs, cmd)
	got := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var lines []string
		sent := false
		for sc.Scan() {
			if sent {
				continue
			}
			if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				got <- append(lines, v)
				sent = true
			} else {
				lines = append(lines, sc.Text())
			}
		}
		if !sent {
			close(got)
		}
	}()
	select {
	case v, ok := <-got:
		if !ok {
			return nil, fmt.Errorf("%v exited", args)
		}
		return v, nil
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("%v did not start", args)
	}
}

// value is start for the rest of the prefixed line alone.
func (b *benchProcs) value(prefix string, args ...string) (string, error) {
	lines, err := b.start(prefix, args...)
	if err != nil {
		return "", err
	}
	return lines[len(lines)-1], nil
}

// stop sends SIGTERM to every child and waits for them.
func (b *benchProcs) stop() {
	for _, p := range b.procs {
		p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range b.procs {
		p.Wait()
	}
}
