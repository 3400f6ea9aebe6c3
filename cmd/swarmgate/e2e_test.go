package main

// End-to-end tests: TestMain builds the swarmgate binary once, and the tests
// run it as real processes talking UDP over 127.0.0.1.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/store/sqlitestore"
)

// bin is the swarmgate binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "swarmgate-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "swarmgate")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building swarmgate:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// childEnv is the environment for children: no SWARMGATE_* twins leaking in
// from the caller's shell, state and temp files under dir.
func childEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SWARMGATE_") || strings.HasPrefix(kv, "XDG_STATE_HOME=") || strings.HasPrefix(kv, "TMPDIR=") {
			continue
		}
		env = append(env, kv)
	}
	// SWARMGATE_BOOTSTRAP=none: no child ever falls back to the public DHT
	// routers; tests that use the DHT pass loopback --bootstrap nodes.
	return append(env, "XDG_STATE_HOME="+filepath.Join(dir, "xdg-state"), "TMPDIR="+dir, "SWARMGATE_BOOTSTRAP=none")
}

// command returns a swarmgate child (or, when name is not "", another
// program wrapping it) in its own process group, killed at cleanup.
func command(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	if name == "" {
		name = bin
	}
	cmd := exec.Command(name, args...)
	cmd.Env = childEnv(t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t.Cleanup(func() {
		// Not cmd.ProcessState: another goroutine may be in cmd.Wait.
		// os.Process is safe to use concurrently; killing a finished
		// process group fails harmlessly.
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Process.Kill()
		}
	})
	return cmd
}

type result struct {
	stdout, stderr string
	code           int
	state          *os.ProcessState
}

// runBin runs swarmgate with args to completion within timeout.
func runBin(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	return runCmd(t, timeout, command(t, "", args...))
}

func runCmd(t *testing.T, timeout time.Duration, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(timeout):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("%v did not finish in %v\nstdout:\n%s\nstderr:\n%s", cmd.Args[1:], timeout, out.String(), errb.String())
	}
	return result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode(), state: cmd.ProcessState}
}

// mustSucceed fails the test unless r exited 0.
func mustSucceed(t *testing.T, r result, what string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d (%v)\nstdout:\n%s\nstderr:\n%s", what, r.code, r.state, r.stdout, r.stderr)
	}
}

// noCrash fails the test when stderr shows a Go panic or runtime trace, or
// the process died from a signal.
func noCrash(t *testing.T, r result, what string) {
	t.Helper()
	for _, s := range []string{"panic", "goroutine ", "runtime error", "SIGSEGV"} {
		if strings.Contains(r.stderr, s) {
			t.Errorf("%s: stderr has %q (a crash, not a clear error):\n%s", what, s, r.stderr)
		}
	}
	if ws, ok := r.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Errorf("%s: killed by signal %v, want a clean non-zero exit", what, ws.Signal())
	}
}

// writeRandom writes n pseudo-random bytes to path and returns their SHA-256.
func writeRandom(t *testing.T, path string, n int64, seed uint64) [32]byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'e', '2', 'e'})
	if _, err := io.CopyN(w, r, n); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func fileSum(t *testing.T, path string) ([32]byte, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, n
}

// sameContent fails the test unless path holds size bytes summing to want.
func sameContent(t *testing.T, path string, want [32]byte, size int64) {
	t.Helper()
	got, n := fileSum(t, path)
	if n != size || got != want {
		t.Fatalf("%s: %d bytes, sha256 %x; want %d bytes, sha256 %x", path, n, got, size, want)
	}
}

