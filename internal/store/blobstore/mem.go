package blobstore

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
)

// MemBlobs is Blobs in memory: for tests, and for a Store that must not
// persist. It copies what it is given and what it hands out.
type MemBlobs struct {
	mu   sync.Mutex
	dirs map[string]map[string][]byte
	// Fail, when set, is asked before every Put with the bytes stored so
	// far; an error it returns fails the Put (a full disk, a quota).
	Fail func(dir, name string, stored int64) error
}

// NewMemBlobs returns empty MemBlobs.
func NewMemBlobs() *MemBlobs { return &MemBlobs{dirs: map[string]map[string][]byte{}} }

func (m *MemBlobs) Get(dir, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.dirs[dir][name]
	if !ok {
		return nil, fmt.Errorf("%w: %s/%s", ErrNoBlob, dir, name)
	}
	return bytes.Clone(b), nil
}

func (m *MemBlobs) Put(dir, name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		if err := m.Fail(dir, name, m.bytesLocked()); err != nil {
			return err
		}
	}
	if m.dirs[dir] == nil {
		m.dirs[dir] = map[string][]byte{}
	}
	m.dirs[dir][name] = bytes.Clone(data)
	return nil
}

func (m *MemBlobs) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n := range m.dirs[dir] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (m *MemBlobs) Dirs() ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for d := range m.dirs {
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}

func (m *MemBlobs) RemoveDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.dirs, dir)
	return nil
}

// Bytes is the total size of every blob.
func (m *MemBlobs) Bytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytesLocked()
}

func (m *MemBlobs) bytesLocked() int64 {
	var n int64
	for _, d := range m.dirs {
		for _, b := range d {
			n += int64(len(b))
		}
	}
	return n
}

// Corrupt flips a byte of a stored blob (a test's damaged disk).
func (m *MemBlobs) Corrupt(dir, name string, off int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.dirs[dir][name]
	if !ok || off >= len(b) {
		return false
	}
	b[off] ^= 0xff
	return true
}
