package dhtnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/dht/v2"
	alog "github.com/anacrolix/log"
	"golang.org/x/time/rate"

	"github.com/swarmgate/swarmgate/internal/netsim"
)

// BenchConfig configures Bench: a local overlay of DHT nodes on loopback in
// one process, each on its own UDP socket behind a netsim wrapper that
// delays every datagram by half the RTT of its path (drawn from the Mainline
// distribution of thesis ch. 8 Fig. 2), drops a share of datagrams and
// impairs a share of nodes after the overlay is built.
type BenchConfig struct {
	Nodes    int     // overlay nodes (default 1000)
	Lookups  int     // measured lookups per variant (default 1000)
	Loss     float64 // share of datagrams dropped, 0..1
	Impaired float64 // share of overlay nodes impaired after the build, 0..1: half answer nobody, half answer only some
	Seed     int64   // overlay, IDs, RTTs and loss (0 is a valid seed)

	Concurrency int           // lookups in flight (default 32)
	Initiators  int           // nodes per variant that run the lookups (default 8)
	Warmup      int           // unmeasured lookups per variant first (default Lookups/10)
	Timeout     time.Duration // a lookup without a peer by then counts as not found (default 10 s)
	RTTScale    float64       // multiplies every RTT (default 1)
	Progress    io.Writer     // progress lines (nil = none)
	Verbose     bool          // also print slow and failed lookups and node counters to Progress
}

// BenchResult is what Bench measured.
type BenchResult struct {
	Nodes    int            `json:"nodes"`
	Lookups  int            `json:"lookups"`
	Loss     float64        `json:"loss"`
	Impaired int            `json:"impaired"`
	Seed     int64          `json:"seed"`
	BuildS   float64        `json:"build_s"`
	RunS     float64        `json:"run_s"`
	Variants []VariantStats `json:"variants"`
}

// VariantStats are the figures of one lookup variant. Times are to the first
// peer; lookups not finding one count as the timeout.
type VariantStats struct {
	Name           string  `json:"name"`
	Found          int     `json:"found"`
	P50ms          float64 `json:"p50_ms"`
	P75ms          float64 `json:"p75_ms"`
	P98ms          float64 `json:"p98_ms"`
	P99ms          float64 `json:"p99_ms"`
	QueriesP50     float64 `json:"queries_p50"`
	QueriesMean    float64 `json:"queries_mean"`
	MaintenanceQPM float64 `json:"maintenance_qpm"` // maintenance queries per minute per initiator
	// AboveP99 is the number of samples at or above the 99th percentile
	// (the tail the p99 figure rests on).
	AboveP99 int `json:"above_p99"`
}

