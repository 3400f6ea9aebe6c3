package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"

	"github.com/swarmgate/swarmgate/booster"
	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/node"
)

// cmdBoost is the booster role for given links (thesis ch. 11 §IV-A),
// folded into the daemon: with a booster running (its --data or --socket),
// the links are handed to it; otherwise a booster daemon starts in the
// foreground with them (same flags as `swarmgate booster`). Told of new
// content, it announces itself on the DHT at once, before it holds a
// byte, so that the source finds it and connects out to it.
func cmdBoost(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var links, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) > 0 && a[0] != '-' {
			if _, err := link.Parse(a); err == nil {
				links = append(links, a)
				continue
			}
		}
		rest = append(rest, a)
	}
	if len(links) == 0 {
		return fmt.Errorf("%w: boost needs at least one LINK or ROOT", errUsage)
	}
	// The one-shot form's flags: --state is the data directory, and the
	// feed HTTP port is any free loopback one unless --http is given.
	hasHTTP := false
	for i, a := range rest {
		switch a {
		case "--state", "-state":
			rest[i] = "--data"
		case "--http", "-http":
			hasHTTP = true
		}
	}
	if !hasHTTP {
		rest = append(rest, "--http", "127.0.0.1:0")
	}
	sock := filepath.Join(node.DefaultStateDir("booster"), "booster.sock")
	for i, a := range rest {
		if (a == "--data" || a == "-data") && i+1 < len(rest) {
			sock = filepath.Join(rest[i+1], "booster.sock")
		}
		if (a == "--socket" || a == "-socket") && i+1 < len(rest) {
			sock = rest[i+1]
		}
	}
	err := handToDaemon(ctx, sock, links, stdout)
	if !errors.Is(err, errNoDaemon) {
		return err
	}
	return boosterRun(ctx, rest, links, stdout, stderr)
}

func handToDaemon(ctx context.Context, sock string, links []string, stdout io.Writer) error {
	for _, l := range links {
		b, _ := json.Marshal(map[string]string{"link": l})
		if err := daemonCall(ctx, sock, http.MethodPost, "/boost", b, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "boosting %s (handed to the booster at %s)\n", l, sock)
	}
	return nil
}

// boostLink boosts a link in a booster started here.
func boostLink(b *booster.Booster, s string) (link.Link, error) {
	l, err := link.Parse(s)
	if err != nil {
		return l, err
	}
	c := feed.ContentOf(l)
	if c.Length < 0 {
		c.Length = 0
	}
	return l, b.Boost(c, feed.UID{}, 0)
}
