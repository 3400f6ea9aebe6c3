package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"path"
	"sync"
)

//go:embed static
var static embed.FS

// Static is the asset tree served under /static/<version>/.
func Static() fs.FS {
	sub, _ := fs.Sub(static, "static")
	return sub
}

var (
	versionOnce sync.Once
	version     string
)

// Version is a digest of every asset: asset URLs carry it, so they can be
// cached as immutable and change when any asset does.
func Version() string {
	versionOnce.Do(func() {
		h := sha256.New()
		fs.WalkDir(Static(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(Static(), p)
			if err != nil {
				return err
			}
			h.Write([]byte(p))
			h.Write(b)
			return nil
		})
		version = hex.EncodeToString(h.Sum(nil))[:12]
	})
	return version
}

// Asset is the URL of a static asset.
func Asset(name string) string {
	return path.Join("/static", Version(), name)
}
