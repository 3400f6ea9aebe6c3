package stream

import "github.com/swarmgate/swarmgate/internal/store"

// Coarsen returns the verified ranges for a bar of n cells, end-inclusive:
// exact when there are at most n ranges, else each cell of total/n chunks
// counts as held when at least half of it is verified. Work is
// O(len(rs) + n), so a status poll stays cheap for any content size.
// n <= 0 asks for no bar: the result is empty.
func Coarsen(rs []store.Range, total uint64, n int) [][2]uint64 {
	if n <= 0 {
		return [][2]uint64{}
	}
	out := make([][2]uint64, 0, min(len(rs), n))
	if len(rs) <= n || total == 0 {
		for _, r := range rs {
			out = append(out, [2]uint64{r.Start, r.End})
		}
		return out
	}
	cell := (total + uint64(n) - 1) / uint64(n)
	cover := make([]uint64, n)
	for _, r := range rs {
		for c := r.Start / cell; c <= r.End/cell && c < uint64(n); c++ {
			lo, hi := max(r.Start, c*cell), min(r.End, (c+1)*cell-1)
			cover[c] += hi - lo + 1
		}
	}
	for c := 0; c < n; c++ {
		if 2*cover[c] < cell {
			continue
		}
		lo, hi := uint64(c)*cell, min(uint64(c+1)*cell, total)-1
		if k := len(out); k > 0 && out[k-1][1]+1 == lo {
			out[k-1][1] = hi
		} else {
			out = append(out, [2]uint64{lo, hi})
		}
	}
	return out
}
