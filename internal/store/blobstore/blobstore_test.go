package blobstore_test

import (
	"sync"
	"testing"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/blobstore"
	"github.com/swarmgate/swarmgate/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	byDir := map[string]*blobstore.MemBlobs{}
	storetest.Run(t, storetest.Config{
		Persistent: true,
		Open: func(t *testing.T, dir string) store.Store {
			mu.Lock()
			b := byDir[dir]
			if b == nil {
				b = blobstore.NewMemBlobs()
				byDir[dir] = b
			}
			mu.Unlock()
			s, err := blobstore.Open(b, blobstore.Options{TrustStored: true, BlockBytes: 64 << 10, CacheBytes: 256 << 10})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	})
}
