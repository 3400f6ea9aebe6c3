// Package merkle implements the RFC 7574 §5 Merkle hash tree for static
// content: bin numbering (§4.2), peak hashes (§5.3, the file-size proof),
// uncle hashes (§5.1) and incremental verification of chunks (§5.5).
//
// The tree is pure computation, with no I/O beyond an io.ReaderAt for building
// it, and builds for js/wasm.
//
// Rules the tree follows (RFC 7574 §5.1–5.3, checked against libswift):
//   - content is split in fixed chunks (1 KiB by default); the last chunk may
//     be short and is hashed at its real length, without padding;
//   - a leaf is H(chunk); an interior node is H(left ‖ right);
//   - the tree is the smallest complete binary tree whose width is a power of
//     two ≥ the number of chunks; leaves past the end are the all-zero hash, and
//     a node whose children are both empty is all-zero too (not H(0‖0));
//   - the root hash is the top node; a one-chunk file's root is its leaf hash.
//
// A Tree is owned by one goroutine (or one lock) at a time.
package merkle
