package gateway

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/swarmgate/swarmgate/internal/rtc"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the gateway's Prometheus metrics (text format at /metrics),
// on a registry of its own.
type metrics struct {
	reg          *prometheus.Registry
	swarmsJoined prometheus.Counter
	evictions    prometheus.Counter
	cachedBytes  prometheus.Gauge
	rawBytes     prometheus.Counter
	httpErrors   *prometheus.CounterVec
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
}

func newMetrics(g *Gateway) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg:          reg,
		swarmsJoined: prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmgate_swarms_joined_total", Help: "Swarms joined."}),
		evictions:    prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmgate_evictions_total", Help: "Cached swarms evicted to fit the quota."}),
		cachedBytes:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "swarmgate_cached_bytes", Help: "Bytes of content cached under the quota."}),
		rawBytes:     prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmgate_raw_bytes_total", Help: "Verified content bytes served over /raw/."}),
		httpErrors:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmgate_http_errors_total", Help: "Error answers by status."}, []string{"status"}),
		requests:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmgate_http_requests_total", Help: "HTTP requests by route and code."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "swarmgate_http_request_seconds", Help: "Time to answer HTTP requests (to the end of the body), by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"route"}),
	}
	reg.MustRegister(m.swarmsJoined, m.evictions, m.cachedBytes, m.rawBytes, m.httpErrors, m.requests, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &swarmCollector{g: g})
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// route names a request's route with a bounded set of labels.
func route(path string) string {
	switch {
	case path == "/":
		return "home"
	case len(path) > 5 && path[:5] == "/raw/":
		return "raw"
	case len(path) > 8 && path[:8] == "/static/":
		return "static"
	case len(path) > 5 && path[:5] == "/api/":
		return "api"
	case path == "/signal":
		return "signal"
	case path == "/metrics", path == "/healthz", path == "/open":
		return path[1:]
	}
	return "page"
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts requests and their latency by route.
func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		rt := route(r.URL.Path)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		m.requests.WithLabelValues(rt, strconv.Itoa(sw.code)).Inc()
		m.latency.WithLabelValues(rt).Observe(time.Since(t0).Seconds())
	})
}

// swarmCollector reports the engine's and swarms' state at scrape time.
type swarmCollector struct{ g *Gateway }

var (
	descSwarms   = prometheus.NewDesc("swarmgate_swarms", "Swarms joined now.", nil, nil)
	descPeers    = prometheus.NewDesc("swarmgate_peers", "Open peer channels by kind.", []string{"kind"}, nil)
	descBytes    = prometheus.NewDesc("swarmgate_transport_bytes_total", "PPSP datagram bytes by transport and direction.", []string{"transport", "direction"}, nil)
	descVerified = prometheus.NewDesc("swarmgate_chunks_verified_total", "Chunks verified and stored this run (swarms joined now).", nil, nil)
	descRejected = prometheus.NewDesc("swarmgate_chunks_rejected_total", "Chunks or peers rejected: dropped peers and unverifiable chunks (swarms joined now).", []string{"reason"}, nil)
	descSessions = prometheus.NewDesc("swarmgate_signaling_sessions", "Signaling sessions served now.", nil, nil)
	descRTCConns = prometheus.NewDesc("swarmgate_webrtc_connections", "WebRTC peer connections open or being set up.", nil, nil)
	descDropped  = prometheus.NewDesc("swarmgate_datagrams_dropped_total", "Datagrams dropped as unknown, spoofed or malformed.", nil, nil)
	descDups     = prometheus.NewDesc("swarmgate_chunks_duplicate_total", "Verified chunks received that were already held: a sender's retransmissions that were not needed (swarms joined now).", nil, nil)
	descResent   = prometheus.NewDesc("swarmgate_chunks_resent_total", "Chunks sent again, by why: a retransmission timeout, or a loss seen in acknowledgements or requests (swarms joined now).", nil, nil)
	descRTCDrops = prometheus.NewDesc("swarmgate_webrtc_datagrams_dropped_total", "Data channel datagrams dropped, by where: send (the channel's buffer full), pending (a connection not yet open), recv (bad or over the inbox's bound).", []string{"where"}, nil)
)

func (c *swarmCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSwarms, descPeers, descBytes, descVerified, descRejected, descDropped, descSessions, descRTCConns, descDups, descResent, descRTCDrops} {
		ch <- d
	}
}

func (c *swarmCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.g
	g.mu.Lock()
	entries := make([]*entry, 0, len(g.swarms))
	for _, e := range g.swarms {
		entries = append(entries, e)
	}
	g.mu.Unlock()
	kinds := map[string]int{"udp": 0, "webrtc": 0, "seeder": 0}
	var verified, dropped, unverifiable, dups, resent uint64
	for _, e := range entries {
		for _, p := range e.s.Peers() {
			if !p.Open {
				continue
			}
			kinds[peerKind(p.Addr)]++
			if p.Seeder {
				kinds["seeder"]++
			}
		}
		st := e.s.Stats()
		verified += st.ChunksVerified
		dropped += st.PeersDropped
		unverifiable += st.Unverifiable
		dups += st.Duplicates
		resent += st.Retransmits
	}
	ch <- prometheus.MustNewConstMetric(descSwarms, prometheus.GaugeValue, float64(len(entries)))
	for k, n := range kinds {
		ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(n), k)
	}
	es := g.node.Engine.Stats()
	var rs rtc.Stats
	sessions := 0
	if g.bridge != nil {
		rs = g.bridge.rtc.Stats()
		sessions = g.bridge.broker.Stats().Sessions
	}
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(es.BytesSent-min(es.BytesSent, rs.BytesSent)), "udp", "out")
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(es.BytesRecv-min(es.BytesRecv, rs.BytesRecv)), "udp", "in")
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(rs.BytesSent), "webrtc", "out")
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(rs.BytesRecv), "webrtc", "in")
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(sessions))
	ch <- prometheus.MustNewConstMetric(descRTCConns, prometheus.GaugeValue, float64(rs.Open))
	ch <- prometheus.MustNewConstMetric(descVerified, prometheus.CounterValue, float64(verified))
	ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(dropped), "peer_dropped")
	ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(unverifiable), "unverifiable")
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(es.Dropped))
	ch <- prometheus.MustNewConstMetric(descDups, prometheus.CounterValue, float64(dups))
	ch <- prometheus.MustNewConstMetric(descResent, prometheus.CounterValue, float64(resent))
	ch <- prometheus.MustNewConstMetric(descRTCDrops, prometheus.CounterValue, float64(rs.DropsSendBuffer), "send")
	ch <- prometheus.MustNewConstMetric(descRTCDrops, prometheus.CounterValue, float64(rs.DropsPending), "pending")
	ch <- prometheus.MustNewConstMetric(descRTCDrops, prometheus.CounterValue, float64(rs.DropsRecv), "recv")
}

// Hijack lets /signal upgrade to a WebSocket through the instrumentation.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("gateway: connection cannot be hijacked")
	}
	if w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

// Flush passes flushes through (streamed /raw/ answers).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
