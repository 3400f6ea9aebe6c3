package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/node"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/sqlitestore"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// benchMem measures the memory of one process seeding many large swarms
// (issue 10): it prepares sparse content files (zeros but for a distinct
// first chunk, so every swarm has its own root) with their hash trees in a
// state directory, then for each swarm count starts a seeding process over
// that state (a restart: no re-hash) and prints its RSS and anonymous RSS
// idle and while serving a `swarmgate get` of one swarm, and the get's
// peak RSS.
func benchMem(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench mem", stderr)
	size := sizeFlag(1 << 30)
	fs.Var(&size, "size", "content size of each swarm, a power of two times 1 KiB (e.g. 1GiB)")
	counts := fs.String("swarms", "1,10,100", "comma-separated swarm counts to measure")
	dir := fs.String("dir", "", "directory for content and state, kept for reuse (default: a temporary one)")
	get := fs.Bool("get", true, "also measure while serving a download of one swarm")
	profile := fs.String("memprofile", "", "write heap profiles to PREFIX-seed-N-idle.heap, PREFIX-seed-N-serving.heap and PREFIX-get.heap")
	idle := fs.Duration("idle-release", 2*time.Second, "the seeder's --idle-release; the seeder is measured again this long (plus 3 s) after the get")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	var ns []int
	maxN := 0
	for _, f := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("%w: --swarms %q", errUsage, *counts)
		}
		ns = append(ns, n)
		maxN = max(maxN, n)
	}
	const cs = 1024
	nchunks := uint64(size) / cs
	if int64(nchunks)*cs != int64(size) || nchunks&(nchunks-1) != 0 {
		return fmt.Errorf("%w: --size %d is not a power of two times 1 KiB", errUsage, size)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "swarmgate-bench-mem-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if err := checkUniformTree(); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	state := filepath.Join(*dir, fmt.Sprintf("state-%s", sizeString(int64(size))))
	t0 := time.Now()
	if err := prepareUniform(*dir, state, maxN, int64(size)); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "prepared %d swarms of %s in %.1fs\n", maxN, sizeString(int64(size)), time.Since(t0).Seconds())
	// What the binary alone costs: its mapped text and data, file-backed
	// (shared by every swarmgate process, dropped by the kernel under
	// pressure); its size depends on how the file came into the page cache
	// (freshly written: large folios, mapped whole).
	h := exec.CommandContext(ctx, exe, "-h")
	h.Stdout, h.Stderr = io.Discard, io.Discard
	if err := h.Run(); err != nil {
		return fmt.Errorf("swarmgate -h: %w", err)
	}
	if ru, ok := h.ProcessState.SysUsage().(*syscall.Rusage); ok {
		fmt.Fprintf(stdout, "swarmgate -h (the binary alone): peak RSS %6.1f MiB\n", mib(ru.Maxrss<<10))
	}
	for _, n := range ns {
		if err := memRun(ctx, exe, *dir, state, n, int64(size), *get, *profile, *idle, stdout); err != nil {
			return err
		}
	}
	return nil
}

