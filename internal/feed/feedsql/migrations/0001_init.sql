-- Feed state (internal/feed): verified posts, flags, follows, followers.
CREATE TABLE posts (
	uid  BLOB    NOT NULL,
	seq  INTEGER NOT NULL,
	time INTEGER NOT NULL, -- Unix ms
	raw  BLOB    NOT NULL, -- the verified canonical encoding
	PRIMARY KEY (uid, seq)
) WITHOUT ROWID;
CREATE TABLE flags (
	uid    BLOB PRIMARY KEY,
	reason TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE follows (
	uid   BLOB PRIMARY KEY,
	name  TEXT NOT NULL,
	nodes TEXT NOT NULL, -- newline-separated base URLs
	since INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE followers (
	publisher BLOB NOT NULL,
	follower  BLOB NOT NULL,
	raw       BLOB NOT NULL, -- the verified follow request
	PRIMARY KEY (publisher, follower)
) WITHOUT ROWID;