func (c *BenchConfig) setDefaults() {
	if c.Nodes <= 0 {
		c.Nodes = 1000
	}
	if c.Lookups <= 0 {
		c.Lookups = 1000
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 32
	}
	if c.Initiators <= 0 {
		c.Initiators = 8
	}
	if c.Warmup <= 0 {
		c.Warmup = max(c.Lookups/10, 10)
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.RTTScale <= 0 {
		c.RTTScale = 1
	}
	c.Loss = min(max(c.Loss, 0), 1)
	c.Impaired = min(max(c.Impaired, 0), 1)
}

// Bench builds the overlay, runs the tuned lookup and anacrolix/dht's
// default lookup side by side, and prints the figures to w (one JSON object
// if asJSON). It is what `swarmgate bench dht` runs.
func Bench(ctx context.Context, cfg BenchConfig, w io.Writer, asJSON bool) error {
	res, err := RunBench(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(w).Encode(res)
	}
	return res.WriteText(w)
}

// WriteText prints the result as a table.
func (r *BenchResult) WriteText(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "dht bench: %d nodes (%d impaired), %d lookups per variant, loss %.0f%%, Mainline RTTs (thesis ch. 8 Fig. 2), seed %d\n",
		r.Nodes, r.Impaired, r.Lookups, r.Loss*100, r.Seed)
	fmt.Fprintf(&b, "overlay built in %.1f s, lookups ran %.1f s\n", r.BuildS, r.RunS)
	fmt.Fprintf(&b, "%-8s %11s %8s %8s %8s %8s %10s %10s %12s\n", "variant", "found", "p50 ms", "p75 ms", "p98 ms", "p99 ms", "q/lookup", "q mean", "maint q/min")
	for _, v := range r.Variants {
		fmt.Fprintf(&b, "%-8s %5d/%-5d %8.0f %8.0f %8.0f %8.0f %10.0f %10.1f %12.1f\n",
			v.Name, v.Found, r.Lookups, v.P50ms, v.P75ms, v.P98ms, v.P99ms, v.QueriesP50, v.QueriesMean, v.MaintenanceQPM)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// benchConn counts the queries a node sends, by method.
type benchConn struct {
	net.PacketConn
	ping, findNode, getPeers, announce atomic.Int64
}

var (
	qPing     = []byte("1:q4:ping")
	qFindNode = []byte("1:q9:find_node")
	qGetPeers = []byte("1:q9:get_peers")
	qAnnounce = []byte("1:q13:announce_peer")
	yQuery    = []byte("1:y1:q")
)

func (c *benchConn) WriteTo(b []byte, to net.Addr) (int, error) {
	if bytes.Contains(b, yQuery) {
		switch {
		case bytes.Contains(b, qGetPeers):
			c.getPeers.Add(1)
		case bytes.Contains(b, qPing):
			c.ping.Add(1)
		case bytes.Contains(b, qFindNode):
			c.findNode.Add(1)
		case bytes.Contains(b, qAnnounce):
			c.announce.Add(1)
		}
	}
	return c.PacketConn.WriteTo(b, to)
}

// impairment modes of a bench node.
const (
	healthy int32 = iota
	silent        // answers nobody (non-reciprocal)
	partial       // answers only some (non-transitive)
)

type benchNet struct {
	cfg   BenchConfig
	modes []atomic.Int32
	addrs []netip.AddrPort
}

// listen opens node i's socket: loopback UDP behind the impairing wrapper.
func (bn *benchNet) listen(i int) (*benchConn, error) {
	uc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// A whole overlay joining at once bursts at the bootstrap nodes.
	uc.(*net.UDPConn).SetReadBuffer(4 << 20)
	self := uc.LocalAddr()
	me := self.String()
	mode := &bn.modes[i]
	seed := bn.cfg.Seed
	w := netsim.Wrap(uc, netsim.Config{
		Loss:      bn.cfg.Loss,
		PathDelay: netsim.PathDelay(seed, self, bn.cfg.RTTScale),
		Seed:      seed*7919 + int64(i),
		Drop: func(to net.Addr) bool {
			switch mode.Load() {
			case silent:
				return true
			case partial:
				h := fnv.New32a()
				h.Write([]byte(me))
				h.Write([]byte(to.String()))
				return h.Sum32()%2 == 0
			}
			return false
		},
	})
	return &benchConn{PacketConn: w}, nil
}

// RunBench runs the benchmark and returns its figures.
func RunBench(ctx context.Context, cfg BenchConfig) (*BenchResult, error) {
	cfg.setDefaults()
	progress := func(format string, a ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", a...)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rng := rand.New(rand.NewSource(cfg.Seed))
	total := cfg.Nodes + 2*cfg.Initiators
	bn := &benchNet{cfg: cfg, modes: make([]atomic.Int32, total)}
	buildStart := time.Now()

	// The overlay: tuned nodes (they serve find_node correctly, so the
	// stock bootstrap of the default variant works too).
	nodes := make([]*Node, 0, total)
	conns := make([]*benchConn, 0, total)
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	const nBoot = 8
	var boot []string
	fill := 48 // overlay nodes: enough to answer well, cheap to build
	stopRun := make([]context.CancelFunc, total)
	newNode := func(i int) (*Node, error) {
		c, err := bn.listen(i)
		if err != nil {
			return nil, err
		}
		var id [20]byte
		rng.Read(id[:])
		// Overlay nodes send as fast as they need: the bootstrap nodes take
		// a whole network joining at once, like the public routers.
		n, err := New(Config{Conn: c, NodeID: id, Bootstrap: slices.Clone(boot), SendRate: 1e6, BootstrapFill: fill})
		if err != nil {
			c.Close()
			return nil, err
		}
		nodes = append(nodes, n)
		conns = append(conns, c)
		return n, nil
	}
	for i := range cfg.Nodes {
		if _, err := newNode(i); err != nil {
			return nil, err
		}
		if i < nBoot {
			boot = append(boot, nodes[i].Addr().String())
		}
	}
	for _, n := range nodes[:nBoot] {
		n.cfg.Bootstrap = boot
	}
	// Join in waves, as a network grows; then a second round so early nodes
	// learn of late ones.
	joinAll := func(ns []*Node, par int) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, par)
		for _, n := range ns {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				n.Bootstrap(ctx)
			})
		}
		wg.Wait()
	}
	joinAll(nodes[:nBoot], nBoot)
	joinAll(nodes[nBoot:], 200)
	progress("overlay: %d nodes joined in %.1f s", len(nodes), time.Since(buildStart).Seconds())
	joinAll(nodes, 250)
	for i, n := range nodes {
		rctx, cancel := context.WithCancel(ctx)
		stopRun[i] = cancel
		go n.Run(rctx)
	}
	progress("overlay: second round done at %.1f s", time.Since(buildStart).Seconds())

	// Initiators: tuned Nodes, and stock anacrolix servers with their
	// defaults (AnnounceTraversal: alpha 3, 2 s timeout, k = 8 table,
	// TableMaintainer) except a private send limiter (pitfall 2).
	fill = 256
	tuned := make([]*Node, cfg.Initiators)
	tunedConns := make([]*benchConn, cfg.Initiators)
	for i := range tuned {
		n, err := newNode(cfg.Nodes + i)
		if err != nil {
			return nil, err
		}
		tuned[i], tunedConns[i] = n, conns[len(conns)-1]
	}
	stock := make([]*dht.Server, cfg.Initiators)
	stockConns := make([]*benchConn, cfg.Initiators)
	var bootAddrs []dht.Addr
	for _, b := range boot {
		bootAddrs = append(bootAddrs, dht.NewAddr(net.UDPAddrFromAddrPort(netip.MustParseAddrPort(b))))
	}
	for i := range stock {
		c, err := bn.listen(cfg.Nodes + cfg.Initiators + i)
		if err != nil {
			return nil, err
		}
		var id [20]byte
		rng.Read(id[:])
		s, err := dht.NewServer(&dht.ServerConfig{
			NodeId:        id,
			Conn:          c,
			NoSecurity:    true,
			StartingNodes: func() ([]dht.Addr, error) { return bootAddrs, nil },
			PeerStore:     &PeerStore{},
			SendLimiter:   rate.NewLimiter(1000, 1000),
			Logger:        alog.Default.FilterLevel(alog.Critical),
		})
		if err != nil {
			c.Close()
			return nil, err
		}
		defer s.Close()
		stock[i], stockConns[i] = s, c
	}
	var wg sync.WaitGroup
	for _, n := range tuned {
		wg.Go(func() { n.Bootstrap(ctx) })
	}
	for _, s := range stock {
		wg.Go(func() { s.Bootstrap() })
	}
	wg.Wait()
	for _, n := range tuned {
		go n.Run(ctx)
	}
	for _, s := range stock {
		go s.TableMaintainer()
	}

	// Impair a share of the overlay (never the initiators): half go silent,
	// half answer only some destinations.
	perm := rng.Perm(cfg.Nodes)
	nImp := int(math.Round(cfg.Impaired * float64(cfg.Nodes)))
	healthyNodes := make([]*Node, 0, cfg.Nodes)
	for k, i := range perm {
		switch {
		case k < nImp/2:
			bn.modes[i].Store(silent)
			stopRun[i]() // an impaired node keeps answering (or not) but does no maintenance
		case k < nImp:
			bn.modes[i].Store(partial)
			stopRun[i]()
		default:
			healthyNodes = append(healthyNodes, nodes[i])
		}
	}
	buildS := time.Since(buildStart).Seconds()
	progress("overlay built in %.1f s: %d nodes, %d impaired", buildS, cfg.Nodes, nImp)

	// Lookups: a healthy booster announces a new swarm, then one tuned and
	// one default initiator look for it at the same time.
	nAll := cfg.Warmup + cfg.Lookups
	tunedS := make([]benchSample, nAll)
	stockS := make([]benchSample, nAll)
	swarms := make([][20]byte, nAll)
	boosters := make([]*Node, nAll)
	tunedIdx := make([]int, nAll)
	stockIdx := make([]int, nAll)
	for i := range nAll {
		rng.Read(swarms[i][:])
		boosters[i] = healthyNodes[rng.Intn(len(healthyNodes))]
		tunedIdx[i] = rng.Intn(len(tuned))
		stockIdx[i] = rng.Intn(len(stock))
	}
	var mStart time.Time
	var tunedMaint0, stockMaint0 int64
	maint := func() (t, s int64) {
		for _, n := range tuned {
			t += n.Stats().MaintenanceQueries
		}
		for _, c := range stockConns {
			s += c.ping.Load() + c.findNode.Load()
		}
		return
	}
	runPhase := func(from, to int) {
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range cfg.Concurrency {
			wg.Go(func() {
				for i := range jobs {
					port := 10000 + i%50000
					ast := boosters[i].Announce(ctx, swarms[i], port, nil)
					var lw sync.WaitGroup
					lw.Go(func() {
						lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
						defer cancel()
						st := tuned[tunedIdx[i]].Lookup(lctx, swarms[i], true, nil)
						tunedS[i] = benchSample{found: st.FirstPeer > 0, d: st.FirstPeer, queries: st.QueriesToFirst}
						if cfg.Verbose && (st.FirstPeer == 0 || st.FirstPeer > 450*time.Millisecond) {
							ini := tuned[tunedIdx[i]]
							var desc []string
							for k, n := range nodes[:cfg.Nodes] {
								if len(n.Peers().Get(swarms[i], 0)) > 0 {
									rtt, in := ini.table.RTT(n.Addr())
									desc = append(desc, fmt.Sprintf("m%d/b%d/in=%v/%v/path=%v", bn.modes[k].Load(), bucketOf(ini.self, n.self), in, rtt.Round(time.Millisecond), netsim.PathRTT(cfg.Seed, ini.Addr().String(), n.Addr().String(), cfg.RTTScale).Round(time.Millisecond)))
								}
							}
							fmt.Fprintf(cfg.Progress, "SLOW %d: %+v bucket %d holders %v\n", i, st, bucketOf(ini.self, swarms[i]), desc)
						}
					})
					lw.Go(func() {
						stockS[i] = stockLookup(ctx, stock[stockIdx[i]], swarms[i], cfg.Timeout)
					})
					lw.Wait()
					if cfg.Verbose && !tunedS[i].found {
						holders, hm := 0, map[int32]int{}
						for k, n := range nodes {
							if len(n.Peers().Get(swarms[i], 0)) > 0 {
								holders++
								hm[bn.modes[k].Load()]++
							}
						}
						fmt.Fprintf(cfg.Progress, "MISS %d: announce %+v; holders %d by mode %v; stock found %v\n", i, ast, holders, hm, stockS[i].found)
					}
				}
			})
		}
		for i := from; i < to; i++ {
			select {
			case jobs <- i:
			case <-ctx.Done():
			}
			if (i+1)%100 == 0 {
				progress("lookups: %d/%d", i+1, nAll)
			}
		}
		close(jobs)
		wg.Wait()
	}
	if cfg.Verbose {
		go func() {
			for ctx.Err() == nil {
				time.Sleep(5 * time.Second)
				var q, to int64
				for _, n := range nodes {
					st := n.Stats()
					q += st.GetPeersSent + st.PingsSent + st.AnnouncesSent
					to += st.Timeouts
				}
				fmt.Fprintf(cfg.Progress, "%s queries %d timeouts %d goroutines %d\n", time.Now().Format("15:04:05"), q, to, runtime.NumGoroutine())
			}
		}()
	}
	runPhase(0, cfg.Warmup)
	mStart = time.Now()
	tunedMaint0, stockMaint0 = maint()
	runPhase(cfg.Warmup, nAll)
	runS := time.Since(mStart).Seconds()
	tunedMaint1, stockMaint1 := maint()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if cfg.Verbose {
		var q, to, mq int64
		for _, n := range nodes {
			st := n.Stats()
			q += st.GetPeersSent + st.PingsSent + st.AnnouncesSent
			to += st.Timeouts
			mq += st.MaintenanceQueries
		}
		fmt.Fprintf(cfg.Progress, "all nodes: queries %d timeouts %d maint %d\n", q, to, mq)
		for _, n := range tuned {
			st := n.Stats()
			fmt.Fprintf(cfg.Progress, "tuned initiator: %+v\n", st)
		}
	}
	summarize := func(name string, ss []benchSample, maintQ int64) VariantStats {
		v := VariantStats{Name: name}
		ds := make([]time.Duration, 0, len(ss))
		var qs []float64
		for _, s := range ss {
			if s.found {
				v.Found++
				ds = append(ds, s.d)
				qs = append(qs, float64(s.queries))
			} else {
				ds = append(ds, cfg.Timeout)
			}
		}
		slices.Sort(ds)
		slices.Sort(qs)
		ms := func(q float64) float64 { return float64(percentile(ds, q)) / 1e6 }
		v.P50ms, v.P75ms, v.P98ms, v.P99ms = ms(0.50), ms(0.75), ms(0.98), ms(0.99)
		p99 := percentile(ds, 0.99)
		for _, d := range ds {
			if d >= p99 {
				v.AboveP99++
			}
		}
		if len(qs) > 0 {
			v.QueriesP50 = qs[(len(qs)-1)/2]
			var sum float64
			for _, q := range qs {
				sum += q
			}
			v.QueriesMean = sum / float64(len(qs))
		}
		v.MaintenanceQPM = float64(maintQ) / float64(cfg.Initiators) / (runS / 60)
		return v
	}
	res := &BenchResult{
		Nodes: cfg.Nodes, Lookups: cfg.Lookups, Loss: cfg.Loss, Impaired: nImp, Seed: cfg.Seed,
		BuildS: buildS, RunS: runS,
		Variants: []VariantStats{
			summarize("tuned", tunedS[cfg.Warmup:], tunedMaint1-tunedMaint0),
			summarize("default", stockS[cfg.Warmup:], stockMaint1-stockMaint0),
		},
	}
	return res, nil
}

// percentile returns the nearest-rank q-quantile of sorted ds.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// stockLookup is anacrolix/dht's default lookup: AnnounceTraversal from the
// server's own table, timed to the first answer carrying values.
func stockLookup(ctx context.Context, s *dht.Server, ih [20]byte, timeout time.Duration) (out benchSample) {
	start := time.Now()
	a, err := s.AnnounceTraversal(ih)
	if err != nil {
		return
	}
	defer func() {
		a.Close()
		for range a.Peers { // drain: Peers is unbuffered (pitfall 6)
		}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case pv, ok := <-a.Peers:
			if !ok {
				return
			}
			if len(sanitizePeers(pv.Peers)) > 0 {
				out.found, out.d, out.queries = true, time.Since(start), int(a.NumContacted())
				return
			}
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

type benchSample struct {
	found   bool
	d       time.Duration
	queries int
}
