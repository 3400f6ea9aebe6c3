//go:build linux

package sqlitestore_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/sqlitestore"
	"github.com/swarmgate/swarmgate/internal/store/storetest"
)

// Environment variables that make a test binary run a child role.
const (
	envCrashDir    = "SWARMGATE_STORE_TEST_CRASH_DIR"
	envCrashMode   = "SWARMGATE_STORE_TEST_CRASH_MODE"
	envFullDiskDir = "SWARMGATE_STORE_TEST_FULLDISK_DIR"
)

const (
	crashChunks  = 20000
	crashSeed    = "crash"
	crashFlushes = 64 // chunks between the child's Flush calls
)

func crashInfo() store.Info {
	return store.Info{SwarmID: storetest.ID(crashSeed, 0), ChunkSize: 1024, Length: crashChunks*1024 - 123, Name: crashSeed}
}

// crashOrder is the order the child writes chunks in: shuffled, like a
// rarest-first download.
func crashOrder() []uint64 {
	p := make([]uint64, crashChunks)
	for i := range p {
		p[i] = uint64(i)
	}
	r := rand.New(rand.NewPCG(7, 7))
	r.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

// TestCrashChild is the child of TestKill9 and TestKill9Background: it
// writes chunks and leaf hashes until it is killed. In mode "flush" it
// calls Flush every 64 chunks and then prints "flushed K" (the first K
// chunks of crashOrder are durable), with background checkpoints every
// 2 ms besides. In mode "background" it never calls Flush, checkpoints run
// every 20 ms, and it prints "written K" every 100 chunks, pausing 10 ms.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("child of TestKill9 only")
	}
	background := os.Getenv(envCrashMode) == "background"
	interval := 2 * time.Millisecond
	if background {
		interval = 20 * time.Millisecond
	}
	s, err := sqlitestore.Open(sqlitestore.Config{Dir: dir, FlushInterval: interval})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	sw, err := s.Open(crashInfo())
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	in := sw.Info()
	for k, c := range crashOrder() {
		if err := sw.WriteChunk(c, storetest.ChunkData(crashSeed, c, in.ChunkLen(c))); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		if err := sw.PutHash(2*c, storetest.HashData(crashSeed, 2*c, 20)); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		switch {
		case background && (k+1)%100 == 0:
			fmt.Printf("written %d\n", k+1)
			time.Sleep(10 * time.Millisecond)
		case !background && (k+1)%crashFlushes == 0:
			if err := sw.Flush(); err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
			fmt.Printf("flushed %d\n", k+1)
		}
	}
	fmt.Println("done")
	time.Sleep(time.Minute) // wait to be killed
	os.Exit(3)
}

// TestKill9 SIGKILLs a child that is writing chunks and checks what a new
// Store finds: every chunk the child saw flushed is verified, every verified
// chunk reads back the bytes written, and so does every stored hash.
func TestKill9(t *testing.T) {
	if os.Getenv(envCrashDir) != "" {
		t.Skip("in child")
	}
	for round, flushesBeforeKill := range []int{1, 7, 25} {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			dir := t.TempDir()
			flushed, seen := 0, 0
			runAndKill(t, dir, "flush", func(line string, _ time.Time) bool {
				n, ok := strings.CutPrefix(line, "flushed ")
				if !ok {
					return false
				}
				flushed, _ = strconv.Atoi(n)
				if seen++; seen == flushesBeforeKill {
					// Land the kill somewhere inside the next flush window.
					time.Sleep(time.Duration(rand.IntN(20000)) * time.Microsecond)
					return true
				}
				return false
			})
			if flushed == 0 {
				t.Fatal("child never flushed")
			}
			nv := checkAfterCrash(t, dir, flushed)
			t.Logf("child flushed %d chunks; after kill -9: %d verified", flushed, nv)
		})
	}
}

