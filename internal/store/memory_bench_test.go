package store_test

import (
	"testing"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/storetest"
)

func memSwarm(b *testing.B, chunks int) store.Swarm {
	b.Helper()
	sw, err := store.NewMemory().Open(store.Info{SwarmID: storetest.ID(b.Name(), 0), ChunkSize: 1024, Length: int64(chunks) * 1024})
	if err != nil {
		b.Fatal(err)
	}
	return sw
}

func BenchmarkMemoryWriteChunk(b *testing.B) {
	sw := memSwarm(b, b.N)
	p := storetest.ChunkData("bench", 0, 1024)
	b.SetBytes(1024)
	b.ResetTimer()
	for i := range b.N {
		if err := sw.WriteChunk(uint64(i), p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryReadChunk(b *testing.B) {
	const chunks = 1 << 14
	sw := memSwarm(b, chunks)
	p := storetest.ChunkData("bench", 0, 1024)
	for i := range chunks {
		sw.WriteChunk(uint64(i), p)
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

func BenchmarkMemoryPutHash(b *testing.B) {
	sw := memSwarm(b, b.N)
	h := storetest.HashData("bench", 0, 20)
	b.ResetTimer()
	for i := range b.N {
		if err := sw.PutHash(uint64(i), h); err != nil {
			b.Fatal(err)
		}
	}
}