// memRun starts the seeding child over state and prints its figures.
func memRun(ctx context.Context, exe, dir, state string, n int, size int64, get bool, profile string, idle time.Duration, stdout io.Writer) error {
	args := []string{"bench", "mem-seed", "--state", state, "--count", strconv.Itoa(n), "--idle-release", idle.String()}
	if profile != "" {
		args = append(args, "--memprofile", fmt.Sprintf("%s-seed-%d", profile, n))
	}
	child := exec.CommandContext(ctx, exe, args...)
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		return err
	}
	defer func() {
		child.Process.Signal(syscall.SIGTERM)
		child.Wait()
	}()
	br := bufio.NewReader(out)
	line, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("mem-seed: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ready" {
		return fmt.Errorf("mem-seed: %q", line)
	}
	addr, link := f[1], f[2]
	time.Sleep(2 * time.Second) // let the start-up garbage be collected
	cpu0 := procCPU(child.Process.Pid)
	const idleFor = 3 * time.Second
	time.Sleep(idleFor)
	cpu1 := procCPU(child.Process.Pid)
	rss, anon, err := procRSS(child.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seed %3d swarms x %s, idle:    RSS %6.1f MiB, anonymous %6.1f MiB, CPU %.1f%% of a core\n",
		n, sizeString(size), mib(rss), mib(anon), 100*(cpu1-cpu0)/idleFor.Seconds())
	if !get {
		return nil
	}
	outFile := filepath.Join(dir, "get.out")
	os.Remove(outFile)
	os.RemoveAll(outFile + ".swarmgate")
	defer os.Remove(outFile)
	defer os.RemoveAll(outFile + ".swarmgate")
	gargs := []string{"get", link, "--peer", addr, "-o", outFile, "--progress=false"}
	if profile != "" {
		gargs = append(gargs, "--memprofile", profile+"-get.heap")
	}
	g := exec.CommandContext(ctx, exe, gargs...)
	g.Stderr = io.Discard
	if err := g.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	var maxRSS, maxAnon, getAnon int64
	t0 := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("get: %w", err)
			}
			secs := time.Since(t0).Seconds()
			var getRSS int64
			if ru, ok := g.ProcessState.SysUsage().(*syscall.Rusage); ok {
				getRSS = ru.Maxrss << 10
			}
			fmt.Fprintf(stdout, "seed %3d swarms x %s, serving: RSS %6.1f MiB, anonymous %6.1f MiB (peak of 100 ms samples)\n", n, sizeString(size), mib(maxRSS), mib(maxAnon))
			fmt.Fprintf(stdout, "get of %s: peak RSS %6.1f MiB, anonymous %6.1f MiB (peak of 100 ms samples), %.1f s (%.1f MiB/s)\n",
				sizeString(size), mib(getRSS), mib(getAnon), secs, float64(size)/secs/(1<<20))
			if idle > 0 {
				// The downloader left: the swarm drops its tree pages
				// after idle, the runtime returns the freed heap.
				select {
				case <-time.After(idle + 3*time.Second):
				case <-ctx.Done():
					return ctx.Err()
				}
				rss, anon, err := procRSS(child.Process.Pid)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "seed %3d swarms x %s, idle again %v after the get: RSS %6.1f MiB, anonymous %6.1f MiB\n",
					n, sizeString(size), idle+3*time.Second, mib(rss), mib(anon))
			}
			return nil
		case <-tick.C:
			r, a, err := procRSS(child.Process.Pid)
			if err == nil {
				maxRSS, maxAnon = max(maxRSS, r), max(maxAnon, a)
			}
			if _, a, err := procRSS(g.Process.Pid); err == nil {
				getAnon = max(getAnon, a)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func sizeString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprint(n)
}

// procRSS reads VmRSS and RssAnon of a process from /proc (Linux).
func procRSS(pid int) (rss, anon int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v << 10
		case "RssAnon:":
			anon = v << 10
		}
	}
	return rss, anon, nil
}

// benchMemSeed is the child of bench mem: it seeds every swarm of the
// state directory as a restarted seeder does (state loaded, nothing
// re-hashed) and prints "ready ADDR LINK" (LINK: the first swarm).
func benchMemSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench mem-seed", stderr)
	state := fs.String("state", "", "state directory prepared by bench mem")
	count := fs.Int("count", 0, "seed the first COUNT swarms only (default all)")
	hcache := hashCacheFlag(fs, seedHashCache)
	idle := idleReleaseFlag(fs)
	profile := fs.String("memprofile", "", "write heap profiles to PREFIX-idle.heap a second after start and PREFIX-serving.heap at exit, and a CPU profile to PREFIX.cpu")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *profile != "" {
		runtime.MemProfileRate = 4096
		f, err := os.Create(*profile + ".cpu")
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	p, err := node.Open(node.Config{Listen: "127.0.0.1:0", StateDir: *state, Engine: swarm.Config{HashCache: int(*hcache), IdleRelease: *idle}})
	if err != nil {
		return err
	}
	defer p.Close()
	infos, err := p.Store.List()
	if err != nil {
		return err
	}
	if len(infos) == 0 {
		return errors.New("no swarms in the state directory")
	}
	if *count > 0 && *count < len(infos) {
		infos = infos[:*count]
	}
	for _, in := range infos {
		sw, err := p.Store.Open(in)
		if err != nil {
			return err
		}
		defer sw.Close()
		if _, err := p.Engine.Add(swarm.SwarmConfig{Store: sw}); err != nil {
			return err
		}
	}
	stop := node.RunEngine(ctx, p.Engine)
	fmt.Fprintf(stdout, "ready %s %x\n", p.Conn.LocalAddr(), infos[0].SwarmID)
	if f, ok := stdout.(interface{ Sync() error }); ok {
		f.Sync()
	}
	if *profile != "" {
		select {
		case <-time.After(time.Second):
			if err := writeHeapProfile(*profile + "-idle.heap"); err != nil {
				return err
			}
		case <-ctx.Done():
		}
	}
	<-ctx.Done()
	if *profile != "" {
		if err := writeHeapProfile(*profile + "-serving.heap"); err != nil {
			return err
		}
	}
	return stop()
}