// TestKill9Background is TestKill9 without Flush calls: the background
// checkpoints (every 20 ms here) alone must have made durable everything
// written a second before the kill.
func TestKill9Background(t *testing.T) {
	if os.Getenv(envCrashDir) != "" {
		t.Skip("in child")
	}
	dir := t.TempDir()
	type report struct {
		n  int
		at time.Time
	}
	var reports []report
	start := time.Now()
	runAndKill(t, dir, "background", func(line string, at time.Time) bool {
		n, ok := strings.CutPrefix(line, "written ")
		if !ok {
			return line == "done"
		}
		k, _ := strconv.Atoi(n)
		reports = append(reports, report{k, at})
		return at.Sub(start) > 1500*time.Millisecond
	})
	killAt := time.Now() // runAndKill returns just after the kill
	durable := 0
	for _, r := range reports {
		if killAt.Sub(r.at) >= time.Second {
			durable = r.n
		}
	}
	if len(reports) == 0 {
		t.Fatal("child wrote nothing")
	}
	nv := checkAfterCrash(t, dir, durable)
	t.Logf("child wrote %d chunks, %d of them a second before the kill; after kill -9: %d verified",
		reports[len(reports)-1].n, durable, nv)
}

// runAndKill runs TestCrashChild in mode on dir, passes each line of its
// output to kill until that returns true, then SIGKILLs it.
func runAndKill(t *testing.T, dir, mode string, kill func(line string, at time.Time) bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashMode+"="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "error") {
			t.Fatalf("child: %s", line)
		}
		if kill(line, time.Now()) {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // the lines written before the kill still count
		kill(sc.Text(), time.Now())
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\n%s", err, stderr.Bytes())
	}
}

