package main

import (
	"context"
	"fmt"
	"io"
)

func benchDHT(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("%w: bench dht arrives with internal/dhtnet", errUsage)
}
