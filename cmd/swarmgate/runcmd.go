package main

import (
	"context"
	"io"
	"math/rand/v2"
)

// cmdRun is `make run`: the gateway on the embedded defaults with the demo
// video seeded (or FILE instead of it), printing the URL to open.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGateway(ctx, "run", args, true, stdout, stderr)
}

func pseudoRandom(n int, seed uint64) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	b := make([]byte, n)
	r.Read(b)
	return b
}
