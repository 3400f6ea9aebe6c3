package sqlitestore_test

import (
	"runtime"
	"testing"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/storetest"
)

// TestLargeContentBoundedMemory downloads 128 MiB in 1 KiB chunks with a
// leaf hash per chunk and checks that the heap does not grow with the
// content: the bytes go to the file, the maps cost a bit per chunk.
func TestLargeContentBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 128 MiB")
	}
	const chunks = 128 << 10
	s := openStore(t, t.TempDir())
	defer s.Close()
	sw, err := s.Open(store.Info{SwarmID: storetest.ID("large", 0), ChunkSize: 1024, Length: chunks*1024 - 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	p := storetest.ChunkData("large", 0, 1024)
	h := storetest.HashData("large", 0, 20)
	var ms runtime.MemStats
	var peak uint64
	for c := range uint64(chunks) {
		if err := sw.WriteChunk(c, p[:sw.Info().ChunkLen(c)]); err != nil {
			t.Fatal(err)
		}
		if err := sw.PutHash(2*c, h); err != nil {
			t.Fatal(err)
		}
		if c%(16<<10) == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	peak = max(peak, ms.HeapInuse)
	t.Logf("heap in use: peak %d KiB for %d MiB of content", peak>>10, chunks>>10)
	if peak > 48<<20 {
		t.Errorf("heap in use peaked at %d MiB writing 128 MiB", peak>>20)
	}
	if sw.NumVerified() != chunks {
		t.Fatalf("NumVerified %d", sw.NumVerified())
	}
	buf := make([]byte, 1024)
	if n, err := sw.ReadChunk(chunks-1, buf); err != nil || n != 1023 {
		t.Fatalf("last chunk: %d, %v", n, err)
	}
}
