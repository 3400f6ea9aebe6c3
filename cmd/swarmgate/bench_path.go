package main

import (
	"bufio"
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
	"strconv"
	"strings"
	"time"

	"github.com/swarmgate/swarmgate/internal/netsim"
	"github.com/swarmgate/swarmgate/internal/node"
)

// pathRun is one measured transfer through the emulated path.
type pathRun struct {
	RTT         time.Duration `json:"-"`
	RTTms       float64       `json:"rtt_ms"`
	Loss        float64       `json:"loss"`
	RateMbit    float64       `json:"rate_mbit"`
	QueueMs     float64       `json:"queue_ms"`
	Size        int64         `json:"size"`
	Seconds     float64       `json:"seconds"`
	GoodputMbit float64       `json:"goodput_mbit"`
	LinkUsed    float64       `json:"link_used"`        // bottleneck busy share (IP packets)
	GoodputUsed float64       `json:"goodput_used"`     // content bits / capacity
	SteadyUsed  float64       `json:"steady_link_used"` // link used from 20% to 90% of the bytes delivered
	QueueMean   float64       `json:"queue_mean_ms"`
	QueueP50    float64       `json:"queue_p50_ms"`
	QueueP95    float64       `json:"queue_p95_ms"`
	QueueMax    float64       `json:"queue_max_ms"`
	RandomDown  uint64        `json:"random_loss_down"`
	RandomUp    uint64        `json:"random_loss_up"`
	QueueDrops  uint64        `json:"queue_drops"`
	MTUDrops    uint64        `json:"mtu_drops"`
	DataDgrams  uint64        `json:"down_datagrams"`
	Retransmits uint64        `json:"retransmitted_chunks"`
	RetxPct     float64       `json:"retransmitted_pct"`
	Duplicates  uint64        `json:"duplicate_chunks"`
	Unverif     uint64        `json:"unverifiable_chunks"`
	TCPAlone    float64       `json:"tcp_alone_mbit,omitempty"`       // the TCP flow alone on the path
	TCPMbit     float64       `json:"tcp_mbit,omitempty"`             // the TCP flow while PPSP runs
	PPSPvsTCP   float64       `json:"ppsp_during_tcp_mbit,omitempty"` // PPSP goodput on the bottleneck meanwhile
	TCPQueue    float64       `json:"tcp_queue_p50_ms,omitempty"`
	// PPSPEndedFirst: the transfer finished before the TCP flow did, so
	// the TCP figure is partly the flow alone (use a larger --size).
	PPSPEndedFirst bool `json:"ppsp_ended_first,omitempty"`
	Verified       bool `json:"verified"`
}

