package blobstore_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

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

// TestTrim: the least recently opened swarms go first, never one that is
// open or kept, until what the rest hold fits the budget.
func TestTrim(t *testing.T) {
	b := blobstore.NewMemBlobs()
	st, err := blobstore.Open(b, blobstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := make([][]byte, 4)
	for i := range ids {
		ids[i] = storetest.ID(fmt.Sprint("trim", i), 0)
		sw, err := st.Open(store.Info{SwarmID: ids[i], ChunkSize: 1024, Length: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if i != 3 {
			sw.Close() // 3 stays open
		}
		time.Sleep(1100 * time.Millisecond) // Used is in seconds: 0 is the oldest
	}
	// 4 MiB held, budget 2 MiB: 0 goes (the oldest), 1 is kept, 2 goes,
	// 3 is open; 2 MiB left.
	n, err := st.Trim(2<<20, ids[1])
	if err != nil || n != 2 {
		t.Fatalf("Trim = %d, %v; want 2 removed", n, err)
	}
	for i, want := range []bool{false, true, false, true} {
		if _, err := st.Get(ids[i]); (err == nil) != want {
			t.Errorf("swarm %d: Get err = %v, want kept = %v", i, err, want)
		}
	}
}