// seeder is a running `swarmgate seed`.
type seeder struct {
	cmd    *exec.Cmd
	links  []string // one per file, as printed
	addr   string   // host:port from the first link
	stderr *syncBuffer
	done   chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startSeed runs `swarmgate seed files... --listen 127.0.0.1:0 --state DIR
// extra...` and waits for its links.
func startSeed(t *testing.T, files []string, extra ...string) *seeder {
	t.Helper()
	args := append([]string{"seed"}, files...)
	args = append(args, "--listen", "127.0.0.1:0", "--state", filepath.Join(t.TempDir(), "seedstate"))
	args = append(args, extra...)
	cmd := command(t, "", args...)
	s := &seeder{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		cmd.Wait()
		close(s.done)
	}()
	timeout := time.After(30 * time.Second)
	for len(s.links) < len(files) {
		select {
		case l, ok := <-lines:
			if !ok {
				<-s.done
				t.Fatalf("seed exited (%v) after %d of %d links; stderr:\n%s", cmd.ProcessState, len(s.links), len(files), s.stderr.String())
			}
			s.links = append(s.links, strings.TrimSpace(l))
		case <-timeout:
			t.Fatalf("seed printed %d of %d links in 30s; stderr:\n%s", len(s.links), len(files), s.stderr.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	s.addr = linkPeer(t, s.links[0])
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *seeder) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("seed did not exit within 10s of SIGTERM; stderr:\n%s", s.stderr.String())
	}
	if c := s.cmd.ProcessState.ExitCode(); c != 0 {
		t.Errorf("seed exited %d after SIGTERM; stderr:\n%s", c, s.stderr.String())
	}
}

var tswiftRE = regexp.MustCompile(`^tswift://(127\.0\.0\.1:[0-9]+)/([0-9a-f]{40})(\?.*)?$`)

func linkPeer(t *testing.T, l string) string {
	t.Helper()
	m := tswiftRE.FindStringSubmatch(l)
	if m == nil {
		t.Fatalf("seed link %q is not tswift://127.0.0.1:PORT/<40 hex>", l)
	}
	return m[1]
}

func linkRoot(t *testing.T, l string) string {
	t.Helper()
	m := tswiftRE.FindStringSubmatch(l)
	if m == nil {
		t.Fatalf("seed link %q is not tswift://127.0.0.1:PORT/<40 hex>", l)
	}
	return m[2]
}

// hashRoot runs `swarmgate hash` and returns the first stdout line.
func hashRoot(t *testing.T, args ...string) string {
	t.Helper()
	r := runBin(t, 30*time.Second, append([]string{"hash"}, args...)...)
	mustSucceed(t, r, "hash")
	first, _, _ := strings.Cut(r.stdout, "\n")
	return first
}

func readStats(t *testing.T, path string) runStats {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	var s runStats
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("stats %s: %v", b, err)
	}
	return s
}

func TestE2EHashVectors(t *testing.T) {
	dir := t.TempDir()
	pattern := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i % 256)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		content []byte
		args    []string
		want    string
	}{
		{"7162", pattern(7162), nil, "3fe09e8e9e0f8225462a0ceea069aa9edfb8d153"},
		{"1048577", pattern(1048577), nil, "f8c5af420dca5e9d8a95a4cde5f91212a12a89f5"},
		{"1048577-cs8192", pattern(1048577), []string{"--chunk-size", "8192"}, "de1c026aae187b7e5e43c7d143cdaf8391ccf311"},
		{"123nl", []byte("123\n"), nil, "a8fdc205a9f19cc1c7507a60c4f01b13d11d7fd0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			if got := hashRoot(t, append([]string{p}, tc.args...)...); got != tc.want {
				t.Errorf("hash %s %v: first line %q, want %q", tc.name, tc.args, got, tc.want)
			}
		})
	}
	// The flag may also come first, and the environment twin works.
	p := filepath.Join(dir, "1048577")
	if got := hashRoot(t, "--chunk-size", "8192", p); got != "de1c026aae187b7e5e43c7d143cdaf8391ccf311" {
		t.Errorf("hash --chunk-size 8192 FILE: %q", got)
	}
	cmd := command(t, "", "hash", p)
	cmd.Env = append(cmd.Env, "SWARMGATE_CHUNK_SIZE=8192")
	r := runCmd(t, 30*time.Second, cmd)
	mustSucceed(t, r, "hash with SWARMGATE_CHUNK_SIZE")
	if first, _, _ := strings.Cut(r.stdout, "\n"); first != "de1c026aae187b7e5e43c7d143cdaf8391ccf311" {
		t.Errorf("SWARMGATE_CHUNK_SIZE=8192 hash: %q", first)
	}
}

