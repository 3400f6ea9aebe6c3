package sqlitestore_test

import (
	"math/rand/v2"
	"testing"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/storetest"
)

func benchSwarm(b *testing.B, chunks int) (store.Swarm, func()) {
	b.Helper()
	s := openStore(b, b.TempDir())
	sw, err := s.Open(store.Info{SwarmID: storetest.ID(b.Name(), 0), ChunkSize: 1024, Length: int64(chunks) * 1024})
	if err != nil {
		b.Fatal(err)
	}
	return sw, func() {
		if err := sw.Close(); err != nil {
			b.Error(err)
		}
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	}
}

// BenchmarkWriteChunk writes 1 KiB chunks in order with the default
// checkpoint cadence running (100 ms), then flushes: the amortized cost of
// a downloaded chunk, fdatasync and SQLite commit included.
func BenchmarkWriteChunk(b *testing.B) {
	sw, done := benchSwarm(b, b.N)
	defer done()
	p := storetest.ChunkData("bench", 0, 1024)
	b.SetBytes(1024)
	b.ResetTimer()
	for i := range b.N {
		if err := sw.WriteChunk(uint64(i), p); err != nil {
			b.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriteChunkRandom is BenchmarkWriteChunk in a shuffled order, as
// a rarest-first download writes: no runs to coalesce.
func BenchmarkWriteChunkRandom(b *testing.B) {
	sw, done := benchSwarm(b, b.N)
	defer done()
	order := rand.New(rand.NewPCG(1, 1)).Perm(b.N)
	p := storetest.ChunkData("bench", 0, 1024)
	b.SetBytes(1024)
	b.ResetTimer()
	for _, i := range order {
		if err := sw.WriteChunk(uint64(i), p); err != nil {
			b.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriteChunkParallel is BenchmarkWriteChunk from GOMAXPROCS
// goroutines writing interleaved chunks.
func BenchmarkWriteChunkParallel(b *testing.B) {
	sw, done := benchSwarm(b, b.N+1024)
	defer done()
	p := storetest.ChunkData("bench", 0, 1024)
	b.SetBytes(1024)
	var next atomicCounter
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := sw.WriteChunk(next.inc(), p); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkReadChunk(b *testing.B) {
	const chunks = 1 << 14
	sw, done := benchSwarm(b, chunks)
	defer done()
	p := storetest.ChunkData("bench", 0, 1024)
	for i := range chunks {
		if err := sw.WriteChunk(uint64(i), p); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, 1024)
	b.SetBytes(1024)
	b.ResetTimer()
	for i := range b.N {
		if _, err := sw.ReadChunk(uint64(i*7919)%chunks, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutHash stores one 20-byte node hash per op, flushing at the end.
func BenchmarkPutHash(b *testing.B) {
	sw, done := benchSwarm(b, b.N)
	defer done()
	h := storetest.HashData("bench", 0, 20)
	b.ResetTimer()
	for i := range b.N {
		if err := sw.PutHash(uint64(i), h); err != nil {
			b.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPutHashesImport is a seeder's import of a 100 MiB file in 1 KiB
// chunks: 204,800 node hashes in batches of 4096, then Flush. ns/op is per
// hash.
func BenchmarkPutHashesImport(b *testing.B) {
	const nodes, batch = 204800, 4096
	bins := make([]uint64, batch)
	hashes := make([]byte, batch*20)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		b.StopTimer()
		sw, done := benchSwarm(b, nodes/2)
		b.StartTimer()
		for a := 0; a < nodes && n < b.N; a += batch {
			k := min(batch, nodes-a, b.N-n)
			for j := range k {
				bins[j] = uint64(a + j)
			}
			if err := sw.PutHashes(bins[:k], hashes[:k*20]); err != nil {
				b.Fatal(err)
			}
			n += k
		}
		if err := sw.Flush(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		done()
		b.StartTimer()
	}
}

func BenchmarkHashes(b *testing.B) {
	const nodes = 204800 - 1
	sw, done := benchSwarm(b, (nodes+1)/2)
	defer done()
	bins := make([]uint64, nodes)
	for i := range bins {
		bins[i] = uint64(i)
	}
	if err := sw.PutHashes(bins, make([]byte, nodes*20)); err != nil {
		b.Fatal(err)
	}
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		n := 0
		if err := sw.Hashes(func(uint64, []byte) { n++ }); err != nil || n != nodes {
			b.Fatal(err, n)
		}
	}
}