// checkAfterCrash opens the store the child left and checks that the first
// durable chunks of crashOrder are verified, that every verified chunk and
// stored hash holds what the child wrote, and that the download resumes.
// It returns the number of verified chunks found.
func checkAfterCrash(t *testing.T, dir string, durable int) uint64 {
	t.Helper()
	s := openStore(t, dir)
	defer s.Close()
	sw, err := s.Open(crashInfo())
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	in := sw.Info()
	order := crashOrder()
	for _, c := range order[:durable] {
		if !sw.Have(c) {
			t.Fatalf("chunk %d, durable before the kill, is not verified", c)
		}
	}
	nv := sw.NumVerified()
	if nv < uint64(durable) {
		t.Fatalf("NumVerified %d < %d durable", nv, durable)
	}
	buf := make([]byte, 1024)
	var count uint64
	for _, r := range sw.Verified() {
		for c := r.Start; c <= r.End; c++ {
			count++
			n, err := sw.ReadChunk(c, buf)
			if err != nil {
				t.Fatalf("ReadChunk(%d): %v", c, err)
			}
			if !bytes.Equal(buf[:n], storetest.ChunkData(crashSeed, c, in.ChunkLen(c))) {
				t.Fatalf("verified chunk %d does not hold the bytes written", c)
			}
		}
	}
	if count != nv {
		t.Fatalf("Verified covers %d chunks, NumVerified %d", count, nv)
	}
	hashes := 0
	if err := sw.Hashes(func(b uint64, h []byte) {
		hashes++
		if !bytes.Equal(h, storetest.HashData(crashSeed, b, 20)) {
			t.Fatalf("stored hash of bin %d differs from the one put", b)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if hashes < durable {
		t.Fatalf("%d hashes < %d durable", hashes, durable)
	}
	// The store resumes: the missing chunks can be written.
	for _, c := range order {
		if err := sw.WriteChunk(c, storetest.ChunkData(crashSeed, c, in.ChunkLen(c))); err != nil {
			t.Fatal(err)
		}
	}
	if sw.NumVerified() != crashChunks {
		t.Fatalf("NumVerified %d after resuming", sw.NumVerified())
	}
	return nv
}

// TestFullDiskChild is the child of TestFullDisk. RLIMIT_FSIZE makes writes
// past 1 MiB fail with EFBIG, as a full disk would with ENOSPC.
func TestFullDiskChild(t *testing.T) {
	dir := os.Getenv(envFullDiskDir)
	if dir == "" {
		t.Skip("child of TestFullDisk only")
	}
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL "+format+"\n", args...)
		os.Exit(2)
	}
	const limit = 1 << 20
	s, err := sqlitestore.Open(sqlitestore.Config{Dir: dir, FlushInterval: -1})
	if err != nil {
		fail("open: %v", err)
	}
	in := store.Info{SwarmID: storetest.ID("full", 0), ChunkSize: 1024, Length: 64 << 20}
	sw, err := s.Open(in)
	if err != nil {
		fail("open swarm: %v", err)
	}
	signal.Ignore(syscall.SIGXFSZ)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &rl); err != nil {
		fail("getrlimit: %v", err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: rl.Max}); err != nil {
		fail("setrlimit: %v", err)
	}
	// WriteChunk buffers small chunks, so the error shows at the write that
	// finds the buffer full and cannot empty it.
	var accepted uint64
	for {
		err = sw.WriteChunk(accepted, storetest.ChunkData("full", accepted, 1024))
		if err != nil {
			break
		}
		if accepted++; accepted > limit/1024+1024 {
			fail("no error writing %d chunks with a %d-byte file size limit", accepted, limit)
		}
	}
	if !errors.Is(err, syscall.EFBIG) || !strings.Contains(err.Error(), fmt.Sprintf("write chunk %d", accepted)) {
		fail("WriteChunk past the limit: err = %v, want a wrapped EFBIG naming the chunk", err)
	}
	fmt.Println("write error:", err)
	if accepted < limit/1024 {
		fail("only %d chunks accepted below the limit", accepted)
	}
	if sw.Have(accepted) || sw.NumVerified() != accepted {
		fail("failed chunk marked verified")
	}
	if err := sw.WriteChunk(accepted, storetest.ChunkData("full", accepted, 1024)); !errors.Is(err, syscall.EFBIG) {
		fail("second WriteChunk on a full disk: %v", err)
	}
	// Buffered chunks stay readable while the disk is full.
	buf := make([]byte, 1024)
	if n, err := sw.ReadChunk(accepted-1, buf); err != nil || !bytes.Equal(buf[:n], storetest.ChunkData("full", accepted-1, 1024)) {
		fail("ReadChunk of a buffered chunk: %v", err)
	}
	// A tree node past the limit: buffered, then the flush fails.
	bigBin := uint64(limit/20 + 1000)
	if err := sw.PutHash(bigBin, storetest.HashData("full", bigBin, 20)); err != nil {
		fail("PutHash: %v", err)
	}
	err = sw.Flush()
	if !errors.Is(err, syscall.EFBIG) {
		fail("Flush with the tree write failing: err = %v, want EFBIG", err)
	}
	fmt.Println("flush error:", err)
	if h, err := sw.Hash(bigBin); err != nil || !bytes.Equal(h, storetest.HashData("full", bigBin, 20)) {
		fail("buffered hash lost: %v", err)
	}
	// Space again.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &rl); err != nil {
		fail("setrlimit: %v", err)
	}
	if err := sw.Flush(); err != nil {
		fail("Flush after the disk has room: %v", err)
	}
	if err := sw.Close(); err != nil {
		fail("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		fail("store Close: %v", err)
	}
	fmt.Printf("accepted %d\nOK\n", accepted)
	os.Exit(0)
}

// TestFullDisk runs TestFullDiskChild and checks the state it left.
func TestFullDisk(t *testing.T) {
	if os.Getenv(envFullDiskDir) != "" {
		t.Skip("in child")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullDiskChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envFullDiskDir+"="+dir)
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil || !bytes.Contains(out, []byte("\nOK\n")) {
		t.Fatalf("child: %v", err)
	}
	s := openStore(t, dir)
	defer s.Close()
	sw, err := s.Open(store.Info{SwarmID: storetest.ID("full", 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	_, after, _ := bytes.Cut(out, []byte("accepted "))
	line, _, _ := bytes.Cut(after, []byte("\n"))
	accepted, err := strconv.ParseUint(string(line), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if sw.NumVerified() != accepted || sw.Have(accepted) {
		t.Fatalf("after reopen: %d verified, Have(%d) = %v; want the %d accepted", sw.NumVerified(), accepted, sw.Have(accepted), accepted)
	}
	buf := make([]byte, 1024)
	for c := range accepted {
		if n, err := sw.ReadChunk(c, buf); err != nil || !bytes.Equal(buf[:n], storetest.ChunkData("full", c, 1024)) {
			t.Fatalf("ReadChunk(%d) after reopen: %v", c, err)
		}
	}
	bigBin := uint64(1<<20/20 + 1000)
	if h, err := sw.Hash(bigBin); err != nil || !bytes.Equal(h, storetest.HashData("full", bigBin, 20)) {
		t.Fatalf("Hash(%d) after reopen = %x, %v", bigBin, h, err)
	}
}
