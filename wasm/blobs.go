//go:build js && wasm

package main

import (
	"fmt"
	"syscall/js"

	"github.com/swarmgate/swarmgate/internal/jsutil"
	"github.com/swarmgate/swarmgate/internal/store/blobstore"
)

// jsBlobs is blobstore.Blobs over the page's swarmgateBlobs() backend
// (load.js: OPFS, else IndexedDB). Every call waits on a Promise from its
// own goroutine; none runs inside a JS callback.
type jsBlobs struct {
	b    js.Value
	kind string
}

// openBlobs opens the page's chunk storage, or returns nil if the page
// has none (the client then keeps chunks in memory).
func openBlobs() *jsBlobs {
	f := js.Global().Get("swarmgateBlobs")
	if f.Type() != js.TypeFunction {
		return nil
	}
	v, err := jsutil.Await(f.Invoke())
	if err != nil || v.Type() != js.TypeObject {
		return nil
	}
	return &jsBlobs{b: v, kind: v.Get("kind").String()}
}

func (j *jsBlobs) call(op string, args ...any) (js.Value, error) {
	v, err := jsutil.Await(j.b.Call(op, args...))
	if err != nil {
		return js.Undefined(), fmt.Errorf("%s %s: %w", j.kind, op, err)
	}
	return v, nil
}

func (j *jsBlobs) Get(dir, name string) ([]byte, error) {
	v, err := j.call("get", dir, name)
	if err != nil {
		return nil, err
	}
	if v.IsNull() || v.IsUndefined() {
		return nil, fmt.Errorf("%w: %s/%s", blobstore.ErrNoBlob, dir, name)
	}
	b := make([]byte, v.Get("byteLength").Int())
	js.CopyBytesToGo(b, v)
	return b, nil
}

func (j *jsBlobs) Put(dir, name string, data []byte) error {
	u := js.Global().Get("Uint8Array").New(len(data))
	js.CopyBytesToJS(u, data)
	_, err := j.call("put", dir, name, u)
	return err
}

func (j *jsBlobs) strings(v js.Value) []string {
	out := make([]string, v.Length())
	for i := range out {
		out[i] = v.Index(i).String()
	}
	return out
}

func (j *jsBlobs) List(dir string) ([]string, error) {
	v, err := j.call("list", dir)
	if err != nil {
		return nil, err
	}
	return j.strings(v), nil
}

func (j *jsBlobs) Dirs() ([]string, error) {
	v, err := j.call("dirs")
	if err != nil {
		return nil, err
	}
	return j.strings(v), nil
}

func (j *jsBlobs) RemoveDir(dir string) error {
	_, err := j.call("removeDir", dir)
	return err
}
