-- Booster state: what it boosts and why (the swarm state itself is in the
-- peer store).
CREATE TABLE boosts (
	root       BLOB PRIMARY KEY,
	hash_func  INTEGER NOT NULL,
	chunk_size INTEGER NOT NULL,
	length     INTEGER NOT NULL, -- from the post; the peaks prove it
	name       TEXT NOT NULL,
	mime       TEXT NOT NULL,
	uid        BLOB,             -- the followed uid whose post (or repost) named it; NULL for local seeds
	seq        INTEGER NOT NULL,
	added      INTEGER NOT NULL, -- Unix ms
	last_used  INTEGER NOT NULL, -- Unix ms: added, or last time it uploaded
	pinned     INTEGER NOT NULL DEFAULT 0,
	path       TEXT NOT NULL     -- content file
) WITHOUT ROWID;
