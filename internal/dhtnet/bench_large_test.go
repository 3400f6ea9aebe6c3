package dhtnet

import (
	"context"
	"os"
	"strconv"
	"testing"
)

func TestBenchManual(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DHTBENCH_NODES"))
	if n == 0 {
		t.Skip("DHTBENCH_NODES not set")
	}
	l, _ := strconv.Atoi(os.Getenv("DHTBENCH_LOOKUPS"))
	imp, _ := strconv.ParseFloat(os.Getenv("DHTBENCH_IMPAIRED"), 64)
	loss, _ := strconv.ParseFloat(os.Getenv("DHTBENCH_LOSS"), 64)
	seed, _ := strconv.ParseInt(os.Getenv("DHTBENCH_SEED"), 10, 64)
	err := Bench(context.Background(), BenchConfig{Nodes: n, Lookups: l, Loss: loss, Impaired: imp, Seed: seed, Progress: os.Stderr}, os.Stdout, false)
	if err != nil {
		t.Fatal(err)
	}
}
