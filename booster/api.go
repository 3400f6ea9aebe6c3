package booster

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"

	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/merkle"
)

// The local API: HTTP with JSON bodies over a unix socket (mode 0600, so
// only the daemon's user can drive it).
//
//	GET  /status                 Status
//	POST /follow   {"uid","nodes","name"}
//	POST /unfollow {"uid"}
//	POST /pin      {"root","pin"}
//	POST /seed     {"path","chunk_size","hash"}   → {"link"}
//	POST /boost    {"link"}
//	GET  /opml                   the follows as OPML
//	POST /opml                   OPML body: follow every uid in it

func (b *Booster) listenAPI() error {
	if c, err := net.Dial("unix", b.cfg.Socket); err == nil {
		c.Close()
		return fmt.Errorf("booster: another booster is running on %s", b.cfg.Socket)
	}
	os.Remove(b.cfg.Socket) // stale, from a crash
	ln, err := net.Listen("unix", b.cfg.Socket)
	if err != nil {
		return fmt.Errorf("booster: local API: %w", err)
	}
	os.Chmod(b.cfg.Socket, 0o600)
	b.apiLn = ln
	return nil
}

// Status is what `swarmgate booster status` prints.
type Status struct {
	UID         string         `json:"uid"`
	Fingerprint string         `json:"fingerprint"`
	URL         string         `json:"url"`
	PeerAddr    string         `json:"peer_addr"`
	Quota       int64          `json:"quota"`
	Used        int64          `json:"used"`
	Follows     []FollowStatus `json:"follows"`
	Swarms      []SwarmStatus  `json:"swarms"`
	Feed        feed.Stats     `json:"feed"`
}

// FollowStatus is one followed uid.
type FollowStatus struct {
	UID         string   `json:"uid"`
	Fingerprint string   `json:"fingerprint"`
	Name        string   `json:"name,omitempty"`
	Nodes       []string `json:"nodes"`
	Head        uint64   `json:"head"`
	Flagged     string   `json:"flagged,omitempty"`
}

// SwarmStatus is one boosted swarm.
type SwarmStatus struct {
	Root     string `json:"root"`
	Name     string `json:"name,omitempty"`
	Link     string `json:"link"`
	UID      string `json:"uid,omitempty"`
	Seq      uint64 `json:"seq,omitempty"`
	Length   int64  `json:"length"`
	Have     uint64 `json:"have_chunks"`
	Total    uint64 `json:"total_chunks"`
	Complete bool   `json:"complete"`
	Uploaded uint64 `json:"uploaded_bytes"`
	Peers    int    `json:"peers"`
	Pinned   bool   `json:"pinned"`
}

// Status reports follows and swarms.
func (b *Booster) Status() (Status, error) {
	st := Status{UID: b.id.UID().String(), Fingerprint: b.id.UID().Fingerprint(), URL: b.cfg.URL,
		PeerAddr: b.PeerAddr().String(), Quota: b.cfg.Quota, Feed: b.feed.Stats(), Follows: []FollowStatus{}, Swarms: []SwarmStatus{}}
	fs, err := b.fst.Follows()
	if err != nil {
		return st, err
	}
	for _, f := range fs {
		h, _ := b.fst.Head(f.UID)
		reason, _, _ := b.fst.Flagged(f.UID)
		st.Follows = append(st.Follows, FollowStatus{UID: f.UID.String(), Fingerprint: f.UID.Fingerprint(), Name: f.Name,
			Nodes: append([]string{}, f.Nodes...), Head: h, Flagged: reason})
	}
	b.mu.Lock()
	for _, a := range b.swarms {
		have, total := a.s.Progress()
		ss := SwarmStatus{Root: hex.EncodeToString(a.row.c.Root), Name: a.row.c.Name, Seq: a.row.seq, Length: a.row.c.Length,
			Have: have, Total: total, Complete: total > 0 && have == total, Uploaded: a.s.Stats().BytesUploaded, Pinned: a.row.pinned,
			Link: a.row.c.Link().TSwift(b.PeerAddr().String())}
		if !a.row.uid.IsZero() {
			ss.UID = a.row.uid.String()
		}
		for _, p := range a.s.Peers() {
			if p.Open {
				ss.Peers++
			}
		}
		st.Used += a.row.c.Length
		st.Swarms = append(st.Swarms, ss)
	}
	b.mu.Unlock()
	sort.Slice(st.Swarms, func(i, j int) bool { return st.Swarms[i].Root < st.Swarms[j].Root })
	return st, nil
}

