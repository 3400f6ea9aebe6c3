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
	cfg := BenchConfig{Nodes: 200, Lookups: 200, Loss: 0.05, Impaired: 0.33, Seed: 1, RTTScale: 0.25, Timeout: 5 * time.Second}
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
		} `json:"variants"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("--json output is not one object: %v\n%s", err, out.String())
	}
	t.Logf("%s", out.String())
	if res.Nodes != 200 || res.Lookups != 200 || len(res.Variants) != 2 || res.Variants[0].Name != "tuned" || res.Variants[1].Name != "default" {
		t.Fatalf("unexpected result shape: %+v", res)
	}
	tuned := res.Variants[0]
	// Most lookups succeed even when CI saturates both cores with other
	// packages under the race detector (seen: 183); the latency figures
	// are measured by TestBenchLarge / swarmgate bench dht on a quiet machine.
	if tuned.Found < 170 {
		t.Errorf("tuned lookup found peers in %d of 200 lookups", tuned.Found)
	}
	if tuned.QueriesP50 <= 0 || tuned.P50 <= 0 || tuned.P50 > tuned.P99 {
		t.Errorf("implausible figures %+v", tuned)
	}
}
