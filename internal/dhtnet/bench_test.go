package dhtnet

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestBenchSmall runs the overlay benchmark on 200 loopback nodes (RTTs
// scaled to a quarter to keep the suite fast) and checks that the tuned
// lookup finds peers. The ≥1000-node measurement is TestBenchLarge.
func TestBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("overlay benchmark")
	}
	var out bytes.Buffer
	cfg := BenchConfig{Nodes: 200, Lookups: 200, Loss: 0.05, Impaired: 0.33, Stale: 0.2, Seed: 1, RTTScale: 0.25, Timeout: 5 * time.Second,
		// Each sample runs six operations at once (two announces, four
		// lookups): fewer in flight keeps a race-instrumented run on a
		// loaded machine from starving the overlay.
		Concurrency: 8}
	if err := Bench(context.Background(), cfg, &out, true); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Nodes    int `json:"nodes"`
		Lookups  int `json:"lookups"`
		Variants []struct {
			Name       string  `json:"name"`
			Found      int     `json:"found"`
			P50        float64 `json:"p50_ms"`
			P75        float64 `json:"p75_ms"`
			P98        float64 `json:"p98_ms"`
			P99        float64 `json:"p99_ms"`
			QueriesP50 float64 `json:"queries_p50"`
			AnnDone    int     `json:"announce_done"`
			AnnP50     float64 `json:"announce_p50_ms"`
			AnnP99     float64 `json:"announce_p99_ms"`
			WithFound  int     `json:"with_found"`
			WithP50    float64 `json:"with_p50_ms"`
			WithP99    float64 `json:"with_p99_ms"`
		} `json:"variants"`
		Stale int `json:"stale"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("--json output is not one object: %v\n%s", err, out.String())
	}
	t.Logf("%s", out.String())
	if res.Nodes != 200 || res.Lookups != 200 || res.Stale != 40 || len(res.Variants) != 2 || res.Variants[0].Name != "tuned" || res.Variants[1].Name != "default" {
		t.Fatalf("unexpected result shape: %+v", res)
	}
	tuned := res.Variants[0]
	// Most lookups succeed even when CI saturates both cores with other
	// packages under the race detector (seen: 183); the latency figures
	// are measured by TestBenchLarge / swarmgate bench dht on a quiet machine.
	// CPU starvation (the race detector, a loaded machine) times lookups
	// out for both variants alike, so the bar is relative to the defaults
	// measured in the same run, plus a floor a working overlay always
	// clears (seen: 164-183 tuned, 150-162 default, under load average 4).
	def := res.Variants[1]
	if tuned.Found < 120 || tuned.Found+10 < def.Found {
		t.Errorf("tuned lookup found peers in %d of 200 lookups (defaults: %d)", tuned.Found, def.Found)
	}
	if tuned.QueriesP50 <= 0 || tuned.P50 <= 0 || tuned.P50 > tuned.P99 {
		t.Errorf("implausible figures %+v", tuned)
	}
	// A fifth of the nodes left but stay listed: announces still complete
	// and a lookup started with the announce still finds the booster.
	if tuned.AnnDone < 120 || tuned.WithFound < 120 || tuned.AnnDone+10 < def.AnnDone || tuned.WithFound+10 < def.WithFound {
		t.Errorf("with departed nodes listed: %d of 200 announces done, %d lookups started with them found the booster", tuned.AnnDone, tuned.WithFound)
	}
	if tuned.AnnP50 <= 0 || tuned.AnnP50 > tuned.AnnP99 || tuned.WithP50 <= 0 || tuned.WithP50 > tuned.WithP99 {
		t.Errorf("implausible announce figures %+v", tuned)
	}
}