func TestE2ESeedGet(t *testing.T) {
	dir := t.TempDir()
	const size = 8<<20 + 12345
	content := filepath.Join(dir, "content.bin")
	want := writeRandom(t, content, size, 1)
	s := startSeed(t, []string{content}, "--stats-json", filepath.Join(dir, "seed.json"))
	root := linkRoot(t, s.links[0])
	if hr := hashRoot(t, content); hr != root {
		t.Fatalf("seed link root %s, hash says %s", root, hr)
	}
	if !strings.Contains(s.links[0], fmt.Sprintf("cl=%d", size)) {
		t.Errorf("seed link %q lacks cl=%d", s.links[0], size)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"tswift-link", []string{s.links[0]}},
		{"root-peer", []string{root, "--peer", s.addr}},
		{"peer-first", []string{"--peer", s.addr, root}},
		{"ppsp-root-peer", []string{"ppsp://" + root, "--peer", s.addr}},
		{"ppsp-peer-in-link", []string{"ppsp://" + s.addr + "/" + root}},
		{"https-gateway-peer", []string{fmt.Sprintf("https://gw.example/%s?cl=%d", root, size), "--peer", s.addr}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.bin")
			stats := filepath.Join(t.TempDir(), "get.json")
			args := append([]string{"get", "-o", out, "--stats-json", stats, "--stall", "20s"}, tc.args...)
			r := runBin(t, 30*time.Second, args...)
			mustSucceed(t, r, "get")
			noCrash(t, r, "get")
			sameContent(t, out, want, size)
			if fi, err := os.Stat(out + ".swarmgate"); err != nil || !fi.IsDir() {
				t.Errorf("default state dir %s.swarmgate: %v", out, err)
			}
			if !strings.Contains(r.stderr, "verified") {
				t.Errorf("get stderr lacks a verified line:\n%s", r.stderr)
			}
			st := readStats(t, stats)
			if st.Content != size || st.WireRecv < size {
				t.Errorf("stats %+v: want content_bytes %d and wire_bytes_recv >= it", st, size)
			}
			// Rerunning a complete download succeeds without refetching.
			r = runBin(t, 30*time.Second, args...)
			mustSucceed(t, r, "get rerun")
			sameContent(t, out, want, size)
			if st := readStats(t, stats); st.WireRecv > size/10 {
				t.Errorf("rerun of a complete get received %d bytes, want ~0", st.WireRecv)
			}
		})
	}
	t.Run("explicit-state", func(t *testing.T) {
		d := t.TempDir()
		out, state := filepath.Join(d, "out.bin"), filepath.Join(d, "mystate")
		r := runBin(t, 30*time.Second, "get", root, "--peer", s.addr, "-o", out, "--state", state)
		mustSucceed(t, r, "get --state")
		sameContent(t, out, want, size)
		if _, err := os.Stat(filepath.Join(state, "swarmgate.db")); err != nil {
			t.Errorf("--state dir unused: %v", err)
		}
		if _, err := os.Stat(out + ".swarmgate"); err == nil {
			t.Errorf("%s.swarmgate created although --state was given", out)
		}
	})
	s.stop(t)
	st := readStats(t, filepath.Join(dir, "seed.json"))
	if st.WireSent < size || st.Content != size {
		t.Errorf("seed stats %+v: want content_bytes %d and wire_bytes_sent >= it", st, size)
	}
}

func TestE2ESeedTwoFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.bin"), filepath.Join(dir, "b.bin")
	wa := writeRandom(t, a, 300_001, 2)
	wb := writeRandom(t, b, 1<<20, 3)
	s := startSeed(t, []string{a, b})
	if len(s.links) != 2 || linkPeer(t, s.links[1]) != s.addr || linkRoot(t, s.links[0]) == linkRoot(t, s.links[1]) {
		t.Fatalf("links %q: want two tswift links on one port with distinct roots", s.links)
	}
	for i, tc := range []struct {
		want [32]byte
		size int64
	}{{wa, 300_001}, {wb, 1 << 20}} {
		out := filepath.Join(dir, fmt.Sprintf("out%d", i))
		mustSucceed(t, runBin(t, 30*time.Second, "get", s.links[i], "-o", out), "get")
		sameContent(t, out, tc.want, tc.size)
	}
}

