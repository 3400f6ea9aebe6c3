package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/swarmgate/swarmgate/internal/node"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/netsim"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: bench transfer|path|lossy|hash|mem|dht|signal|rtc|boost|gateway|share", errUsage)
	}
	switch args[0] {
	case "transfer":
		return benchTransfer(ctx, args[1:], stdout, stderr)
	case "path":
		return benchPath(ctx, args[1:], stdout, stderr)
	case "tcp-peer": // bench path's competing TCP flow, inside a namespace
		return benchTCPPeer(ctx, args[1:], stdout, stderr)
	case "lossy":
		return benchLossy(ctx, args[1:], stdout, stderr)
	case "hash":
		return benchHash(ctx, args[1:], stdout, stderr)
	case "mem":
		return benchMem(ctx, args[1:], stdout, stderr)
	case "mem-seed": // the child process of bench mem
		return benchMemSeed(ctx, args[1:], stdout, stderr)
	case "dht":
		return benchDHT(ctx, args[1:], stdout, stderr)
	case "boost":
		return benchBoost(ctx, args[1:], stdout, stderr)
	case "gateway":
		return benchGateway(ctx, args[1:], stdout, stderr)
	case "share":
		return benchShare(ctx, args[1:], stdout, stderr)
	case "rtc":
		return benchRTC(ctx, args[1:], stdout, stderr)
	case "signal":
		return benchSignal(ctx, args[1:], stdout, stderr)
	case "signal-clients": // the child processes of bench signal
		return benchSignalClients(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown benchmark %q", errUsage, args[0])
}

// benchTransfer moves a file from seeder processes to one downloader
// process over UDP on loopback and prints speed, CPU and wire overhead.
func benchTransfer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench transfer", stderr)
	size := sizeFlag(100 << 20)
	fs.Var(&size, "size", "content size (e.g. 100MiB)")
	seeders := fs.Int("seeders", 1, "seeder processes")
	cs := fs.Int("chunk-size", 1024, "chunk size")
	runs := fs.Int("runs", 1, "repetitions")
	compat := fs.String("compat", "auto", "downloader handshake: auto, libswift or rfc")
	asJSON := fs.Bool("json", false, "print one JSON object per run")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "swarmgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	content := filepath.Join(dir, "content.bin")
	data := pseudoRandom(int(size), 7)
	if err := os.WriteFile(content, data, 0o644); err != nil {
		return err
	}
	want := sha1.Sum(data)
	data = nil
	for run := 0; run < *runs; run++ {
		var procs []*exec.Cmd
		var peerArgs []string
		var lnk string
		var seedStats []string
		for i := 0; i < *seeders; i++ {
			sf := filepath.Join(dir, fmt.Sprintf("seed%d-%d.json", run, i))
			seedStats = append(seedStats, sf)
			cmd := exec.CommandContext(ctx, exe, "seed", content, "--listen", "127.0.0.1:0",
				"--state", filepath.Join(dir, fmt.Sprintf("seedstate%d", i)), "--chunk-size", fmt.Sprint(*cs), "--stats-json", sf)
			cmd.Stderr = stderr
			outp, err := cmd.StdoutPipe()
			if err != nil {
				return err
			}
			if err := cmd.Start(); err != nil {
				return err
			}
			procs = append(procs, cmd)
			line, err := bufio.NewReader(outp).ReadString('\n')
			if err != nil {
				stopAll(procs)
				return fmt.Errorf("seeder %d printed no link: %v", i, err)
			}
			lnk = strings.TrimSpace(line)
			peer := strings.TrimPrefix(lnk, "tswift://")
			peer = peer[:strings.IndexByte(peer, '/')]
			peerArgs = append(peerArgs, "--peer", peer)
		}
		out := filepath.Join(dir, fmt.Sprintf("out%d.bin", run))
		getStats := filepath.Join(dir, fmt.Sprintf("get%d.json", run))
		root := lnk[strings.LastIndexByte(lnk, '/')+1:]
		if i := strings.IndexByte(root, '?'); i >= 0 {
			root = root[:i]
		}
		gargs := append([]string{"get", root, "-o", out, "--chunk-size", fmt.Sprint(*cs), "--stats-json", getStats, "--compat", *compat, "--progress=false"}, peerArgs...)
		get := exec.CommandContext(ctx, exe, gargs...)
		get.Stderr = io.Discard
		t0 := time.Now()
		err := get.Run()
		wall := time.Since(t0)
		stopAll(procs)
		if err != nil {
			return fmt.Errorf("downloader: %v", err)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		if sha1.Sum(got) != want {
			return errors.New("downloaded content differs")
		}
		var gs runStats
		if err := readJSON(getStats, &gs); err != nil {
			return err
		}
		getCPU := get.ProcessState.UserTime() + get.ProcessState.SystemTime()
		var seedCPU float64
		var seedSent uint64
		for _, sf := range seedStats {
			var ss runStats
			if err := readJSON(sf, &ss); err != nil {
				return err
			}
			seedCPU += ss.CPUSeconds
			seedSent += ss.WireSent
		}
		wire := gs.WireRecv + gs.WireSent
		overhead := 100 * (float64(wire) - float64(size)) / float64(size)
		ipudp := 100 * float64(28*(gs.DatagramsRecv+gs.DatagramsSent)) / float64(size)
		mibs := float64(size) / (1 << 20) / wall.Seconds()
		if *asJSON {
			json.NewEncoder(stdout).Encode(map[string]any{
				"size": int64(size), "seeders": *seeders, "chunk_size": *cs, "seconds": wall.Seconds(), "mib_per_s": mibs,
				"downloader_cpu_s": getCPU.Seconds(), "seeder_cpu_s": seedCPU, "overhead_pct": overhead, "ip_udp_pct": ipudp,
				"retransmits": gs.Retransmits, "verified": true,
			})
			continue
		}
		fmt.Fprintf(stdout, "transfer %d MiB, %d seeder(s) -> 1 downloader, %d B chunks, UDP loopback\n", int64(size)>>20, *seeders, *cs)
		fmt.Fprintf(stdout, "  time %.3f s   %.1f MiB/s   downloader CPU %.2f s   seeder CPU %.2f s\n", wall.Seconds(), mibs, getCPU.Seconds(), seedCPU)
		fmt.Fprintf(stdout, "  wire %d B for %d B content: overhead %.2f%% (PPSP), +%.2f%% IP/UDP headers; %d datagrams, %d retransmitted chunks; content verified (sha1 match)\n",
			wire, int64(size), overhead, ipudp, gs.DatagramsRecv+gs.DatagramsSent, gs.Retransmits)
	}
	return nil
}

func stopAll(procs []*exec.Cmd) {
	for _, p := range procs {
		p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			p.Process.Kill()
			<-done
		}
	}
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// benchLossy moves content between two in-process engines whose sockets
// drop a share of datagrams (netsim) and checks it arrives verified.
func benchLossy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench lossy", stderr)
	size := sizeFlag(100 << 20)
	fs.Var(&size, "size", "content size")
	loss := fs.Float64("loss", 0.10, "share of datagrams dropped, each direction")
	seeders := fs.Int("seeders", 1, "seeders")
	seed := fs.Int64("seed", 1, "random seed for the losses")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	data := pseudoRandom(int(size), 9)
	mk := func(i int) (*swarm.Engine, *netsim.Conn, func() error, error) {
		c, err := node.ListenUDP("127.0.0.1:0")
		if err != nil {
			return nil, nil, nil, err
		}
		lc := netsim.Wrap(c, netsim.Config{Loss: *loss, Seed: *seed + int64(i)})
		e, err := swarm.New(swarm.Config{Conn: lc})
		if err != nil {
			return nil, nil, nil, err
		}
		stop := node.RunEngine(ctx, e)
		return e, lc, func() error { err := stop(); lc.Close(); return err }, nil
	}
	var seedAddrs []net.Addr
	var root []byte
	for i := 0; i < *seeders; i++ {
		e, lc, stop, err := mk(i + 1)
		if err != nil {
			return err
		}
		defer stop()
		sw, tree, err := swarm.Import(store.NewMemory(), bytes.NewReader(data), int64(len(data)), store.Info{ChunkSize: 1024}, 0)
		if err != nil {
			return err
		}
		if _, err := e.Add(swarm.SwarmConfig{Store: sw}); err != nil {
			return err
		}
		root = tree.Root()
		seedAddrs = append(seedAddrs, lc.LocalAddr())
	}
	e, lc, stop, err := mk(100)
	if err != nil {
		return err
	}
	defer stop()
	mem := store.NewMemory()
	sw, err := mem.Open(store.Info{SwarmID: root, ChunkSize: 1024, Length: -1})
	if err != nil {
		return err
	}
	s, err := e.Add(swarm.SwarmConfig{Store: sw, Mode: swarm.ModeLeech})
	if err != nil {
		return err
	}
	t0 := time.Now()
	for _, a := range seedAddrs {
		s.Connect(a)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Minute):
		return errors.New("lossy transfer did not finish in 10 minutes")
	case <-ctx.Done():
		return ctx.Err()
	}
	wall := time.Since(t0)
	if err := s.Err(); err != nil {
		return err
	}
	// Verify every byte against the source.
	buf := make([]byte, 1024)
	for c := 0; c*1024 < len(data); c++ {
		n, err := sw.ReadChunk(uint64(c), buf)
		if err != nil || !bytes.Equal(buf[:n], data[c*1024:min(c*1024+1024, len(data))]) {
			return fmt.Errorf("chunk %d corrupt or missing: %v", c, err)
		}
	}
	st := s.Stats()
	ls := lc.Stats()
	fmt.Fprintf(stdout, "lossy transfer %d MiB, %d seeder(s), %.0f%% loss each way (in-process netsim over UDP loopback)\n", int64(size)>>20, *seeders, *loss*100)
	fmt.Fprintf(stdout, "  time %.3f s   %.1f MiB/s   downloader dropped %d of its datagrams; %d chunks unverifiable (hash lost), all %d chunks verified, 0 corrupt\n",
		wall.Seconds(), float64(size)/(1<<20)/wall.Seconds(), ls.Dropped, st.Unverifiable, st.ChunksVerified)
	return nil
}

