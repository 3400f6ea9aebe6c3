package sqlitestore

import (
	"errors"
	"fmt"
	"os"
)

// snapshot is what one checkpoint persists of one swarm.
type snapshot struct {
	sw                    *swarm
	content, tree         *os.File
	chunkPages, nodePages []uint64
	chunkData, nodeData   [][]byte
}

// checkpoint makes the given swarms durable, in this order:
//
//  1. under each swarm's lock: buffered chunks and tree hashes are written
//     to the content file and sidecar, and the pages of the verified maps changed since the last
//     checkpoint are copied (only chunks whose bytes were already written
//     are in them: WriteChunk sets a bit after its write returns, or after
//     buffering, and the buffer was just written; if writing the buffer
//     failed, the pages are left for the next checkpoint);
//  2. the content and tree files are fdatasync'ed;
//  3. the copied pages of all swarms are committed in one transaction.
//
// So the database never records a chunk or node whose bytes may not be on
// disk. A failed sync reverts that swarm to its committed state (see
// swarm.revert); a failed commit marks the pages dirty again.
func (s *Store) checkpoint(list []*swarm) error {
	s.ckptMu.Lock()
	defer s.ckptMu.Unlock()
	return s.checkpointLocked(list)
}

// checkpointLocked is checkpoint with ckptMu held. Files are closed only
// with ckptMu held, so they stay open throughout.
func (s *Store) checkpointLocked(list []*swarm) error {
	var errs []error
	snaps := make([]snapshot, 0, len(list))
	for _, sw := range list {
		sw.mu.Lock()
		if sw.wb.len() == 0 && sw.fb.len() == 0 && !sw.writing {
			// Nothing written since the last checkpoint emptied the buffers:
			// give their memory back.
			sw.wb, sw.fb, sw.scratch = chunkBuf{}, chunkBuf{}, nil
		}
		if sw.closed || (!sw.chunks.HasDirty() && !sw.nodes.HasDirty() && len(sw.pend) == 0 && sw.wb.len() == 0 && sw.fb.len() == 0 && !sw.writing) {
			sw.mu.Unlock()
			continue
		}
		sn := snapshot{sw: sw, content: sw.content, tree: sw.tree}
		// Tree hashes first: a chunk is never committed without the hashes
		// stored with or before it (the engine stores a chunk's uncles
		// before the chunk; a peer told of the chunk skips them).
		nodeErr := sw.writePendingLocked()
		if nodeErr != nil {
			errs = append(errs, nodeErr) // node and chunk pages stay dirty for the next try
		} else {
			sn.nodePages, sn.nodeData = sw.nodes.TakeDirty()
		}
		if err := sw.flushWritesLocked(); err != nil {
			errs = append(errs, err) // chunk pages stay dirty for the next try
		} else if nodeErr == nil {
			sn.chunkPages, sn.chunkData = sw.chunks.TakeDirty()
		}
		sw.unsynced = 0
		sw.mu.Unlock()
		snaps = append(snaps, sn)
	}

	kept := snaps[:0]
	for _, sn := range snaps {
		var err error
		if len(sn.chunkPages) > 0 {
			err = syncData(sn.content)
		}
		if err == nil && len(sn.nodePages) > 0 {
			err = syncData(sn.tree)
		}
		if err != nil {
			err = fmt.Errorf("sqlitestore: checkpoint swarm %s: %w", sn.sw.name, err)
			errs = append(errs, err)
			sn.sw.revert(err)
			continue
		}
		if len(sn.chunkPages)+len(sn.nodePages) > 0 {
			kept = append(kept, sn)
		}
	}
	if len(kept) == 0 {
		return errors.Join(errs...)
	}
	if err := s.commit(kept); err != nil {
		errs = append(errs, err)
		for _, sn := range kept {
			sn.sw.mu.Lock()
			sn.sw.chunks.MarkDirty(sn.chunkPages)
			sn.sw.nodes.MarkDirty(sn.nodePages)
			sn.sw.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// commit writes the snapshots' pages in one transaction.
func (s *Store) commit(snaps []snapshot) error {
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("sqlitestore: checkpoint: begin: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.Prepare("INSERT INTO bitmap (swarm, kind, page, bits) VALUES (?, ?, ?, ?) " +
		"ON CONFLICT (swarm, kind, page) DO UPDATE SET bits = excluded.bits")
	if err != nil {
		return fmt.Errorf("sqlitestore: checkpoint: %w", err)
	}
	defer stmt.Close()
	for _, sn := range snaps {
		for k, p := range sn.chunkPages {
			if _, err := stmt.Exec(sn.sw.rowID, kindChunks, int64(p), sn.chunkData[k]); err != nil {
				return fmt.Errorf("sqlitestore: checkpoint swarm %s: %w", sn.sw.name, err)
			}
		}
		for k, p := range sn.nodePages {
			if _, err := stmt.Exec(sn.sw.rowID, kindNodes, int64(p), sn.nodeData[k]); err != nil {
				return fmt.Errorf("sqlitestore: checkpoint swarm %s: %w", sn.sw.name, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: checkpoint: commit: %w", err)
	}
	return nil
}
