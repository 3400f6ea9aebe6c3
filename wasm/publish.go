//go:build js && wasm

package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"syscall/js"
	"time"

	"github.com/swarmgate/swarmgate/internal/client"
	"github.com/swarmgate/swarmgate/internal/jsutil"
	"github.com/swarmgate/swarmgate/internal/link"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// publish is swarmgate.publish({file, signal, copies, onProgress}): it
// hashes the File in slices (never whole in memory), then publishes it as
// a source. The Promise resolves once hashed, with
//
//	{root, link, status(), safe(), post(text), close()}
//
// link is the page path (/<root>?cl=…&n=…&mt=…); safe() resolves when
// `copies` boosters (default 1) hold a full copy, with the status JSON of
// that moment, after which the publisher closes every connection.
// status() is one call stale (status.go): never blocking, as the engine
// may be waiting on a File read that needs the event loop.
func publish(this js.Value, args []js.Value) any {
	if len(args) < 1 || args[0].Type() != js.TypeObject {
		return promise(func() (any, error) { return nil, errors.New("swarmgate.publish: want an options object") })
	}
	o := args[0]
	file, signal := o.Get("file"), str(o, "signal")
	copies := 1
	if v := o.Get("copies"); v.Type() == js.TypeNumber {
		copies = min(max(v.Int(), 1), 16)
	}
	progress := o.Get("onProgress")
	return promise(func() (any, error) {
		if file.Type() != js.TypeObject || file.Get("size").Type() != js.TypeNumber || file.Get("slice").Type() != js.TypeFunction {
			return nil, errors.New("swarmgate.publish: file must be a File or Blob")
		}
		size := int64(file.Get("size").Float())
		if size <= 0 {
			return nil, errors.New("swarmgate.publish: the file is empty")
		}
		r := &fileReader{file: file, size: size}
		if progress.Type() == js.TypeFunction {
			r.progress = func(n int64) { progress.Invoke(float64(n), float64(size)) }
		}
		content, err := swarm.InPlace(r, size, store.Info{ChunkSize: 1024}, 1)
		if err != nil {
			return nil, fmt.Errorf("hashing: %w", err)
		}
		r.progress = nil
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		p, err := client.Publish(ctx, client.PublishConfig{SignalURL: signal, Content: content, Copies: copies})
		if err != nil {
			return nil, err
		}
		info := content.Info()
		l := link.Link{Root: info.SwarmID, ChunkSize: info.ChunkSize, Length: size, Name: str(file, "name"), MIME: str(file, "type")}
		return publishHandle(p, l), nil
	})
}

func publishHandle(p *client.Publisher, l link.Link) js.Value {
	h := js.Global().Get("Object").New()
	h.Set("root", hex.EncodeToString(l.Root))
	h.Set("link", l.Path())
	h.Set("post", feedPoster(l)) // feed.go: sign and push a post linking l
	status := newSnapshot(client.PublishStatus{Peers: []client.PeerStatus{}},
		func(struct{}) any { return p.Status() })
	h.Set("status", js.FuncOf(func(this js.Value, args []js.Value) any {
		return status.get(struct{}{})
	}))
	h.Set("safe", js.FuncOf(func(this js.Value, args []js.Value) any {
		return promise(func() (any, error) {
			<-p.Safe()
			return jsonString(p.Status()), nil
		})
	}))
	h.Set("close", js.FuncOf(func(this js.Value, args []js.Value) any {
		go p.Close()
		return nil
	}))
	return h
}

// fileReader is an io.ReaderAt over a JS File: each miss reads one
// aligned block with File.slice().arrayBuffer(), awaited on the calling
// goroutine (never a js.FuncOf callback), and keeps the last few blocks.
type fileReader struct {
	file     js.Value
	size     int64
	progress func(int64) // bytes read so far, while hashing

	mu     sync.Mutex
	blocks [4]fileBlock
	next   int
	read   int64
}

type fileBlock struct {
	off  int64
	data []byte
}

const fileBlockSize = 1 << 20

func (r *fileReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("fileReader: negative offset")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		b, err := r.block(pos - pos%fileBlockSize)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], b.data[pos-b.off:])
	}
	return n, nil
}

func (r *fileReader) block(off int64) (*fileBlock, error) {
	for i := range r.blocks {
		if b := &r.blocks[i]; b.data != nil && b.off == off {
			return b, nil
		}
	}
	end := min(off+fileBlockSize, r.size)
	buf, err := jsutil.Await(r.file.Call("slice", float64(off), float64(end)).Call("arrayBuffer"))
	if err != nil {
		return nil, fmt.Errorf("reading the file at %d: %w", off, err)
	}
	u8 := js.Global().Get("Uint8Array").New(buf)
	if int64(u8.Length()) != end-off {
		return nil, fmt.Errorf("reading the file at %d: got %d bytes, want %d (was it changed?)", off, u8.Length(), end-off)
	}
	b := &r.blocks[r.next]
	r.next = (r.next + 1) % len(r.blocks)
	if cap(b.data) < int(end-off) {
		b.data = make([]byte, fileBlockSize)
	}
	b.data, b.off = b.data[:end-off], off
	js.CopyBytesToGo(b.data, u8)
	r.read += end - off
	// Go holds buf and u8 (1 MiB each, in JS) until its GC finalizes
	// them, and reading into reused blocks allocates nothing that would
	// start one: collect every 8 blocks (docs/decisions.md 43).
	if r.read/fileBlockSize%8 == 0 {
		go runtime.GC()
	}
	if r.progress != nil {
		r.progress(r.read)
	}
	return b, nil
}

// await waits for a Promise (jsutil.Await).
