-- 0001: swarms and their verified maps. Never edit this file once released;
-- add 0002_*.sql instead (see doc.go).

CREATE TABLE swarm (
	id         INTEGER PRIMARY KEY,
	swarm_id   BLOB    NOT NULL UNIQUE,  -- root hash
	hash_func  INTEGER NOT NULL,         -- RFC 7574 §7.1 code
	chunk_size INTEGER NOT NULL,         -- bytes
	length     INTEGER NOT NULL,         -- bytes; -1 while unknown
	path       TEXT    NOT NULL,         -- content file; '' means <dir>/content/<swarm hex>
	name       TEXT    NOT NULL DEFAULT '',
	created    INTEGER NOT NULL          -- unix seconds
) STRICT;

-- Verified maps as 1024-byte pages of bits: page p covers indices
-- p*8192 .. p*8192+8191, index i is bit i%8 of byte (i%8192)/8.
-- kind 0: verified chunks; kind 1: verified tree nodes, by RFC 7574 bin number,
-- whose hashes are in <dir>/trees/<swarm hex>.mhash at offset bin*hash size.
CREATE TABLE bitmap (
	swarm INTEGER NOT NULL REFERENCES swarm (id) ON DELETE CASCADE,
	kind  INTEGER NOT NULL CHECK (kind IN (0, 1)),
	page  INTEGER NOT NULL,
	bits  BLOB    NOT NULL,
	PRIMARY KEY (swarm, kind, page)
) STRICT, WITHOUT ROWID;
