package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/swarmgate/swarmgate/internal/node"

	"github.com/swarmgate/swarmgate/internal/dhtnet"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// cmdGet downloads content and exits 0 only when OUT is complete and
// verified.
func cmdGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("get", stderr)
	var peers listFlag
	fs.Var(&peers, "peer", "peer host:port to download from (repeatable)")
	out := fs.String("o", "", "output file (required); - streams the content to stdout in order as it verifies")
	listen := fs.String("listen", "0.0.0.0:0", "UDP address to use")
	hcache := hashCacheFlag(fs, getHashCache)
	state := fs.String("state", "", "state directory for resuming (default: OUT.swarmgate)")
	cs := fs.Int("chunk-size", 0, "chunk size in bytes (default: the link's, else 1024)")
	stall := fs.Duration("stall", time.Minute, "give up after this long without progress or peers")
	compat := fs.String("compat", "auto", "handshake: auto, libswift (never send RFC option 9) or rfc")
	progress := fs.Bool("progress", isTerminal(stderr), "show a progress bar (default: when stderr is a terminal)")
	df := addDHTFlags(fs)
	df.addRetry(fs)
	statsFile := fs.String("stats-json", "", "write transfer figures as JSON to this file on exit")
	lbDgram := fs.Int("loopback-datagram", 0, "largest datagram to loopback peers (default 17000; 1472 makes loopback behave like the Internet)")
	verbose := fs.Bool("v", false, "verbose logs")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile to this file when the download completes")
	gcPercent := fs.Int("gc-percent", getGCPercent, "the collector's GOGC for this download (a GOGC in the environment wins): lower holds less memory")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" && *gcPercent > 0 {
		debug.SetGCPercent(*gcPercent)
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: get takes one LINK or ROOT", errUsage)
	}
	if *memprofile != "" {
		runtime.MemProfileRate = 4096 // small objects counted, not estimated
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *out == "" {
		return fmt.Errorf("%w: -o OUT is required", errUsage)
	}
	l, err := link.Parse(pos[0])
	if err != nil {
		return err
	}
	if *cs != 0 {
		if err := merkle.CheckChunkSize(*cs); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		l.ChunkSize = uint32(*cs)
	}
	if l.Peer != "" {
		peers = append(peers, l.Peer)
	}
	var cmode swarm.Compat
	switch *compat {
	case "auto":
	case "libswift":
		cmode = swarm.CompatLibswift
	case "rfc":
		cmode = swarm.CompatRFC
	default:
		return fmt.Errorf("%w: --compat %q (want auto, libswift or rfc)", errUsage, *compat)
	}
	var addrs []net.Addr
	for _, p := range peers {
		a, err := net.ResolveUDPAddr("udp", p)
		if err != nil {
			return fmt.Errorf("peer %q: %w", p, err)
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 && df.bootstrapList() != nil && len(df.bootstrapList()) == 0 {
		return fmt.Errorf("%w: no peers: pass --peer ADDR, a tswift://host:port/ link, or DHT --bootstrap nodes", errUsage)
	}
	streaming := *out == "-"
	var abs string
	if streaming {
		// The content still goes through the store (and is verified
		// there); it lives in a scratch directory for this run.
		dir, err := os.MkdirTemp("", "swarmgate-stream-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		abs = filepath.Join(dir, "content")
		if *state == "" {
			*state = filepath.Join(dir, "state")
		}
	} else {
		if abs, err = filepath.Abs(*out); err != nil {
			return err
		}
		if *state == "" {
			*state = abs + ".swarmgate"
		}
	}
	log := newLogger(stderr, *verbose)
	pn, err := openPeer(*listen, *state, log, swarm.Config{Compat: cmode, LoopbackDatagram: *lbDgram, HashCache: int(*hcache)})
	if err != nil {
		return err
	}
	defer pn.Close()
	conn, st, e := pn.Conn, pn.Store, pn.Engine
	// The link's length is a hint: the size is proved by the peak hashes.
	sw, err := st.Open(store.Info{SwarmID: l.Root, HashFunc: l.HashFunc, ChunkSize: l.ChunkSize, Length: -1, Path: abs, Name: l.Name})
	if err != nil {
		return err
	}
	defer sw.Close()
	if p := sw.Info().Path; p != abs {
		return fmt.Errorf("state %s belongs to a download into %s; pass another --state", *state, p)
	}
	s, err := e.Add(swarm.SwarmConfig{Store: sw, Mode: swarm.ModeLeech})
	if err != nil {
		return err
	}
	cpu0, t0 := cpuSeconds(), time.Now()
	stop := node.RunEngine(ctx, e)
	for _, a := range addrs {
		s.Connect(a)
	}
	if len(addrs) == 0 {
		// No peer given: one DHT lookup as a read-only leecher (BEP 43),
		// repeated only when every peer is gone.
		n, err := startDHT(ctx, df, conn.LocalAddr(), true, "", log)
		if err != nil {
			stop()
			return err
		}
		id, _ := dhtnet.SwarmID(l.Root)
		m, err := n.Join(ctx, id, dhtnet.RoleLeecher, 0)
		if err != nil {
			n.Stop()
			stop()
			return err
		}
		go node.ConnectPeers(m, s)
		actx, acancel := context.WithCancel(ctx)
		go node.AskWhenAlone(actx, m, s)
		var once sync.Once
		quiet := func() { once.Do(func() { acancel(); m.Close(); n.Stop() }) }
		defer quiet()
		go func() {
			<-s.Done() // a finished leecher goes quiet at once
			quiet()
		}()
	}
	var streamed chan error
	if streaming {
		streamed = make(chan error, 1)
		go func() { streamed <- streamOut(ctx, s, sw, stdout) }()
	}
	bar := newProgressBar(stderr, *progress, l.Length)
	werr := waitDownload(ctx, s, bar, *stall)
	if streaming && werr == nil {
		werr = <-streamed
	}
	bar.finish()
	if err := stop(); err != nil && werr == nil {
		werr = err
	}
	es, ss := e.Stats(), s.Stats()
	length, _ := s.Length()
	if err := writeStats(*statsFile, runStats{
		Content: length, WireSent: es.BytesSent, WireRecv: es.BytesRecv,
		DatagramsSent: es.DatagramsSent, DatagramsRecv: es.DatagramsRecv, Retransmits: ss.Retransmits,
		Duplicates: ss.Duplicates, Unverifiable: ss.Unverifiable,
		CPUSeconds: cpuSeconds() - cpu0, Seconds: time.Since(t0).Seconds(),
	}); err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return werr
	}
	if err := writeHeapProfile(*memprofile); err != nil {
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	if streaming {
		fmt.Fprintf(stderr, "%d bytes verified and streamed in %.2fs\n", length, time.Since(t0).Seconds())
		return nil
	}
	// Complete: check the file is exactly the verified length.
	fi, err := os.Stat(abs)
	if err != nil {
		return err
	}
	if fi.Size() != length {
		return fmt.Errorf("%s is %d bytes, want %d", abs, fi.Size(), length)
	}
	fmt.Fprintf(stderr, "%s: %d bytes verified in %.2fs\n", *out, length, time.Since(t0).Seconds())
	return nil
}

// streamOut writes the content to w in order, each chunk as soon as it is
// verified, and moves the swarm's playhead along so that the picker fetches
// what the reader needs next (a player reading stdout, say).
func streamOut(ctx context.Context, s *swarm.Swarm, sw store.Swarm, w io.Writer) error {
	cs := int(sw.Info().ChunkSize)
	buf := make([]byte, cs)
	bw := bufio.NewWriterSize(w, 256<<10)
	var next uint64
	for {
		_, total := s.Progress()
		for total > 0 && next < total && sw.Have(next) {
			n, err := sw.ReadChunk(next, buf)
			if err != nil {
				return fmt.Errorf("stream chunk %d: %w", next, err)
			}
			if _, err := bw.Write(buf[:n]); err != nil {
				return fmt.Errorf("stream to stdout: %w", err)
			}
			next++
			s.SetPlayhead(next)
		}
		if total > 0 && next == total {
			return bw.Flush()
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("stream to stdout: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// waitDownload waits for completion, failing when nothing moves for stall.
func waitDownload(ctx context.Context, s *swarm.Swarm, bar *progressBar, stall time.Duration) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var last uint64
	lastMove := time.Now()
	for {
		select {
		case <-s.Done():
			if err := s.Err(); err != nil {
				return err
			}
			have, total := s.Progress()
			bar.update(have, total, s)
			return nil
		case <-ctx.Done():
			return errors.New("interrupted; run the same command again to resume")
		case <-t.C:
			have, total := s.Progress()
			bar.update(have, total, s)
			if have != last {
				last, lastMove = have, time.Now()
			}
			if time.Since(lastMove) > stall {
				open := 0
				for _, p := range s.Peers() {
					if p.Open {
						open++
					}
				}
				if open == 0 && total == 0 {
					return fmt.Errorf("no peer answered for %v (content size still unknown); run again to resume", stall)
				}
				if open == 0 {
					return fmt.Errorf("no peer answered for %v (%d of %d chunks); run again to resume", stall, have, total)
				}
				return fmt.Errorf("no progress for %v with %d peers (%d of %d chunks); run again to resume", stall, open, have, total)
			}
		}
	}
}

// writeHeapProfile writes the live heap to path (nothing if path is empty),
// after a collection, for `go tool pprof`.
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
