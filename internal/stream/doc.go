// Package stream reads a swarm's content as it verifies (RFC 7574 §5: only
// chunks checked against the Merkle tree are ever stored, so only those are
// read): a store wrapper that wakes readers when a chunk is stored, and an
// io.ReadSeeker that waits for each chunk, moving the engine's playhead to
// it. The gateway's /raw/ and the browser client's player read through it.
// Pure Go; builds for js/wasm.
package stream
