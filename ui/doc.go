// Package ui is the gateway's user interface: templ components (the
// generated *_templ.go files are committed; `make generate` remakes them
// and `make check` fails when they are stale) and the static assets they
// reference, embedded. The pages work without JavaScript; the scripts only
// add live progress, peers and sharing.
package ui
