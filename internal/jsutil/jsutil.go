//go:build js && wasm

// Package jsutil holds the syscall/js helpers the browser build's
// packages share.
package jsutil

import (
	"errors"
	"syscall/js"
)

// Await waits for a Promise (or a plain value, which it takes as
// resolved) and returns what it settled with; a rejection becomes an error
// with its text. Never call it from a js.FuncOf callback: the callback
// holds the event loop the Promise needs (browser-testing.md, Go-WASM
// pitfall 3).
func Await(p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	ok := js.FuncOf(func(this js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- result{v: v}
		return nil
	})
	fail := js.FuncOf(func(this js.Value, args []js.Value) any {
		msg := "rejected"
		if len(args) > 0 {
			msg = args[0].Call("toString").String()
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	defer ok.Release()
	defer fail.Release()
	js.Global().Get("Promise").Call("resolve", p).Call("then", ok, fail)
	res := <-ch
	return res.v, res.err
}
