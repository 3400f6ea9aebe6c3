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
	Stale    float64 // share of overlay nodes that leave after the build but stay listed in the others' tables, 0..1
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
	Stale    int            `json:"stale"`
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

	// Announces: time from the start of the announce until it is done
	// (tuned: Node.Announce returned; default: AnnounceTraversal with
	// AnnouncePeer Finished); an announce that no node accepted, or not
	// done by the timeout, counts as the timeout.
	AnnounceDone        int     `json:"announce_done"`
	AnnounceP50ms       float64 `json:"announce_p50_ms"`
	AnnounceP99ms       float64 `json:"announce_p99_ms"`
	AnnounceQueriesMean float64 `json:"announce_peer_sent_mean"` // tuned only: announce_peer queries per announce
	StoredP50ms         float64 `json:"stored_p50_ms"`           // tuned only: time to the first acceptance
	StoredP99ms         float64 `json:"stored_p99_ms"`
	// With: time to the first peer for a lookup started together with the
	// announce, retries included.
	WithFound       int     `json:"with_found"`
	WithP50ms       float64 `json:"with_p50_ms"`
	WithP75ms       float64 `json:"with_p75_ms"`
	WithP98ms       float64 `json:"with_p98_ms"`
	WithP99ms       float64 `json:"with_p99_ms"`
	WithQueriesMean float64 `json:"with_queries_mean"` // get_peers queries per lookup until the first peer, retries included
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
	c.Stale = min(max(c.Stale, 0), 1)
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
	fmt.Fprintf(&b, "dht bench: %d nodes (%d impaired, %d gone but listed), %d lookups per variant, loss %.0f%%, Mainline RTTs (thesis ch. 8 Fig. 2), seed %d\n",
		r.Nodes, r.Impaired, r.Stale, r.Lookups, r.Loss*100, r.Seed)
	fmt.Fprintf(&b, "overlay built in %.1f s, lookups ran %.1f s\n", r.BuildS, r.RunS)
	fmt.Fprintf(&b, "%-8s %11s %8s %8s %8s %8s %10s %10s %12s\n", "variant", "found", "p50 ms", "p75 ms", "p98 ms", "p99 ms", "q/lookup", "q mean", "maint q/min")
	for _, v := range r.Variants {
		fmt.Fprintf(&b, "%-8s %5d/%-5d %8.0f %8.0f %8.0f %8.0f %10.0f %10.1f %12.1f\n",
			v.Name, v.Found, r.Lookups, v.P50ms, v.P75ms, v.P98ms, v.P99ms, v.QueriesP50, v.QueriesMean, v.MaintenanceQPM)
	}
	fmt.Fprintf(&b, "time to announce, and to the first peer for a lookup started with the announce (retries included):\n")
	fmt.Fprintf(&b, "%-8s %11s %8s %8s %11s %11s %11s %8s %8s %8s %8s %10s\n", "variant", "announced", "ann p50", "ann p99", "stored p50", "stored p99", "found", "p50 ms", "p75 ms", "p98 ms", "p99 ms", "q/lookup")
	for _, v := range r.Variants {
		stored := fmt.Sprintf("%11.0f %11.0f", v.StoredP50ms, v.StoredP99ms)
		if v.StoredP50ms == 0 {
			stored = fmt.Sprintf("%11s %11s", "-", "-")
		}
		fmt.Fprintf(&b, "%-8s %5d/%-5d %8.0f %8.0f %s %5d/%-5d %8.0f %8.0f %8.0f %8.0f %10.1f\n",
			v.Name, v.AnnounceDone, r.Lookups, v.AnnounceP50ms, v.AnnounceP99ms, stored,
			v.WithFound, r.Lookups, v.WithP50ms, v.WithP75ms, v.WithP98ms, v.WithP99ms, v.WithQueriesMean)
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
	gone          // left the overlay, but others keep listing it (stale)
)

