// Package sqlitestore implements store.Store persistently: content bytes in
// plain files, the verified-chunk and verified-tree-node maps in SQLite
// (mattn/go-sqlite3, cgo), and the Merkle-tree node hashes (RFC 7574 §5) in
// flat sidecar files.
//
// It lives apart from package store so that store, and the engine that
// imports it, stay cgo-free and build for js/wasm; only cmd and the
// gateway/booster composition roots import sqlitestore.
//
// # Files
//
// Config.Dir holds:
//
//	swarmgate.db            SQLite database (WAL: also -wal, -shm)
//	swarmgate.lock          flock(2)ed by the one Store that owns the directory
//	content/<swarm hex>     content files whose Info.Path was empty
//	trees/<swarm hex>.mhash node hashes: the hash of bin b at offset b*HashSize,
//	                        as libswift's .mhash; a sparse file
//
// Content files are plain files, chunk i at offset i*ChunkSize, so a
// finished download is the file itself and a seeder's file is served in
// place. A Store never deletes a content file.
//
// # Schema and migrations
//
// The schema is the embedded files migrations/NNNN_name.sql, numbered from
// 0001 without gaps. PRAGMA user_version is the number of migrations
// applied; Open applies the missing ones in order, each in its own
// transaction together with its user_version bump, and refuses a database
// whose user_version is newer than the build. The rule: never edit,
// renumber or delete a migration once it has been committed; change the
// schema only by adding the next file.
//
// Tables (0001):
//
//	swarm(id, swarm_id UNIQUE, hash_func, chunk_size, length, path, name, created)
//	    one row per swarm; length -1 while unknown; path '' = the default
//	    content path, so the directory can move.
//	bitmap(swarm → swarm.id ON DELETE CASCADE, kind, page, bits)
//	    the verified maps in 1024-byte pages of 8192 bits: kind 0 chunks,
//	    kind 1 tree nodes by bin number; index i is bit i%8 of byte
//	    (i%8192)/8 of page i/8192.
//
// Every connection runs with foreign_keys on, journal_mode WAL,
// synchronous FULL, _txlock=immediate (writers take the lock at BEGIN, so
// they queue on the busy timeout instead of failing to upgrade) and a 10 s
// busy timeout.
//
// # Durability
//
// The in-memory maps (one bit per chunk and per tree node, paged and
// sparse, so 10 GiB of 1 KiB chunks costs at most 3.75 MiB) are
// authoritative: a chunk is readable the moment WriteChunk returns and
// never before. WriteChunk copies a chunk smaller than 32 KiB into a
// 128 KiB per-swarm write buffer (served from there until written); a full
// buffer is written to the content file by a background goroutine, one
// pwrite per run of consecutive chunks, while a second buffer fills, and
// every checkpoint writes both. Bigger chunks are written with pwrite
// before their bit is set. PutHash buffers up to 8,192
// hashes the same way before writing them to the sidecar. Memory stays
// bounded whatever the content size.
//
// Committing to SQLite per chunk would cost an fsync per chunk; instead a
// checkpoint runs every Config.FlushInterval (default 100 ms), early when
// a swarm has Config.FlushBytes (default 16 MiB) unflushed, on Flush, and
// on Close. It writes the buffered chunks and hashes, copies the changed pages of the
// maps, fdatasyncs the content and sidecar files, and only then commits the
// copied pages, for all changed swarms in one transaction. Hence:
//
//   - the database never records a chunk or node whose bytes might not be
//     on disk, so after kill -9 or a power cut every chunk the store calls
//     verified reads back exactly the verified bytes;
//   - a crash loses at most what was written since the last checkpoint
//     (one FlushInterval, or FlushBytes): those chunks are downloaded
//     again, never served corrupted, never re-hashed;
//   - when Flush returns nil, everything written before it is durable.
//
// Open checks the maps against the files: chunks past the end of a content
// file (truncated or replaced by hand) and nodes past the end of the
// sidecar are forgotten. Bytes changed in place by another program are not
// detected; the content file belongs to the store while the swarm exists.
//
// # Errors
//
// I/O errors come back wrapped with the operation, chunk and swarm, and
// errors.Is works on the cause (syscall.ENOSPC, syscall.EFBIG, ...). A
// WriteChunk that fails marks nothing verified. Because small chunks are
// buffered, a full disk shows at the WriteChunk that finds the buffer full
// and cannot write it, and at Flush; the chunks already buffered stay
// readable from memory and are retried at each checkpoint, and none of
// them is committed to SQLite until its bytes are written and synced. A failed fdatasync reverts the
// swarm's maps to the last committed checkpoint, since the kernel may have
// dropped the unwritten pages; the chunks since then are fetched again.
// Background checkpoint failures are logged through Config.Logger and
// retried at the next interval; Flush returns them.
//
// # Concurrency
//
// A Store and its Swarm handles are safe for concurrent use. Each swarm's
// state has one lock, chunk reads and writes run outside it; one
// checkpoint runs at a time. A Store owns its directory (flock): a second
// Store on it, in any process, fails with ErrLocked.
package sqlitestore
