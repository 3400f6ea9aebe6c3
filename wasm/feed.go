//go:build js && wasm

package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall/js"
	"time"
	"unicode/utf8"

	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/jsutil"
	"github.com/swarmgate/swarmgate/internal/link"
)

// The publisher's feed key lives in this browser's localStorage (the
// RFC 8032 seed in hex) and is never sent anywhere; the seq it last
// signed is kept next to it, so a seq is never signed twice even when
// the gateway lost the post (docs/feed.md, Identity).
const (
	feedKeyItem = "swarmgate.feed.key"
	feedSeqItem = "swarmgate.feed.seq"
)

// feedPoster is the handle's post(text): it signs a post linking l with
// the browser's key and pushes it to this gateway's feed node
// (/feed/v1/posts). The Promise resolves with {uid, fingerprint, seq,
// page}.
func feedPoster(l link.Link) js.Func {
	return js.FuncOf(func(this js.Value, args []js.Value) any {
		text := ""
		if len(args) > 0 && args[0].Type() == js.TypeString {
			text = args[0].String()
		}
		return promise(func() (any, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			return postToFeed(ctx, l, text)
		})
	})
}

func postToFeed(ctx context.Context, l link.Link, text string) (any, error) {
	text = strings.TrimSpace(text)
	if n := utf8.RuneCountInString(text); n > feed.DefaultMaxText {
		return nil, fmt.Errorf("the text is %d characters; at most %d", n, feed.DefaultMaxText)
	}
	id, err := browserIdentity()
	if err != nil {
		return nil, err
	}
	base := js.Global().Get("location").Get("origin").String()
	seq, err := nextSeq(ctx, base, id.UID())
	if err != nil {
		return nil, err
	}
	p := &feed.Post{Seq: seq, Time: time.Now(), Text: text, Links: []feed.Content{postContent(l)}}
	raw, err := p.Sign(id)
	if err != nil {
		return nil, err
	}
	storage().Call("setItem", feedSeqItem, strconv.FormatUint(seq, 10))
	status, text2, body, err := fetch(ctx, "POST", base+"/feed/v1/posts", feed.BatchType, feed.AppendBatch(nil, raw), feed.MaxPushAnswer)
	if err != nil {
		return nil, fmt.Errorf("the gateway's feed: %w", err)
	}
	if err := feed.CheckPushAnswer(base, status, text2, body); err != nil {
		return nil, err
	}
	o := js.Global().Get("Object").New()
	o.Set("uid", id.UID().String())
	o.Set("fingerprint", id.UID().Fingerprint())
	o.Set("seq", float64(seq))
	o.Set("page", "/u/"+id.UID().String())
	return o, nil
}

func storage() js.Value { return js.Global().Get("localStorage") }

// browserIdentity loads the key from localStorage, making one (crypto
// getRandomValues) on first use.
func browserIdentity() (*feed.Identity, error) {
	ls := storage()
	if !ls.Truthy() {
		return nil, errors.New("this browser keeps no local storage for the feed key")
	}
	if v := ls.Call("getItem", feedKeyItem); v.Type() == js.TypeString {
		seed, err := hex.DecodeString(v.String())
		if err == nil {
			if id, err := feed.IdentityFromSeed(seed); err == nil {
				return id, nil
			}
		}
		return nil, fmt.Errorf("the feed key in this browser's storage (%s) is damaged; remove it to make a new one", feedKeyItem)
	}
	id, err := feed.NewIdentity(nil)
	if err != nil {
		return nil, err
	}
	ls.Call("setItem", feedKeyItem, hex.EncodeToString(id.Seed()))
	ls.Call("removeItem", feedSeqItem)
	return id, nil
}

// nextSeq is one above both what the gateway holds for uid and what this
// browser last signed.
func nextSeq(ctx context.Context, base string, uid feed.UID) (uint64, error) {
	var local uint64
	if v := storage().Call("getItem", feedSeqItem); v.Type() == js.TypeString {
		local, _ = strconv.ParseUint(v.String(), 10, 64)
	}
	status, text, body, err := fetch(ctx, "GET", base+"/feed/v1/head/"+uid.String(), "", nil, 4096)
	if err != nil {
		return 0, fmt.Errorf("the gateway's feed: %w", err)
	}
	if status != 200 {
		return 0, fmt.Errorf("the gateway's feed: %d %s (is its feed node off?)", status, text)
	}
	var h struct{ Seq uint64 }
	if err := json.Unmarshal(body, &h); err != nil {
		return 0, fmt.Errorf("the gateway's feed head: %v", err)
	}
	return max(local, h.Seq) + 1, nil
}

// fetch is one HTTP request through the browser's fetch (the client links
// no net/http: it would double the module's size). It returns the status,
// its text and at most limit bytes of the body.
func fetch(ctx context.Context, method, url, ctype string, body []byte, limit int) (int, string, []byte, error) {
	opt := js.Global().Get("Object").New()
	opt.Set("method", method)
	opt.Set("cache", "no-store")
	if body != nil {
		u := js.Global().Get("Uint8Array").New(len(body))
		js.CopyBytesToJS(u, body)
		opt.Set("body", u)
		hdr := js.Global().Get("Object").New()
		hdr.Set("Content-Type", ctype)
		opt.Set("headers", hdr)
	}
	if d, ok := ctx.Deadline(); ok {
		if ts := js.Global().Get("AbortSignal"); ts.Truthy() && ts.Get("timeout").Type() == js.TypeFunction {
			opt.Set("signal", ts.Call("timeout", max(1, time.Until(d).Milliseconds())))
		}
	}
	res, err := jsutil.Await(js.Global().Call("fetch", url, opt))
	if err != nil {
		return 0, "", nil, err
	}
	buf, err := jsutil.Await(res.Call("arrayBuffer"))
	if err != nil {
		return 0, "", nil, err
	}
	u := js.Global().Get("Uint8Array").New(buf)
	n := min(u.Get("byteLength").Int(), limit)
	b := make([]byte, n)
	js.CopyBytesToGo(b, u.Call("subarray", 0, n))
	return res.Get("status").Int(), res.Get("statusText").String(), b, nil
}

// postContent is the post's link to l, within the post encoding's
// limits: a name too long is cut (at a character boundary), a media type
// the encoding does not take (parameters, odd characters) is dropped.
func postContent(l link.Link) feed.Content {
	c := feed.ContentOf(l)
	for len(c.Name) > feed.MaxNameBytes {
		_, n := utf8.DecodeLastRuneInString(c.Name)
		c.Name = c.Name[:len(c.Name)-n]
	}
	c.Name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, c.Name)
	if !feed.ValidMIME(c.MIME) {
		c.MIME = ""
	}
	return c
}