// benchPath moves content from a seeder process to a downloader process
// through an impairment relay (internal/netsim): delay, random loss and a
// rate-limited bottleneck with a drop-tail queue, Internet-size datagrams,
// for every combination of the RTTs and losses asked for.
func benchPath(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench path", stderr)
	size := sizeFlag(20 << 20)
	fs.Var(&size, "size", "content size (e.g. 20MiB)")
	rttList := fs.String("rtt", "40ms", "round-trip times to run, comma-separated (e.g. 20ms,40ms,80ms,160ms)")
	lossList := fs.String("loss", "0", "random loss rates to run, each way, comma-separated (e.g. 0,0.01,0.05)")
	rate := fs.Float64("rate", 100, "bottleneck rate seeder → downloader, Mbit/s")
	queue := fs.Duration("queue", 100*time.Millisecond, "bottleneck queue length, as the time it takes to drain")
	dgram := fs.Int("datagram", 1472, "largest datagram: both peers use it and the path drops longer ones")
	reorder := fs.Float64("reorder", 0, "share of datagrams held back 5 ms (reordered); 0 never reorders")
	runs := fs.Int("runs", 1, "repetitions of each combination")
	seed := fs.Int64("seed", 1, "random seed for the losses")
	timeout := fs.Duration("timeout", 3*time.Minute, "give up on one transfer after this long")
	asJSON := fs.Bool("json", false, "print one JSON object per run")
	tcp := fs.Duration("tcp", 0, "also run a competing TCP flow for this long through the same bottleneck (needs root: network namespaces, TUN)")
	tcpCC := fs.String("tcp-cc", "cubic", "the competing TCP flow's congestion control")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *tcp > 0 {
		if err := tcpPeerAvailable(); err != nil {
			return fmt.Errorf("--tcp: %w", err)
		}
	}
	var rtts []time.Duration
	for _, f := range strings.Split(*rttList, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < 0 {
			return fmt.Errorf("%w: --rtt %q", errUsage, f)
		}
		rtts = append(rtts, d)
	}
	var losses []float64
	for _, f := range strings.Split(*lossList, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v < 0 || v >= 1 {
			return fmt.Errorf("%w: --loss %q", errUsage, f)
		}
		losses = append(losses, v)
	}
	if *rate <= 0 || *dgram < 600 || *dgram > 65507 {
		return fmt.Errorf("%w: --rate must be positive, --datagram 600..65507", errUsage)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "swarmgate-path-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	content := filepath.Join(dir, "content.bin")
	data := pseudoRandom(int(size), 11)
	if err := os.WriteFile(content, data, 0o644); err != nil {
		return err
	}
	want := sha1.Sum(data)
	data = nil
	var all []pathRun
	n := 0
	for _, rtt := range rtts {
		for _, loss := range losses {
			for r := 0; r < *runs; r++ {
				n++
				p := pathParams{
					exe: exe, dir: filepath.Join(dir, fmt.Sprint(n)), content: content, want: want, size: int64(size),
					rtt: rtt, loss: loss, rate: int64(*rate * 1e6), queue: *queue, dgram: *dgram, reorder: *reorder,
					seed: *seed + int64(n), timeout: *timeout, tcp: *tcp, tcpCC: *tcpCC,
				}
				res, err := runPath(ctx, p, stderr)
				if err != nil {
					return fmt.Errorf("RTT %v, loss %g: %w", rtt, loss, err)
				}
				all = append(all, res)
				if *asJSON {
					json.NewEncoder(stdout).Encode(res)
					continue
				}
				printPathRun(stdout, p, res)
			}
		}
	}
	if !*asJSON && len(all) > 1 {
		fmt.Fprintf(stdout, "\n| RTT | loss | time | goodput | link used (whole / steady) | queueing delay added (mean / p95) | retransmitted |\n|---|---|---|---|---|---|---|\n")
		for _, r := range all {
			fmt.Fprintf(stdout, "| %.0f ms | %g%% | %.2f s | %.1f Mbit/s | %.0f%% / %.0f%% | %.1f / %.1f ms | %.2f%% |\n",
				r.RTTms, r.Loss*100, r.Seconds, r.GoodputMbit, r.LinkUsed*100, r.SteadyUsed*100, r.QueueMean, r.QueueP95, r.RetxPct)
		}
	}
	return nil
}

type pathParams struct {
	exe, dir, content string
	want              [20]byte
	size              int64
	rtt               time.Duration
	loss              float64
	rate              int64
	queue             time.Duration
	dgram             int
	reorder           float64
	seed              int64
	timeout           time.Duration
	tcp               time.Duration
	tcpCC             string
}

func printPathRun(w io.Writer, p pathParams, r pathRun) {
	fmt.Fprintf(w, "path %d MiB, RTT %v, random loss %g%% each way, %g Mbit/s bottleneck (%v queue), %d B datagrams\n",
		p.size>>20, p.rtt, p.loss*100, float64(p.rate)/1e6, p.queue, p.dgram)
	fmt.Fprintf(w, "  time %.2f s   goodput %.1f Mbit/s (%.0f%% of the link)   link used %.0f%% (IP packets through the bottleneck), %.0f%% in steady state (20-90%% of the bytes)\n",
		r.Seconds, r.GoodputMbit, r.GoodputUsed*100, r.LinkUsed*100, r.SteadyUsed*100)
	fmt.Fprintf(w, "  queueing delay added: mean %.1f ms, p50 %.1f, p95 %.1f, max %.1f ms\n", r.QueueMean, r.QueueP50, r.QueueP95, r.QueueMax)
	fmt.Fprintf(w, "  lost: %d down + %d up at random, %d at the full queue, %d too long; retransmitted %d chunks (%.2f%% of the content)\n",
		r.RandomDown, r.RandomUp, r.QueueDrops, r.MTUDrops, r.Retransmits, r.RetxPct)
	fmt.Fprintf(w, "  downloader: %d duplicate chunks, %d held for a lost uncle; content verified (sha1 match)\n", r.Duplicates, r.Unverif)
	if p.tcp > 0 {
		fmt.Fprintf(w, "  competing TCP (%s, %v, started 1 s into the transfer): alone %.1f Mbit/s; with PPSP %.1f Mbit/s (%.0f%% of alone) while PPSP got %.1f Mbit/s; median queueing delay of the TCP packets %.1f ms\n",
			p.tcpCC, p.tcp, r.TCPAlone, r.TCPMbit, 100*r.TCPMbit/r.TCPAlone, r.PPSPvsTCP, r.TCPQueue)
		if r.PPSPEndedFirst {
			fmt.Fprintf(w, "  (the transfer ended before the TCP flow: run a larger --size for a fair overlap)\n")
		}
	}
}

// runPath runs one transfer: seeder process, relay, downloader process.
func runPath(ctx context.Context, p pathParams, stderr io.Writer) (pathRun, error) {
	res := pathRun{RTT: p.rtt, RTTms: float64(p.rtt) / 1e6, Loss: p.loss, RateMbit: float64(p.rate) / 1e6, QueueMs: float64(p.queue) / 1e6, Size: p.size}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	dg := fmt.Sprint(p.dgram)
	seedStats := filepath.Join(p.dir, "seed.json")
	seedCmd := exec.CommandContext(ctx, p.exe, "seed", p.content, "--listen", "127.0.0.1:0",
		"--state", filepath.Join(p.dir, "seedstate"), "--loopback-datagram", dg, "--stats-json", seedStats)
	seedCmd.Stderr = stderr
	outp, err := seedCmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	if err := seedCmd.Start(); err != nil {
		return res, err
	}
	procs := []*exec.Cmd{seedCmd}
	defer func() { stopAll(procs) }()
	line, err := bufio.NewReader(outp).ReadString('\n')
	if err != nil {
		return res, fmt.Errorf("seeder printed no link: %v", err)
	}
	lnk := strings.TrimSpace(line)
	hostport := strings.TrimPrefix(lnk, "tswift://")
	hostport = hostport[:strings.IndexByte(hostport, '/')]
	root := lnk[strings.LastIndexByte(lnk, '/')+1:]
	if i := strings.IndexByte(root, '?'); i >= 0 {
		root = root[:i]
	}
	target, err := net.ResolveUDPAddr("udp", hostport)
	if err != nil {
		return res, err
	}
	half := p.rtt / 2
	up := netsim.NewLink(netsim.LinkConfig{Delay: half, Loss: p.loss, MTU: p.dgram, Seed: p.seed})
	down := netsim.NewLink(netsim.LinkConfig{Delay: p.rtt - half, Loss: p.loss, Rate: p.rate, Queue: p.queue,
		MTU: p.dgram, Reorder: p.reorder, Seed: p.seed + 1000})
	defer up.Close()
	defer down.Close()
	front, err := node.ListenUDP("127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer front.Close()
	relay, err := netsim.NewRelay(netsim.RelayConfig{
		Conn: front, Target: target, Up: up, Down: down, Flow: 1,
		Listen: func() (net.PacketConn, error) { return node.ListenUDP("127.0.0.1:0") },
	})
	if err != nil {
		return res, err
	}
	rctx, rcancel := context.WithCancel(ctx)
	relayDone := make(chan error, 1)
	go func() { relayDone <- relay.Run(rctx) }()
	defer func() { rcancel(); <-relayDone }()

	out := filepath.Join(p.dir, "out.bin")
	getStats := filepath.Join(p.dir, "get.json")
	var tcpRun func() (tcpResult, error)
	if p.tcp > 0 {
		if tcpRun, err = tcpFlow(ctx, rctx, p, target, up, down, stderr); err != nil {
			return res, err
		}
		alone, err := tcpRun()
		if err != nil {
			return res, fmt.Errorf("TCP alone: %w", err)
		}
		res.TCPAlone = float64(alone.Bytes) * 8 / alone.Seconds / 1e6
	}
	get := exec.CommandContext(ctx, p.exe, "get", root, "--peer", front.LocalAddr().String(), "-o", out,
		"--loopback-datagram", dg, "--stats-json", getStats, "--progress=false")
	var gerr strings.Builder
	get.Stderr = &gerr
	if err := get.Start(); err != nil {
		return res, err
	}
	getDone := make(chan error, 1)
	go func() { getDone <- get.Wait() }()
	if p.tcp > 0 {
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
		before := down.FlowStats(1).DelivBytes
		t0 := time.Now()
		r, err := tcpRun()
		if err != nil {
			get.Process.Kill()
			<-getDone
			return res, fmt.Errorf("TCP with PPSP: %w", err)
		}
		select {
		case err := <-getDone:
			getDone <- err
			res.PPSPEndedFirst = true
		default:
		}
		res.TCPMbit = float64(r.Bytes) * 8 / r.Seconds / 1e6
		res.PPSPvsTCP = float64(down.FlowStats(1).DelivBytes-before) * 8 / time.Since(t0).Seconds() / 1e6
		res.TCPQueue = float64(down.FlowStats(2).QueueP50) / 1e6
	}
	if err := <-getDone; err != nil {
		return res, fmt.Errorf("downloader: %v: %s", err, strings.TrimSpace(gerr.String()))
	}
	got, err := os.ReadFile(out)
	if err != nil {
		return res, err
	}
	if sha1.Sum(got) != p.want {
		return res, errors.New("downloaded content differs")
	}
	res.Verified = true
	var gs runStats
	if err := readJSON(getStats, &gs); err != nil {
		return res, err
	}
	ds, us := down.FlowStats(1), up.FlowStats(1)
	stopAll(procs)
	procs = nil
	var ss runStats
	if err := readJSON(seedStats, &ss); err != nil {
		return res, err
	}
	res.Seconds = gs.Seconds
	res.GoodputMbit = float64(p.size) * 8 / gs.Seconds / 1e6
	res.GoodputUsed = res.GoodputMbit * 1e6 / float64(p.rate)
	// Every datagram the bottleneck carried, with its IP/UDP headers.
	res.LinkUsed = float64(ds.DelivBytes+28*ds.Delivered) * 8 / gs.Seconds / float64(p.rate)
	// Steady state: from the time 20% of the bytes had come through the
	// bottleneck to the time 90% had (start-up and tail excluded).
	if m := ds.Marks; len(m) >= 10 {
		i, j := len(m)*2/10, len(m)*9/10
		if dt := m[j].Sub(m[i]).Seconds(); dt > 0 {
			bytes := float64(uint64(j-i) * netsim.MarkBytes)
			per := float64(ds.DelivBytes+28*ds.Delivered) / float64(ds.DelivBytes) // headers per payload byte
			res.SteadyUsed = bytes * per * 8 / dt / float64(p.rate)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	res.QueueMean, res.QueueP50, res.QueueP95, res.QueueMax = ms(ds.QueueMean), ms(ds.QueueP50), ms(ds.QueueP95), ms(ds.QueueMax)
	res.RandomDown, res.RandomUp = ds.RandomLoss, us.RandomLoss
	res.QueueDrops, res.MTUDrops = ds.QueueDrops+us.QueueDrops, ds.MTUDrops+us.MTUDrops
	res.DataDgrams = ds.Datagrams
	res.Retransmits = ss.Retransmits
	res.Duplicates, res.Unverif = gs.Duplicates, gs.Unverifiable
	res.RetxPct = 100 * float64(ss.Retransmits) * 1024 / float64(p.size)
	return res, nil
}

// tcpFlow sets up a TCP flow through the same links (flow 2) and returns a
// function that runs it once for p.tcp: a server namespace sending, a client
// namespace receiving, their tunnels relayed like the PPSP peers.
func tcpFlow(ctx, rctx context.Context, p pathParams, _ net.Addr, up, down *netsim.Link, stderr io.Writer) (func() (tcpResult, error), error) {
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	front, err := node.ListenUDP("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv, err := net.ListenUDP("udp", lo)
	if err != nil {
		front.Close()
		return nil, err
	}
	relay, err := netsim.NewRelay(netsim.RelayConfig{
		Conn: front, Target: srv.LocalAddr(), Up: up, Down: down, Flow: 2, Packets: true,
		Listen: func() (net.PacketConn, error) { return node.ListenUDP("127.0.0.1:0") },
	})
	if err != nil {
		front.Close()
		srv.Close()
		return nil, err
	}
	go func() {
		relay.Run(rctx)
		front.Close()
		srv.Close()
	}()
	return func() (tcpResult, error) {
		var res tcpResult
		cli, err := net.ListenUDP("udp", lo)
		if err != nil {
			return res, err
		}
		defer cli.Close()
		sctx, cancel := context.WithTimeout(ctx, p.tcp+30*time.Second)
		defer cancel()
		server, err := startTCPPeer(sctx, p.exe, "server", srv, "", p.tcp, p.tcpCC, io.Discard, stderr)
		if err != nil {
			return res, err
		}
		defer server.Wait()
		var out strings.Builder
		client, err := startTCPPeer(sctx, p.exe, "client", cli, front.LocalAddr().String(), p.tcp, p.tcpCC, &out, stderr)
		if err != nil {
			server.Process.Kill()
			return res, err
		}
		if err := client.Wait(); err != nil {
			server.Process.Kill()
			return res, fmt.Errorf("TCP client: %v", err)
		}
		if err := json.Unmarshal([]byte(out.String()), &res); err != nil || res.Seconds <= 0 {
			return res, fmt.Errorf("TCP client printed %q", out.String())
		}
		return res, nil
	}, nil
}