func TestE2EThreeSeeders(t *testing.T) {
	dir := t.TempDir()
	const size = 8 << 20
	content := filepath.Join(dir, "content.bin")
	want := writeRandom(t, content, size, 4)
	var peerArgs []string
	var seeds []*seeder
	for range 3 {
		s := startSeed(t, []string{content}, "--stats-json", filepath.Join(t.TempDir(), "seed.json"))
		seeds = append(seeds, s)
		peerArgs = append(peerArgs, "--peer", s.addr)
	}
	root := linkRoot(t, seeds[0].links[0])
	for _, s := range seeds[1:] {
		if r := linkRoot(t, s.links[0]); r != root {
			t.Fatalf("seeders disagree on the root: %s vs %s", r, root)
		}
	}
	out := filepath.Join(dir, "out.bin")
	r := runBin(t, 30*time.Second, append([]string{"get", root, "-o", out, "--stall", "20s"}, peerArgs...)...)
	mustSucceed(t, r, "get from three seeders")
	noCrash(t, r, "get")
	sameContent(t, out, want, size)
	// All three as one comma-separated --peer works too.
	out2 := filepath.Join(dir, "out2.bin")
	mustSucceed(t, runBin(t, 30*time.Second, "get", root, "-o", out2, "--peer",
		seeds[0].addr+","+seeds[1].addr+","+seeds[2].addr), "get --peer A,B,C")
	sameContent(t, out2, want, size)
}

