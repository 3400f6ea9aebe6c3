package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/swarmgate/swarmgate/internal/merkle"
)

// newFlags returns a flag set for a subcommand.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("swarmgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// envName is a flag's environment twin: --chunk-size → SWARMGATE_CHUNK_SIZE.
func envName(flagName string) string {
	return "SWARMGATE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse applies environment twins, then parses args with flags and
// positional arguments interleaved, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%w: %s=%q: %v", errUsage, envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// sizeFlag parses sizes like 100MiB, 1GiB, 4096.
type sizeFlag int64

func (s *sizeFlag) String() string { return sizeString(int64(*s)) }
func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

func parseSize(v string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(v, u.suf) {
			mult, v = u.m, strings.TrimSuffix(v, u.suf)
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(v, &n); err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n * mult, nil
}

// hashCacheFlag adds --hash-cache: the process-wide bound on the memory of
// the hash trees read from the state directory (swarm.Config.HashCache).
// A seeder's default is merkle.DefaultCacheBytes; get passes
// getHashCache: one download in order touches a few pages per tree layer.
func hashCacheFlag(fs *flag.FlagSet, def int64) *sizeFlag {
	v := sizeFlag(def)
	fs.Var(&v, "hash-cache", "memory for cached hash-tree pages of all swarms, e.g. 64MiB")
	return &v
}

// idleReleaseFlag adds --idle-release (swarm.Config.IdleRelease).
func idleReleaseFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("idle-release", 30*time.Second, "drop a swarm's cached hash-tree pages after this long without peers (read again on the first request; negative: never)")
}

// Default --hash-cache of seeding commands and of get.
const (
	seedHashCache = merkle.DefaultCacheBytes
	getHashCache  = 1 << 20
)

// getGCPercent is get's default --gc-percent. A download's live heap is
// about 2 MiB whatever the content's size, while each datagram allocates:
// at Go's 100 the heap swings to several times that between collections.
// 50 took the peak anonymous memory of a 1 GiB get from 18.0 to 12.9 MiB
// (RSS 35.3 -> 30.5 MiB) at the same speed (bench mem; docs/decisions.md 57).
const getGCPercent = 50
