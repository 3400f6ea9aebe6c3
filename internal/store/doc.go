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
// # A file backend (the browser's OPFS, say)
//
// A Store whose swarms keep their tree in a file implements, besides Store
// and Swarm, the two methods of merkle.NodeStore: HashReader's ReadHashes
// (a run of node hashes and which of them are stored, bin b at b*HashSize,
// as sqlitestore's sidecar) and Swarm's PutHashes (already required). The
// engine then never loads the tree: it reads pages of 256 hashes on demand
// through one bounded cache (swarm.Config.HashCache) and writes each hash it
// verifies through at once, so the backend must have it readable from
// ReadHashes as soon as PutHashes returns (a write buffer it reads from,
// as sqlitestore's, will do). Both are called with the engine's lock held,
// so they must not block for long: in a browser, a worker's synchronous
// OPFS access handle, not an async IndexedDB round trip. The verified-chunk
// map the backend keeps in memory can be store/internal/bitset's (a package
// under internal/store may import it): empty and full stretches cost
// nothing. The storetest suite is the conformance test.
//
// The invariant every implementation keeps: a chunk is readable only after
// WriteChunk has stored it, and the caller calls WriteChunk only for bytes
// it verified against the tree. ReadChunk never returns an unverified byte.
package store
