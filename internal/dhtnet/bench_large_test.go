package dhtnet

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// TestBenchLarge runs the full overlay benchmark by hand (what
// `swarmgate bench dht` runs), e.g.
//
//	DHTBENCH_NODES=1000 DHTBENCH_LOOKUPS=1000 DHTBENCH_LOSS=0.05 DHTBENCH_IMPAIRED=0.33 DHTBENCH_STALE=0.2 DHTBENCH_SEED=1 \
//	  go test -run TestBenchLarge -v -timeout 30m ./internal/dhtnet
func TestBenchLarge(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DHTBENCH_NODES"))
	if n == 0 {
		t.Skip("DHTBENCH_NODES not set")
	}
	l, _ := strconv.Atoi(os.Getenv("DHTBENCH_LOOKUPS"))
	imp, _ := strconv.ParseFloat(os.Getenv("DHTBENCH_IMPAIRED"), 64)
	loss, _ := strconv.ParseFloat(os.Getenv("DHTBENCH_LOSS"), 64)
	stale, _ := strconv.ParseFloat(os.Getenv("DHTBENCH_STALE"), 64)
	seed, _ := strconv.ParseInt(os.Getenv("DHTBENCH_SEED"), 10, 64)
	err := Bench(context.Background(), BenchConfig{Nodes: n, Lookups: l, Loss: loss, Impaired: imp, Stale: stale, Seed: seed, Progress: os.Stderr, Verbose: os.Getenv("DHTBENCH_VERBOSE") != ""}, os.Stdout, os.Getenv("DHTBENCH_JSON") != "")
	if err != nil {
		t.Fatal(err)
	}
}
