package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/node"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// feedPublish is `publish --text`: sign a post linking the content and
// push it through the publisher's node (Litter Alg. 1), then put the head
// in the DHT (BEP 44).
type feedPublish struct {
	text, node, key, mime string
	id                    *feed.Identity
	seq                   uint64
	client                *http.Client
}

func addFeedPublishFlags(fs *flag.FlagSet) *feedPublish {
	f := &feedPublish{}
	fs.StringVar(&f.text, "text", "", "post this text with the link to the publisher's feed (needs --node)")
	fs.StringVar(&f.node, "node", "", "the publisher's feed node base URL (a booster or gateway hosting the uid)")
	fs.StringVar(&f.key, "key", filepath.Join(node.DefaultStateDir("feed"), "feed.key"), "the publisher's key file (created, mode 0600, if missing)")
	fs.StringVar(&f.mime, "mime", "", "MIME type of the content (default: from the file name)")
	return f
}

func (f *feedPublish) enabled() bool { return f.text != "" || f.node != "" }

func (f *feedPublish) check() error {
	if f.node == "" {
		return fmt.Errorf("%w: --text needs --node (the publisher's feed node)", errUsage)
	}
	f.node = strings.TrimRight(f.node, "/")
	id, created, err := feed.LoadOrCreateKey(f.key)
	if err != nil {
		return err
	}
	f.id = id
	if created {
		fmt.Fprintf(os.Stderr, "new feed key %s: uid %s\n", f.key, id.UID())
	}
	f.client = &http.Client{Timeout: 30 * time.Second}
	return nil
}

// nextSeq is one above both what the node holds and what this key last
// signed (kept next to the key), so a seq is never signed twice.
func (f *feedPublish) nextSeq(ctx context.Context) (uint64, error) {
	var local uint64
	if b, err := os.ReadFile(f.key + ".seq"); err == nil {
		local, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.node+"/feed/v1/head/"+f.id.UID().String(), nil)
	res, err := f.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("feed node %s: %w", f.node, err)
	}
	defer res.Body.Close()
	var h struct{ Seq uint64 }
	if err := json.NewDecoder(io.LimitReader(res.Body, 4096)).Decode(&h); err != nil {
		return 0, fmt.Errorf("feed node %s: head: %v", f.node, err)
	}
	return max(local, h.Seq) + 1, nil
}

// post signs and pushes the post of info.
func (f *feedPublish) post(ctx context.Context, info store.Info, stdout io.Writer) error {
	seq, err := f.nextSeq(ctx)
	if err != nil {
		return err
	}
	mt := f.mime
	if mt == "" {
		mt, _, _ = strings.Cut(mime.TypeByExtension(filepath.Ext(info.Name)), ";")
	}
	c := feed.Content{Root: info.SwarmID, HashFunc: info.HashFunc, ChunkSize: info.ChunkSize, Length: info.Length, Name: info.Name, MIME: mt}
	p := &feed.Post{Seq: seq, Time: time.Now(), Text: f.text, Links: []feed.Content{c}}
	raw, err := p.Sign(f.id)
	if err != nil {
		return err
	}
	if err := os.WriteFile(f.key+".seq", []byte(strconv.FormatUint(seq, 10)+"\n"), 0o600); err != nil {
		return err
	}
	if err := feed.Publish(ctx, f.client, f.node, raw); err != nil {
		return err
	}
	f.seq = seq
	fmt.Fprintf(stdout, "posted %s/%d to %s\n", f.id.UID(), seq, f.node)
	return nil
}

// putHead puts the uid's head in the DHT (BEP 44); best effort.
func (f *feedPublish) putHead(ctx context.Context, dir feed.Directory, log *slog.Logger) {
	if f.seq == 0 {
		return
	}
	err := feed.PublishHead(ctx, dir, f.id, feed.Head{Seq: f.seq, Nodes: []string{f.node}})
	if err != nil {
		log.Warn("BEP 44 head not stored", "err", err)
		return
	}
	log.Info("BEP 44 head stored", "seq", f.seq)
}

// writeSourceStats records what the source uploaded (bench boost).
func writeSourceStats(path string, s *swarm.Swarm, length int64) {
	if path == "" {
		return
	}
	st := s.Stats()
	b, _ := json.Marshal(map[string]any{"content_bytes": length, "uploaded_bytes": st.BytesUploaded, "chunks_served": st.ChunksServed})
	os.WriteFile(path, append(b, '\n'), 0o644)
}