// uniformChunk0 is the first chunk of swarm i's content: i+1 as 8 bytes,
// then zeros. Every other chunk is zero.
func uniformChunk0(i int) []byte {
	b := make([]byte, 1024)
	binary.LittleEndian.PutUint64(b, uint64(i)+1)
	return b
}

// uniformTree returns the node hashes of such content of n chunks (a power
// of two), SHA-1 (RFC 7574 §5.1): per layer the hash of the subtree holding
// chunk 0 and that of an all-zero subtree.
func uniformTree(i int, n uint64) (path, zero [][sha1.Size]byte) {
	p, z := sha1.Sum(uniformChunk0(i)), sha1.Sum(make([]byte, 1024))
	path, zero = append(path, p), append(zero, z)
	for w := uint64(2); w <= n; w *= 2 {
		p = sha1.Sum(append(p[:], z[:]...))
		z = sha1.Sum(append(z[:], z[:]...))
		path, zero = append(path, p), append(zero, z)
	}
	return path, zero
}

// checkUniformTree checks uniformTree against merkle.Build on real bytes.
func checkUniformTree() error {
	const n = 1 << 10
	data := make([]byte, n*1024)
	copy(data, uniformChunk0(5))
	t, err := merkle.Build(bytes.NewReader(data), int64(len(data)), merkle.Options{}, 1)
	if err != nil {
		return err
	}
	path, _ := uniformTree(5, n)
	if !bytes.Equal(t.Root(), path[len(path)-1][:]) {
		return errors.New("bench mem: generated tree disagrees with merkle.Build")
	}
	return nil
}

// prepareUniform makes n swarms of size bytes in state, unless there.
func prepareUniform(dir, state string, n int, size int64) error {
	st, err := sqlitestore.Open(sqlitestore.Config{Dir: state})
	if err != nil {
		return err
	}
	defer st.Close()
	have, err := st.List()
	if err != nil {
		return err
	}
	nchunks := uint64(size) / 1024
	for i := len(have); i < n; i++ {
		path := filepath.Join(dir, fmt.Sprintf("content-%d-%d.bin", size, i))
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		_, err = f.Write(uniformChunk0(i))
		if err == nil {
			err = f.Truncate(size) // sparse: zeros cost no disk
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		ph, zh := uniformTree(i, nchunks)
		sw, err := st.Open(store.Info{SwarmID: ph[len(ph)-1][:], ChunkSize: 1024, Length: size, Path: path, Name: filepath.Base(path)})
		if err != nil {
			return err
		}
		var bins []uint64
		var hashes []byte
		for b := uint64(0); b <= 2*nchunks-2; b++ {
			bn := merkle.Bin(b)
			h := zh[bn.Layer()]
			if f, _ := bn.Base(); f == 0 {
				h = ph[bn.Layer()]
			}
			bins, hashes = append(bins, b), append(hashes, h[:]...)
			if len(bins) == 8192 || b == 2*nchunks-2 {
				if err := sw.PutHashes(bins, hashes); err != nil {
					sw.Close()
					return err
				}
				bins, hashes = bins[:0], hashes[:0]
			}
		}
		m, ok := sw.(interface {
			MarkVerified(first, last uint64) error
		})
		if !ok {
			sw.Close()
			return errors.New("bench mem: store cannot mark content verified")
		}
		if err := m.MarkVerified(0, nchunks-1); err != nil {
			sw.Close()
			return err
		}
		if err := sw.Close(); err != nil {
			return err
		}
	}
	return nil
}