var pctRE = regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?)%`)

// killAt runs a get and SIGKILLs it once its progress bar shows at least
// pct percent. It reports whether it killed it (false: the run ended first)
// and the percentage shown at the kill.
func killAt(t *testing.T, args []string, pct float64) (bool, float64, string) {
	t.Helper()
	get := command(t, "", args...)
	errPipe, err := get.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := get.Start(); err != nil {
		t.Fatal(err)
	}
	killedAt := -1.0
	var log strings.Builder
	br := bufio.NewReader(errPipe)
	deadline := time.AfterFunc(60*time.Second, func() { get.Process.Kill() })
	for {
		line, err := br.ReadString('\r')
		log.WriteString(line)
		if m := pctRE.FindAllStringSubmatch(line, -1); m != nil && killedAt < 0 {
			p, _ := strconv.ParseFloat(m[len(m)-1][1], 64)
			if p >= pct && p < 100 {
				get.Process.Signal(syscall.SIGKILL)
				killedAt = p
			}
		}
		if err != nil {
			break
		}
	}
	deadline.Stop()
	get.Wait()
	if killedAt < 0 {
		// Not killed: the get must have completed, not failed (a failed
		// run would otherwise be taken for a complete one).
		if !get.ProcessState.Success() {
			t.Fatalf("the get ended before %.0f%% without completing: %v; stderr:\n%s", pct, get.ProcessState, log.String())
		}
		return false, 0, log.String()
	}
	if ws, _ := get.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		if get.ProcessState.Success() {
			// It completed between the bar's line and the kill.
			t.Logf("the get completed as it was killed at %.0f%%", killedAt)
			return false, killedAt, log.String()
		}
		t.Fatalf("%v, want killed by SIGKILL at %.0f%%", get.ProcessState, killedAt)
	}
	return true, killedAt, log.String()
}

// verifiedInState opens the state directory of a killed get and returns how
// many chunks it holds as verified, and how many the content has.
func verifiedInState(t *testing.T, dir string) (uint64, int64) {
	t.Helper()
	st, err := sqlitestore.Open(sqlitestore.Config{Dir: dir})
	if err != nil {
		t.Fatalf("state after the kill: %v", err)
	}
	defer st.Close()
	list, err := st.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("state after the kill: %d swarms, %v", len(list), err)
	}
	sw, err := st.Open(list[0])
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	return sw.NumVerified(), sw.Info().NumChunks()
}

// TestE2EKillResume interrupts one download with kill -9 three times, aiming
// inside each of the three peaks of its content (RFC 7574 §5.3: 131072 +
// 65536 + 32768 chunks of 1 KiB), and resumes it each time with the same
// command; the last run completes. Issue 9: a resumed run used to stall at
// the end of the first peak, its peak hashes never stored.
func TestE2EKillResume(t *testing.T) {
	dir := t.TempDir()
	const size = (1<<17+1<<16+1<<15)<<10 - 100
	peakEnds := []uint64{1 << 17, 1<<17 + 1<<16, 1<<17 + 1<<16 + 1<<15}
	content := filepath.Join(dir, "content.bin")
	want := writeRandom(t, content, size, 5)
	s := startSeed(t, []string{content})
	out := filepath.Join(dir, "out.bin")
	state := out + ".swarmgate"
	args := []string{"get", s.links[0], "-o", out, "--stall", "20s", "--progress=true"}

	// Peaks: 0-57% of the content, 57-86%, 86-100%. The bar (redrawn every
	// 200 ms) lags what is verified, by some 20 MiB (9%) at loopback speed,
	// never leads it: run 1 dies inside
	// the first peak, run 2 past it (where resumes used to stall), run 3
	// past the second, inside the last unless it completes first.
	var have uint64
	for run, target := range []float64{25, 62, 88} {
		killed, at, log := killAt(t, args, target)
		if !killed {
			if run < 2 {
				t.Fatalf("run %d ended before reaching %.0f%%; stderr:\n%s", run+1, target, log)
			}
			// The last peak is 32 MiB: a fast machine may finish it
			// between two progress updates.
			t.Logf("run %d completed before %.0f%%", run+1, target)
			sameContent(t, out, want, size)
			return
		}
		n, total := verifiedInState(t, state)
		peak := 0
		for peak < len(peakEnds)-1 && n >= peakEnds[peak] {
			peak++
		}
		where := fmt.Sprintf("inside peak %d", peak+1)
		if int64(n) == total {
			where = "complete"
		}
		t.Logf("run %d killed at %.1f%%: %d of %d chunks verified (%s)", run+1, at, n, total, where)
		if n < have {
			t.Errorf("run %d: %d chunks verified, fewer than the %d before it", run+1, n, have)
		}
		if run > 0 && n <= peakEnds[run-1] {
			t.Errorf("run %d: killed at %.1f%% with %d chunks verified, not past peak %d (%d chunks)", run+1, at, n, run, peakEnds[run-1])
		}
		have = n
	}

	// The last run: resume to completion.
	stats := filepath.Join(dir, "get.json")
	r := runBin(t, 60*time.Second, append(args, "--stats-json", stats)...)
	mustSucceed(t, r, "resumed get")
	noCrash(t, r, "resumed get")
	sameContent(t, out, want, size)
	st := readStats(t, stats)
	if st.Content != size {
		t.Errorf("last run content_bytes %d, want %d", st.Content, size)
	}
	// What was verified at the last kill must not be fetched again; wire
	// overhead and retransmissions aside, 15% of size is the margin.
	left := max(0, size-int64(have)*1024)
	limit := uint64(left + size*15/100)
	t.Logf("last run received %d wire bytes for %d bytes left; limit %d", st.WireRecv, left, limit)
	if st.WireRecv > limit {
		t.Errorf("last run received %d bytes with %d left: want <= %d (resume refetched verified chunks)", st.WireRecv, left, limit)
	}
}

// errCase is a command that must fail with a clear message.
type errCase struct {
	name     string
	args     []string
	code     int // 0: any non-zero
	contains []string
}

func checkErr(t *testing.T, r result, tc errCase) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("%v: exit 0, want an error; stdout:\n%s\nstderr:\n%s", tc.args, r.stdout, r.stderr)
	}
	if tc.code != 0 && r.code != tc.code {
		t.Errorf("%v: exit %d, want %d; stderr:\n%s", tc.args, r.code, tc.code, r.stderr)
	}
	noCrash(t, r, strings.Join(tc.args, " "))
	for _, c := range tc.contains {
		if !strings.Contains(r.stderr, c) {
			t.Errorf("%v: stderr lacks %q:\n%s", tc.args, c, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, "swarmgate: ") {
		t.Errorf("%v: stderr lacks the \"swarmgate: \" error prefix:\n%s", tc.args, r.stderr)
	}
}

func TestE2EErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small")
	writeRandom(t, small, 5000, 6)
	const root = "3fe09e8e9e0f8225462a0ceea069aa9edfb8d153"
	seedState := filepath.Join(dir, "seedstate")
	for _, tc := range []errCase{
		{"malformed-link", []string{"get", "zzz", "-o", filepath.Join(dir, "x")}, 0, []string{"malformed", "zzz"}},
		{"bad-scheme", []string{"get", "ftp://h/" + root, "-o", filepath.Join(dir, "x")}, 0, []string{"scheme"}},
		{"short-root", []string{"get", "abcd", "--peer", "127.0.0.1:9", "-o", filepath.Join(dir, "x")}, 0, []string{"malformed"}},
		{"missing-o", []string{"get", root, "--peer", "127.0.0.1:9"}, 2, []string{"-o OUT is required"}},
		{"no-peers", []string{"get", root, "-o", filepath.Join(dir, "x")}, 2, []string{"no peers"}},
		{"get-two-links", []string{"get", root, root, "-o", filepath.Join(dir, "x")}, 2, []string{"one LINK"}},
		{"unknown-command", []string{"frobnicate"}, 2, []string{"unknown command", "frobnicate"}},
		{"unknown-flag", []string{"hash", small, "--frob"}, 2, []string{"frob"}},
		{"seed-missing-file", []string{"seed", "/nonexistent/file", "--listen", "127.0.0.1:0", "--state", seedState}, 0, []string{"/nonexistent/file", "no such file"}},
		{"seed-empty-file", []string{"seed", empty, "--listen", "127.0.0.1:0", "--state", seedState}, 0, []string{"empty file"}},
		{"seed-no-file", []string{"seed", "--listen", "127.0.0.1:0", "--state", seedState}, 2, []string{"at least one FILE"}},
		{"seed-directory", []string{"seed", dir, "--listen", "127.0.0.1:0", "--state", seedState}, 0, []string{"not a regular file"}},
		{"hash-missing-file", []string{"hash", "/nonexistent/file"}, 0, []string{"no such file"}},
		{"hash-empty-file", []string{"hash", empty}, 0, []string{"empty file"}},
		{"hash-bad-chunk-size", []string{"hash", small, "--chunk-size", "1000"}, 2, []string{"chunk size 1000"}},
		{"seed-bad-chunk-size", []string{"seed", small, "--chunk-size", "1000", "--listen", "127.0.0.1:0", "--state", seedState}, 2, []string{"chunk size 1000"}},
		{"get-bad-chunk-size", []string{"get", root, "--peer", "127.0.0.1:9", "-o", filepath.Join(dir, "y"), "--chunk-size", "1000"}, 0, []string{"chunk size 1000"}},
		{"link-bad-chunk-size", []string{"get", "https://gw.example/" + root + "?cs=1000", "--peer", "127.0.0.1:9", "-o", filepath.Join(dir, "x")}, 0, []string{"chunk size"}},
		{"bad-hash-func", []string{"hash", small, "--hash", "md5"}, 2, []string{"md5"}},
		{"bad-compat", []string{"get", root, "--peer", "127.0.0.1:9", "-o", filepath.Join(dir, "x"), "--compat", "nope"}, 2, []string{"--compat"}},
		{"bad-env-twin", []string{"hash", small}, 2, []string{"SWARMGATE_CHUNK_SIZE"}},
		{"bad-listen", []string{"seed", small, "--listen", "not-an-addr", "--state", seedState}, 0, []string{"listen"}},
		{"bench-unknown", []string{"bench", "frob"}, 2, []string{"frob"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := command(t, "", tc.args...)
			if tc.name == "bad-env-twin" {
				cmd.Env = append(cmd.Env, "SWARMGATE_CHUNK_SIZE=lots")
			}
			checkErr(t, runCmd(t, 20*time.Second, cmd), tc)
		})
	}
	// A malformed link is refused before anything is written.
	if _, err := os.Stat(filepath.Join(dir, "x.swarmgate")); err == nil {
		t.Errorf("a refused get left %s behind", filepath.Join(dir, "x.swarmgate"))
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Errorf("a refused get created its output file")
	}
}

func TestE2EPeerNeverAnswers(t *testing.T) {
	// A UDP port with nobody behind it: get gives up after --stall.
	out := filepath.Join(t.TempDir(), "out")
	t0 := time.Now()
	r := runBin(t, 30*time.Second, "get", "3fe09e8e9e0f8225462a0ceea069aa9edfb8d153", "--peer", "127.0.0.1:9", "-o", out, "--stall", "1s")
	checkErr(t, r, errCase{args: []string{"get", "--stall", "1s"}, code: 1, contains: []string{"no peer answered", "run again to resume"}})
	if d := time.Since(t0); d > 15*time.Second {
		t.Errorf("--stall 1s took %v to give up", d)
	}
}

func TestE2EPortInUse(t *testing.T) {
	dir := t.TempDir()
	content := filepath.Join(dir, "content.bin")
	writeRandom(t, content, 100_000, 7)
	s := startSeed(t, []string{content})
	r := runBin(t, 20*time.Second, "seed", content, "--listen", s.addr, "--state", filepath.Join(dir, "state2"))
	checkErr(t, r, errCase{args: []string{"seed", "--listen", s.addr}, code: 1, contains: []string{s.addr, "in use"}})
	// get refuses the same port too.
	r = runBin(t, 20*time.Second, "get", s.links[0], "-o", filepath.Join(dir, "out"), "--listen", s.addr)
	checkErr(t, r, errCase{args: []string{"get", "--listen", s.addr}, code: 1, contains: []string{"in use"}})
	// The first seeder is unharmed.
	out := filepath.Join(dir, "out2")
	mustSucceed(t, runBin(t, 30*time.Second, "get", s.links[0], "-o", out), "get after the port clash")
	want, _ := fileSum(t, content)
	sameContent(t, out, want, 100_000)
}

func TestE2EStateBelongsElsewhere(t *testing.T) {
	dir := t.TempDir()
	content := filepath.Join(dir, "content.bin")
	want := writeRandom(t, content, 200_000, 8)
	s := startSeed(t, []string{content})
	state := filepath.Join(dir, "shared-state")
	a := filepath.Join(dir, "a.bin")
	mustSucceed(t, runBin(t, 30*time.Second, "get", s.links[0], "-o", a, "--state", state), "get a")
	sameContent(t, a, want, 200_000)
	r := runBin(t, 30*time.Second, "get", s.links[0], "-o", filepath.Join(dir, "b.bin"), "--state", state)
	checkErr(t, r, errCase{args: []string{"get", "-o", "b.bin", "--state", state}, code: 1, contains: []string{"belongs to a download into", "--state"}})
}

// TestE2EFullDisk runs get under a 200 000-byte file size limit (RLIMIT_FSIZE)
// against a 2 MiB seed: it must fail cleanly (no SIGXFSZ death, no panic)
// with the write error, and resume to completion without the limit.
func TestE2EFullDisk(t *testing.T) {
	dir := t.TempDir()
	const size = 2 << 20
	content := filepath.Join(dir, "content.bin")
	want := writeRandom(t, content, size, 9)
	s := startSeed(t, []string{content})
	out := filepath.Join(dir, "out.bin")
	getArgs := []string{"get", s.links[0], "-o", out, "--stall", "10s"}
	var cmd *exec.Cmd
	if p, err := exec.LookPath("prlimit"); err == nil {
		cmd = command(t, p, append([]string{"--fsize=200000", bin}, getArgs...)...)
	} else {
		cmd = command(t, "/bin/sh", append([]string{"-c", `ulimit -f 200 && exec "$@"`, "sh", bin}, getArgs...)...)
	}
	r := runCmd(t, 30*time.Second, cmd)
	checkErr(t, r, errCase{args: cmd.Args, code: 1, contains: []string{"file too large", out}})
	if fi, err := os.Stat(out); err == nil && fi.Size() > 200_000 {
		t.Errorf("%s grew to %d bytes past the limit", out, fi.Size())
	}
	// Without the limit the same command resumes and completes.
	r = runBin(t, 30*time.Second, getArgs...)
	mustSucceed(t, r, "get after the full disk")
	sameContent(t, out, want, size)
}

func TestE2EBench(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"transfer", []string{"bench", "transfer", "--size", "8MiB"}, []string{"MiB/s", "verified", "1 seeder(s)"}},
		{"transfer-3", []string{"bench", "transfer", "--size", "8MiB", "--seeders", "3"}, []string{"MiB/s", "verified", "3 seeder(s)"}},
		{"lossy", []string{"bench", "lossy", "--size", "4MiB"}, []string{"MiB/s", "verified", "0 corrupt"}},
		// bench hash checks no content, so it prints no "verified".
		{"hash", []string{"bench", "hash", "--size", "16MiB"}, []string{"MiB/s", "x raw", "hash 16 MiB"}},
		{"mem", []string{"bench", "mem", "--size", "4MiB", "--swarms", "3", "--idle-release", "100ms"}, []string{"seed   3 swarms x 4MiB, idle:", "serving: RSS", "get of 4MiB: peak RSS", "idle again 3.1s after the get"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBin(t, 60*time.Second, tc.args...)
			mustSucceed(t, r, strings.Join(tc.args, " "))
			noCrash(t, r, tc.name)
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("%v stdout lacks %q:\n%s", tc.args, w, r.stdout)
				}
			}
		})
	}
	t.Run("transfer-json", func(t *testing.T) {
		r := runBin(t, 60*time.Second, "bench", "transfer", "--size", "1MiB", "--json")
		mustSucceed(t, r, "bench transfer --json")
		var v struct {
			Size     int64   `json:"size"`
			MiBs     float64 `json:"mib_per_s"`
			Verified bool    `json:"verified"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("bench --json: %v\n%s", err, r.stdout)
		}
		if v.Size != 1<<20 || !v.Verified || v.MiBs <= 0 {
			t.Errorf("bench --json: %+v", v)
		}
	})
}

