package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/swarmgate/swarmgate/internal/merkle"
	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/sqlitestore"
	"github.com/swarmgate/swarmgate/internal/swarm"
)

// OpenContent opens a regular, non-empty file.
func OpenContent(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Size() == 0 {
		f.Close()
		return nil, 0, fmt.Errorf("%s: empty file (PPSP content has at least one byte)", path)
	}
	return f, fi.Size(), nil
}

// ImportFile hashes the file at path (unless the store already holds it
// unchanged) and records it as verified content of a swarm.
func ImportFile(st store.Store, path string, o merkle.Options) (store.Swarm, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, size, err := OpenContent(abs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info := store.Info{Path: abs, Name: filepath.Base(abs), ChunkSize: uint32(o.ChunkSize), HashFunc: uint8(o.HashFunc), Length: size}
	sw, _, err := swarm.Import(st, f, size, info, 0)
	if errors.Is(err, sqlitestore.ErrPathInUse) {
		// The file changed since it was seeded: forget the old content.
		if err := ForgetPath(st, abs); err != nil {
			return nil, err
		}
		sw, _, err = swarm.Import(st, f, size, info, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if sw.Info().Path != abs {
		// The same content was seeded from elsewhere before: forget that.
		id := sw.Info().SwarmID
		sw.Close()
		if err := st.Remove(id); err != nil {
			return nil, err
		}
		if sw, _, err = swarm.Import(st, f, size, info, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return sw, nil
}

// ForgetPath removes the state of swarms whose content file is path.
func ForgetPath(st store.Store, path string) error {
	infos, err := st.List()
	if err != nil {
		return err
	}
	for _, in := range infos {
		if in.Path == path {
			if err := st.Remove(in.SwarmID); err != nil {
				return err
			}
		}
	}
	return nil
}
