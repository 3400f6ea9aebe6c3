// Package store implements swarm content storage for the PPSP engine
// (RFC 7574): the content bytes of each swarm, which chunks have been
// verified against the Merkle tree, and the verified tree-node hashes.
//
// The package holds the Store and Swarm interfaces the engine codes against,
// the rules both implementations share (Info.Validate, Info.ChunkLen,
// Info.ValidBin, CheckLengthChange), and NewMemory, an in-memory Store.
// It is pure Go and builds for js/wasm, so the engine and the browser build
// stay cgo-free.
//
// The persistent implementation lives in the subpackage sqlitestore
// (content in plain files, state in SQLite through cgo; see its package
// doc for the schema, the migration rule and the durability contract).
// It is a separate package, not a build-tagged file here, so that importing
// store never links cgo. Package storetest is the one conformance suite
// every implementation passes.
//
// The invariant every implementation keeps: a chunk is readable only after
// WriteChunk has stored it, and the caller calls WriteChunk only for bytes
// it verified against the tree. ReadChunk never returns an unverified byte.
package store
