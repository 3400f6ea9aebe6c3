//go:build js && wasm

package main

import (
	"encoding/json"
	"sync"
)

// snapshot answers a js.FuncOf status() call without blocking it: the
// call returns the last JSON computed and starts the next computation on
// a goroutine (one at a time). A status that took the engine's lock inside
// the callback deadlocked the tab whenever the engine was itself waiting
// for the event loop (a File slice being read while publishing: the
// 50 MiB /publish stall; browser-testing.md, Go-WASM pitfall 3). The
// answer is one call stale; pages poll it every few hundred milliseconds.
type snapshot[A any] struct {
	compute func(A) any

	mu   sync.Mutex
	last string
	busy bool
}

func newSnapshot[A comparable](first any, compute func(A) any) *snapshot[A] {
	return &snapshot[A]{compute: compute, last: jsonString(first)}
}

func (s *snapshot[A]) get(arg A) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.busy {
		s.busy = true
		go func() {
			v := jsonString(s.compute(arg))
			s.mu.Lock()
			s.last, s.busy = v, false
			s.mu.Unlock()
		}()
	}
	return s.last
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