type benchNet struct {
	cfg    BenchConfig
	modes  []atomic.Int32
	byAddr sync.Map // netip.AddrPort → node index
}

// isGone reports whether the node at ap has left the overlay.
func (bn *benchNet) isGone(ap netip.AddrPort) bool {
	i, ok := bn.byAddr.Load(ap)
	return ok && bn.modes[i.(int)].Load() == gone
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
	if ap, err := addrPortOf(self); err == nil {
		bn.byAddr.Store(ap, i)
	}
	mode := &bn.modes[i]
	seed := bn.cfg.Seed
	w := netsim.Wrap(uc, netsim.Config{
		Loss:      bn.cfg.Loss,
		PathDelay: netsim.PathDelay(seed, self, bn.cfg.RTTScale),
		Seed:      seed*7919 + int64(i),
		Drop: func(to net.Addr) bool {
			switch mode.Load() {
			case silent, gone:
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
		if i < cfg.Nodes {
			keep := bn.isGone // overlay nodes keep listing departed nodes
			n.keepFailed.Store(&keep)
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
	// half answer only some destinations. Then a share of the healthy rest
	// leaves: gone nodes answer nothing, and the other overlay nodes keep
	// listing them, as deployed nodes do for up to 15 minutes.
	perm := rng.Perm(cfg.Nodes)
	nImp := int(math.Round(cfg.Impaired * float64(cfg.Nodes)))
	nStale := min(int(math.Round(cfg.Stale*float64(cfg.Nodes))), cfg.Nodes-nImp-1)
	healthyNodes := make([]*Node, 0, cfg.Nodes)
	for k, i := range perm {
		switch {
		case k < nImp/2:
			bn.modes[i].Store(silent)
			stopRun[i]() // an impaired node keeps answering (or not) but does no maintenance
		case k < nImp:
			bn.modes[i].Store(partial)
			stopRun[i]()
		case k < nImp+nStale:
			bn.modes[i].Store(gone)
			stopRun[i]()
		default:
			healthyNodes = append(healthyNodes, nodes[i])
		}
	}
	buildS := time.Since(buildStart).Seconds()
	progress("overlay built in %.1f s: %d nodes, %d impaired, %d gone but listed", buildS, cfg.Nodes, nImp, nStale)

	// Per sample, two measurements for each variant:
	//  - with: a booster starts announcing a new swarm, and at the same
	//    moment another initiator starts looking for it (tuned: a source
	//    Membership, with its retry schedule; default: the stock lookup,
	//    restarted at once whenever it ends without a peer);
	//  - after: once the tuned announce is done, one tuned and one default
	//    initiator look for that swarm once (the figure of earlier runs).
	nAll := cfg.Warmup + cfg.Lookups
	tunedS := make([]benchSample, nAll)
	stockS := make([]benchSample, nAll)
	tunedW := make([]benchSample, nAll)
	stockW := make([]benchSample, nAll)
	tunedA := make([]benchSample, nAll)
	stockA := make([]benchSample, nAll)
	swarms := make([][20]byte, nAll)
	swarmsD := make([][20]byte, nAll)
	tunedAnn := make([]int, nAll)
	tunedIdx := make([]int, nAll)
	stockIdx := make([]int, nAll)
	tunedWith := make([]int, nAll)
	stockAnn := make([]int, nAll)
	stockWith := make([]int, nAll)
	rng2 := rand.New(rand.NewSource(cfg.Seed*31 + 17))
	other := func(n, not int) int { return (not + 1 + rng2.Intn(n-1)) % n }
	for i := range nAll {
		rng.Read(swarms[i][:])
		tunedAnn[i] = rng.Intn(len(tuned))
		tunedIdx[i] = rng.Intn(len(tuned))
		stockIdx[i] = rng.Intn(len(stock))
		rng2.Read(swarmsD[i][:])
		tunedWith[i] = other(len(tuned), tunedAnn[i])
		stockAnn[i] = rng2.Intn(len(stock))
		stockWith[i] = other(len(stock), stockAnn[i])
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
					var jw sync.WaitGroup
					var wtr *lookupTrace
					if cfg.Verbose {
						wtr = newLookupTrace(swarms[i])
					}
					jw.Go(func() { tunedW[i] = tunedWithLookup(ctx, tuned[tunedWith[i]], swarms[i], cfg.Timeout, wtr) })
					jw.Go(func() { stockW[i] = stockWithLookup(ctx, stock[stockWith[i]], swarmsD[i], cfg.Timeout) })
					jw.Go(func() { stockA[i] = stockAnnounce(ctx, stock[stockAnn[i]], swarmsD[i], port, cfg.Timeout) })
					actx, acancel := context.WithTimeout(ctx, cfg.Timeout)
					var tr *lookupTrace
					if cfg.Verbose {
						tr = newLookupTrace(swarms[i])
					}
					ast, _ := tuned[tunedAnn[i]].lookup(actx, swarms[i], lookupOpts{announcePort: port, trace: tr})
					acancel()
					tunedA[i] = benchSample{found: ast.AnnounceTime > 0 && ast.AnnounceTime < cfg.Timeout && ast.Announced > 0, d: ast.AnnounceTime, queries: ast.AnnounceSent, stored: ast.FirstStored}
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
					jw.Wait()
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
					if cfg.Verbose && (!tunedA[i].found || tunedA[i].d > 450*time.Millisecond || !tunedW[i].found || tunedW[i].d > 900*time.Millisecond) {
						fmt.Fprintf(cfg.Progress, "SLOW-ANNOUNCE %d: announce %+v; with %+v\n", i, ast, tunedW[i])
					}
					if cfg.Verbose && i >= cfg.Warmup {
						fmt.Fprintf(cfg.Progress, "TRACE %d ann %.0f stored %.0f with %.0f found %v\n%s\nWITH\n%s\nEND\n", i, float64(ast.AnnounceTime)/1e6, float64(ast.FirstStored)/1e6, float64(tunedW[i].d)/1e6, tunedW[i].found, tr, wtr)
					}
				}
			})
		}
		for i := from; i < to; i++ {
			if i == cfg.Warmup {
				// The measured phase starts as the first measured sample
				// is taken up, the warm-up samples still running: one
				// pipeline, so the measured phase does not start with a
				// burst of Concurrency samples at once.
				mStart = time.Now()
				tunedMaint0, stockMaint0 = maint()
			}
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
	runPhase(0, nAll)
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
	// times returns the sorted durations of ss, a miss counting as the
	// timeout, the number found, and the median and mean of queries.
	times := func(ss []benchSample) (ds []time.Duration, found int, qp50, qmean float64) {
		var qs []float64
		for _, s := range ss {
			if s.found {
				found++
				ds = append(ds, s.d)
				qs = append(qs, float64(s.queries))
			} else {
				ds = append(ds, cfg.Timeout)
			}
		}
		slices.Sort(ds)
		slices.Sort(qs)
		if len(qs) > 0 {
			qp50 = qs[(len(qs)-1)/2]
			var sum float64
			for _, q := range qs {
				sum += q
			}
			qmean = sum / float64(len(qs))
		}
		return
	}
	ms := func(ds []time.Duration, q float64) float64 { return float64(percentile(ds, q)) / 1e6 }
	summarize := func(name string, ss, with, ann []benchSample, maintQ int64) VariantStats {
		v := VariantStats{Name: name}
		ds, found, qp50, qmean := times(ss)
		v.Found, v.QueriesP50, v.QueriesMean = found, qp50, qmean
		v.P50ms, v.P75ms, v.P98ms, v.P99ms = ms(ds, 0.50), ms(ds, 0.75), ms(ds, 0.98), ms(ds, 0.99)
		p99 := percentile(ds, 0.99)
		for _, d := range ds {
			if d >= p99 {
				v.AboveP99++
			}
		}
		v.MaintenanceQPM = float64(maintQ) / float64(cfg.Initiators) / (runS / 60)
		ds, v.AnnounceDone, _, v.AnnounceQueriesMean = times(ann)
		v.AnnounceP50ms, v.AnnounceP99ms = ms(ds, 0.50), ms(ds, 0.99)
		var stored []time.Duration
		for _, s := range ann {
			if s.stored > 0 {
				stored = append(stored, s.stored)
			}
		}
		if len(stored) > 0 {
			slices.Sort(stored)
			v.StoredP50ms, v.StoredP99ms = ms(stored, 0.50), ms(stored, 0.99)
		}
		ds, v.WithFound, _, v.WithQueriesMean = times(with)
		v.WithP50ms, v.WithP75ms, v.WithP98ms, v.WithP99ms = ms(ds, 0.50), ms(ds, 0.75), ms(ds, 0.98), ms(ds, 0.99)
		return v
	}
	res := &BenchResult{
		Nodes: cfg.Nodes, Lookups: cfg.Lookups, Loss: cfg.Loss, Impaired: nImp, Stale: nStale, Seed: cfg.Seed,
		BuildS: buildS, RunS: runS,
		Variants: []VariantStats{
			summarize("tuned", tunedS[cfg.Warmup:], tunedW[cfg.Warmup:], tunedA[cfg.Warmup:], tunedMaint1-tunedMaint0),
			summarize("default", stockS[cfg.Warmup:], stockW[cfg.Warmup:], stockA[cfg.Warmup:], stockMaint1-stockMaint0),
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

// tunedWithLookup is what a source or leecher does: a Membership with its
// retry schedule, timed from Join to the first peer.
func tunedWithLookup(ctx context.Context, n *Node, swarm [20]byte, timeout time.Duration, tr *lookupTrace) (out benchSample) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	m, err := n.join(ctx, swarm, RoleSource, 0, tr)
	if err != nil {
		return
	}
	defer m.Close()
	select {
	case _, ok := <-m.Peers():
		if ok {
			out.found, out.d = true, time.Since(start)
		}
	case <-ctx.Done():
	}
	m.Close()
	out.queries = int(m.Stats().Queries)
	return
}

// stockWithLookup runs anacrolix/dht's default lookup, restarted at once
// each time it ends without a peer (anacrolix/torrent itself waits 5
// minutes), timed from the first start to the first value.
func stockWithLookup(ctx context.Context, s *dht.Server, ih [20]byte, timeout time.Duration) (out benchSample) {
	start := time.Now()
	for ctx.Err() == nil {
		left := timeout - time.Since(start)
		if left <= 0 {
			break
		}
		o := stockLookup(ctx, s, ih, left)
		out.queries += o.queries
		if o.found {
			out.found, out.d = true, time.Since(start)
			return
		}
	}
	return
}

// stockAnnounce is anacrolix/dht's default announce (AnnounceTraversal
// with AnnouncePeer), timed to Finished: the walk, then announce_peer to the
// closest nodes with a token.
func stockAnnounce(ctx context.Context, s *dht.Server, ih [20]byte, port int, timeout time.Duration) (out benchSample) {
	start := time.Now()
	a, err := s.AnnounceTraversal(ih, dht.AnnouncePeer(dht.AnnouncePeerOpts{Port: port}))
	if err != nil {
		return
	}
	go func() {
		for range a.Peers { // drain: Peers is unbuffered (pitfall 6)
		}
	}()
	defer a.Close()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-a.Finished():
		out.found, out.d = true, time.Since(start)
	case <-t.C:
	case <-ctx.Done():
	}
	return
}

type benchSample struct {
	found   bool
	d       time.Duration
	queries int
	stored  time.Duration // announces: time to the first acceptance
}
