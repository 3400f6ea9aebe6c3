// Command swarmgate is the one swarmgate binary: a PPSP (RFC 7574) peer that
// hashes, seeds, downloads and publishes content, and the benchmarks.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `swarmgate: stream content from a PPSP (RFC 7574) swarm, every chunk verified.

Usage:
  swarmgate hash FILE [--chunk-size N] [--hash sha1|sha256]
  swarmgate seed FILE... [--listen ADDR] [--state DIR] [--gateway HOST] [--dht]
  swarmgate get LINK|ROOT [--peer ADDR]... -o OUT [--listen ADDR] [--state DIR]
                            (no peer: finds peers on the DHT as a quiet leecher)
  swarmgate publish FILE [--peer BOOSTER]... [--bootstrap ADDR]...
  swarmgate booster [run|follow|unfollow|status|pin|seed|boost|opml-export|opml-import] [flags]
  swarmgate boost LINK... [booster flags]   hand links to the running booster, or run one with them
  swarmgate dht-node [--listen ADDR] [--bootstrap ADDR]...
  swarmgate gateway [--listen ADDR] [--data DIR] [--udp ADDR] [--peer ADDR]... [--no-dht]
                   [--quota SIZE] [--tls-cert F --tls-key F | --domain NAME] [--seed FILE]...
  swarmgate run [FILE]        the gateway on the defaults, seeding FILE or the demo video
  swarmgate bench transfer|path|lossy|hash|dht|signal|rtc [flags]

Links: https://host/<root-hex>?cs=<chunk-size>&cl=<length>, ppsp://<root>,
tswift://host:port/<root>. Every flag has an environment twin: --chunk-size is
SWARMGATE_CHUNK_SIZE. Run "swarmgate CMD -h" for a command's flags.
`

// errUsage marks errors that are the caller's: exit code 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, errHelp) {
		os.Exit(0)
	}
	if err != nil {
		if !errors.Is(err, errQuiet) {
			fmt.Fprintln(os.Stderr, "swarmgate:", err)
		}
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// errQuiet is returned when the message was already printed.
var errQuiet = errors.New("quiet")

// errHelp is a help request (-h): exit 0, as Go's flag package does.
var errHelp = fmt.Errorf("%w: help", errQuiet)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "hash":
		return cmdHash(ctx, rest, stdout, stderr)
	case "seed":
		return cmdSeed(ctx, rest, stdout, stderr)
	case "get":
		return cmdGet(ctx, rest, stdout, stderr)
	case "publish":
		return cmdPublish(ctx, rest, stdout, stderr)
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "gateway":
		return cmdGateway(ctx, rest, stdout, stderr)
	case "booster":
		return cmdBooster(ctx, rest, stdout, stderr)
	case "boost":
		return cmdBoost(ctx, rest, stdout, stderr)
	case "dht-node":
		return cmdDHTNode(ctx, rest, stdout, stderr)
	case "bench":
		return cmdBench(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}