func TestE2EUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"help"}, {"--help"}} {
		r := runBin(t, 10*time.Second, args...)
		mustSucceed(t, r, fmt.Sprint(args))
		for _, w := range []string{"swarmgate hash FILE", "swarmgate seed FILE", "swarmgate get LINK|ROOT"} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%v: usage lacks %q", args, w)
			}
		}
	}
	// -h on a command prints its flags, and no error line.
	for _, cmd := range []string{"hash", "seed", "get", "publish", "run", "gateway"} {
		r := runBin(t, 10*time.Second, cmd, "-h")
		noCrash(t, r, cmd+" -h")
		if !strings.Contains(r.stderr, "Usage of swarmgate "+cmd) || strings.Contains(r.stderr, "swarmgate: ") || r.stdout != "" {
			t.Errorf("%s -h: exit %d, stdout %q, stderr:\n%s", cmd, r.code, r.stdout, r.stderr)
		}
	}
}

// TestE2EHelpExitsZero: asking for help is not a failure. Today `swarmgate
// get -h` exits 1 (parse maps flag.ErrHelp to errQuiet, and main exits 1 on
// every error but errUsage). Fix: return a distinct errHelp from parse for
// flag.ErrHelp and have main exit 0 on it.
func TestE2EHelpExitsZero(t *testing.T) {
	for _, cmd := range []string{"hash", "seed", "get", "publish", "run", "gateway"} {
		if r := runBin(t, 10*time.Second, cmd, "-h"); r.code != 0 {
			t.Errorf("%s -h: exit %d, want 0", cmd, r.code)
		}
	}
}
