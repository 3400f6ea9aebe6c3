//go:build ignore

// precompress writes FILE.gz (gzip -9), FILE.br (brotli 11) and
// FILE.sha256 (the hex SHA-256 of FILE) beside each FILE given, for the
// gateway to serve instead of compressing at start. `make wasm` runs it on
// the Go-WASM client: brotli's best level takes about 20 s there, which a
// build can afford and a starting gateway cannot; it saves 14% of the
// download against the level 6 used at start. The gateway uses the files
// only when FILE.sha256 matches FILE, so a stale pair is ignored.
//
//	go run ./ui/precompress.go FILE...
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/andybalholm/brotli"
)

func main() {
	for _, name := range os.Args[1:] {
		if err := precompress(name); err != nil {
			fmt.Fprintln(os.Stderr, "precompress:", err)
			os.Exit(1)
		}
	}
}

func precompress(name string) error {
	raw, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	var gz, br bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return err
	}
	bw := brotli.NewWriterLevel(&br, brotli.BestCompression)
	bw.Write(raw)
	if err := bw.Close(); err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".gz", gz.Bytes()}, {".br", br.Bytes()}, {".sha256", []byte(hex.EncodeToString(sum[:]) + "\n")}} {
		if err := os.WriteFile(name+f.ext, f.data, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%s: %d bytes, gzip %d, brotli %d\n", name, len(raw), gz.Len(), br.Len())
	return nil
}