type apiRequest struct {
	UID       string   `json:"uid,omitempty"`
	Nodes     []string `json:"nodes,omitempty"`
	Name      string   `json:"name,omitempty"`
	Root      string   `json:"root,omitempty"`
	Pin       bool     `json:"pin,omitempty"`
	Path      string   `json:"path,omitempty"`
	ChunkSize int      `json:"chunk_size,omitempty"`
	Hash      string   `json:"hash,omitempty"`
	Link      string   `json:"link,omitempty"`
}

func (b *Booster) apiHandler() http.Handler {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(v)
	}
	decode := func(r *http.Request) (apiRequest, error) {
		var q apiRequest
		err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&q)
		return q, err
	}
	ok := map[string]bool{"ok": true}
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st, err := b.Status()
		reply(w, st, err)
	})
	mux.HandleFunc("POST /follow", func(w http.ResponseWriter, r *http.Request) {
		q, err := decode(r)
		if err == nil {
			var uid feed.UID
			if uid, err = feed.ParseUID(q.UID); err == nil {
				err = b.feed.Follow(r.Context(), feed.Follow{UID: uid, Nodes: q.Nodes, Name: q.Name})
			}
		}
		reply(w, ok, err)
	})
	mux.HandleFunc("POST /unfollow", func(w http.ResponseWriter, r *http.Request) {
		q, err := decode(r)
		if err == nil {
			var uid feed.UID
			if uid, err = feed.ParseUID(q.UID); err == nil {
				err = b.feed.Unfollow(r.Context(), uid)
			}
		}
		reply(w, ok, err)
	})
	mux.HandleFunc("POST /pin", func(w http.ResponseWriter, r *http.Request) {
		q, err := decode(r)
		if err == nil {
			var root []byte
			if root, err = hex.DecodeString(q.Root); err == nil {
				err = b.Pin(root, q.Pin)
			}
		}
		reply(w, ok, err)
	})
	mux.HandleFunc("POST /seed", func(w http.ResponseWriter, r *http.Request) {
		q, err := decode(r)
		var out map[string]string
		if err == nil {
			o := merkle.Options{ChunkSize: 1024}
			if q.ChunkSize > 0 {
				o.ChunkSize = q.ChunkSize
			}
			if q.Hash == "sha256" {
				o.HashFunc = merkle.SHA256
			}
			var c feed.Content
			if c, err = b.Seed(q.Path, o); err == nil {
				out = map[string]string{"link": c.Link().TSwift(b.PeerAddr().String()), "root": hex.EncodeToString(c.Root)}
			}
		}
		reply(w, out, err)
	})
	mux.HandleFunc("POST /boost", func(w http.ResponseWriter, r *http.Request) {
		q, err := decode(r)
		if err == nil {
			var l link.Link
			if l, err = link.Parse(q.Link); err == nil {
				c := feed.ContentOf(l)
				if c.Length < 0 {
					c.Length = 0 // unknown: counted once the peaks prove it
				}
				err = b.Boost(c, feed.UID{}, 0)
			}
		}
		reply(w, ok, err)
	})
	mux.HandleFunc("GET /opml", func(w http.ResponseWriter, r *http.Request) {
		fs, err := b.fst.Follows()
		if err != nil {
			reply(w, nil, err)
			return
		}
		w.Header().Set("Content-Type", "text/x-opml")
		feed.WriteOPML(w, "swarmgate booster "+b.id.UID().Fingerprint(), fs)
	})
	mux.HandleFunc("POST /opml", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, feed.MaxOPMLBytes+1))
		var fs []feed.Follow
		if err == nil {
			fs, err = feed.ParseOPML(body)
		}
		n := 0
		for _, f := range fs {
			if e := b.feed.Follow(r.Context(), f); e != nil {
				err = errors.Join(err, e)
			} else {
				n++
			}
		}
		reply(w, map[string]int{"followed": n}, err)
	})
	return mux
}