// benchHash compares Merkle hashing to raw crypto/sha1 over the same bytes.
func benchHash(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench hash", stderr)
	size := sizeFlag(256 << 20)
	fs.Var(&size, "size", "bytes to hash")
	cs := fs.Int("chunk-size", 1024, "chunk size")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	data := pseudoRandom(int(size), 3)
	best := func(f func()) time.Duration {
		b := time.Duration(1 << 62)
		for i := 0; i < 3; i++ {
			t0 := time.Now()
			f()
			b = min(b, time.Since(t0))
		}
		return b
	}
	raw := best(func() { sha1.Sum(data) })
	var berr error
	one := best(func() {
		_, berr = merkle.BuildBytes(data, merkle.Options{ChunkSize: *cs}, 1)
	})
	all := best(func() {
		_, berr = merkle.BuildBytes(data, merkle.Options{ChunkSize: *cs}, 0)
	})
	oneReader := best(func() {
		_, berr = merkle.Build(bytes.NewReader(data), int64(len(data)), merkle.Options{ChunkSize: *cs}, 1)
	})
	if berr != nil {
		return berr
	}
	mb := func(d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }
	fmt.Fprintf(stdout, "hash %d MiB, %d B chunks, SHA-1 (best of 3)\n", int64(size)>>20, *cs)
	fmt.Fprintf(stdout, "  raw crypto/sha1        %7.0f MiB/s\n", mb(raw))
	fmt.Fprintf(stdout, "  merkle, 1 worker       %7.0f MiB/s   %.2f x raw\n", mb(one), raw.Seconds()/one.Seconds())
	fmt.Fprintf(stdout, "  merkle, all cores      %7.0f MiB/s   %.2f x raw\n", mb(all), raw.Seconds()/all.Seconds())
	fmt.Fprintf(stdout, "  merkle, 1 worker, read through io.ReaderAt (a copy, as from a file)  %7.0f MiB/s   %.2f x raw\n", mb(oneReader), raw.Seconds()/oneReader.Seconds())
	return nil
}
