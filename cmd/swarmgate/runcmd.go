package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/swarmgate/swarmgate/internal/node"
)

// cmdRun is `make run`: seed FILE, or a generated demo file, on the
// embedded defaults (SQLite state under the default state directory, UDP
// port 7758 on all interfaces).
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	listen := fs.String("listen", "0.0.0.0:7758", "UDP address to serve on")
	state := fs.String("state", node.DefaultStateDir("run"), "state directory")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("%w: run takes at most one FILE", errUsage)
	}
	file := ""
	if len(pos) == 1 {
		file = pos[0]
	} else {
		file = filepath.Join(*state, "demo.bin")
		if err := writeDemo(file, 8<<20); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "seeding a generated 8 MiB demo file %s\n", file)
	}
	return cmdSeed(ctx, []string{file, "--listen", *listen, "--state", *state}, stdout, stderr)
}

// writeDemo writes n deterministic pseudo-random bytes, once.
func writeDemo(path string, n int) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() == int64(n) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, pseudoRandom(n, 42), 0o644)
}

func pseudoRandom(n int, seed uint64) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	b := make([]byte, n)
	r.Read(b)
	return b
}
