//go:build !unix

package sqlitestore

import (
	"fmt"
	"os"
)

// lockFile creates path; there is no cross-process lock on this platform.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: lock: %w", err)
	}
	return f, nil
}
