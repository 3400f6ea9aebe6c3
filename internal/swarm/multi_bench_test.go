package swarm

import (
	"testing"
	"time"
)

func BenchmarkThreeSeeders(b *testing.B) {
	data := randomContent(32<<20, 1)
	var seeders []*node
	var srcs []*Swarm
	for i := 0; i < 3; i++ {
		a := startEngine(b, nil, nil)
		srcs = append(srcs, seedContent(b, a, data, 1024))
		seeders = append(seeders, a)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c := startEngine(b, nil, nil)
		dst, _ := leechSwarm(b, c, srcs[0].ID(), 1024, ModeLeech)
		t0 := time.Now()
		for _, a := range seeders {
			dst.Connect(a.conn.LocalAddr())
		}
		waitDone(b, dst, 60*time.Second)
		b.Logf("%v: leecher %+v engine %+v", time.Since(t0), dst.Stats(), c.e.Stats())
		for _, s := range srcs {
			b.Logf("seeder %+v", s.Stats())
		}
		c.cancel()
	}
}
