package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/swarmgate/swarmgate/internal/node"

	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/merkle"
)

// cmdHash prints the root hash of a file on the first line, then its link.
func cmdHash(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("hash", stderr)
	cs := fs.Int("chunk-size", 1024, "chunk size in bytes, a power of two from 1024 to 1048576")
	hf := fs.String("hash", "sha1", "Merkle hash function: sha1 (what libswift speaks) or sha256")
	gw := fs.String("gateway", "", "gateway host for the printed link (default: a ppsp:// link)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: hash takes one FILE", errUsage)
	}
	tree, size, err := hashFile(pos[0], *cs, *hf)
	if err != nil {
		return err
	}
	l := link.Link{Root: tree.Root(), HashFunc: uint8(tree.HashFunc()), ChunkSize: uint32(*cs), Length: size, Name: filepath.Base(pos[0])}
	fmt.Fprintf(stdout, "%x\n", tree.Root())
	if *gw != "" {
		fmt.Fprintln(stdout, l.HTTPS(*gw))
	} else {
		fmt.Fprintln(stdout, l.PPSP())
	}
	return nil
}

func hashOptions(cs int, hf string) (merkle.Options, error) {
	h, err := merkle.ParseHashFunc(hf)
	if err != nil {
		return merkle.Options{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := merkle.CheckChunkSize(cs); err != nil {
		return merkle.Options{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	return merkle.Options{HashFunc: h, ChunkSize: cs}, nil
}

func hashFile(path string, cs int, hf string) (*merkle.Tree, int64, error) {
	o, err := hashOptions(cs, hf)
	if err != nil {
		return nil, 0, err
	}
	f, size, err := node.OpenContent(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	t, err := merkle.Build(f, size, o, 0)
	return t, size, err
}
