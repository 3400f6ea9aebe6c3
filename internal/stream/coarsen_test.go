package stream

import (
	"reflect"
	"testing"

	"github.com/swarmgate/swarmgate/internal/store"
)

func TestCoarsen(t *testing.T) {
	rs := []store.Range{{Start: 0, End: 9}, {Start: 20, End: 20}, {Start: 50, End: 99}}
	for _, tc := range []struct {
		name  string
		total uint64
		n     int
		want  [][2]uint64
	}{
		{"exact", 100, 3, [][2]uint64{{0, 9}, {20, 20}, {50, 99}}},
		{"more cells than ranges", 100, 1000, [][2]uint64{{0, 9}, {20, 20}, {50, 99}}},
		// Cells of 50 chunks: the first holds 11 of 50 (under half), the second all.
		{"two cells", 100, 2, [][2]uint64{{50, 99}}},
		{"no bar", 100, 0, [][2]uint64{}},
		{"negative", 100, -5, [][2]uint64{}},
		{"unknown total", 0, 1, [][2]uint64{{0, 9}, {20, 20}, {50, 99}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Coarsen(rs, tc.total, tc.n); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Coarsen(n=%d) = %v, want %v", tc.n, got, tc.want)
			}
		})
	}
	// A cell count from a page is hostile: huge ones cost only the ranges.
	if got := Coarsen(rs, 100, 1<<40); len(got) != 3 {
		t.Errorf("huge n: %v", got)
	}
}
