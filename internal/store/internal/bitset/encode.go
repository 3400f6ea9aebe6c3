package bitset

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// encodingV1 is the first byte of Encode's output.
const encodingV1 = 1

// maxPageNum bounds page numbers so that page·PageBits fits in a uint64.
const maxPageNum = (1<<64 - 1) / PageBits

// Encode serializes the whole set compactly (the dirty marks are not
// part of it): a version byte, the runs of full pages as (first, last)
// uvarint pairs, then each partly set page as its uvarint number and its
// PageBytes (PageData's form). A full or empty map of any size costs a few
// bytes; the worst case is one page per PageBits indices.
func (s *Set) Encode() []byte {
	// Pages Add filled are still in pages until TakeDirty: count them as runs.
	runs := slices.Clone(s.full)
	ns := make([]uint64, 0, len(s.pages))
	for n, p := range s.pages {
		if p.isFull() {
			runs = append(runs, run{n, n})
		} else {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	slices.SortFunc(runs, func(a, b run) int { return cmp.Compare(a.from, b.from) })
	merged := runs[:0]
	for _, r := range runs {
		if k := len(merged); k > 0 && merged[k-1].to+1 == r.from {
			merged[k-1].to = r.to
			continue
		}
		merged = append(merged, r)
	}
	b := make([]byte, 0, 16+len(merged)*4+len(ns)*(PageBytes+4))
	b = append(b, encodingV1)
	b = binary.AppendUvarint(b, uint64(len(merged)))
	for _, r := range merged {
		b = binary.AppendUvarint(b, r.from)
		b = binary.AppendUvarint(b, r.to)
	}
	b = binary.AppendUvarint(b, uint64(len(ns)))
	for _, n := range ns {
		b = binary.AppendUvarint(b, n)
		for _, w := range s.pages[n] {
			b = binary.LittleEndian.AppendUint64(b, w)
		}
	}
	return b
}

var errEncoding = errors.New("bitset: bad encoding")

// Decode replaces the set with what Encode produced. It checks everything:
// runs sorted, disjoint and not adjacent, pages sorted, not inside a run,
// neither empty nor full, numbers in range, no trailing bytes; on error the
// set is left empty. maxIndex bounds the indices (its page and below).
func (s *Set) Decode(b []byte, maxIndex uint64) error {
	s.Reset()
	if err := s.decode(b, min(maxIndex/PageBits, maxPageNum)); err != nil {
		s.Reset()
		return err
	}
	return nil
}

func (s *Set) decode(b []byte, maxPage uint64) error {
	if len(b) == 0 || b[0] != encodingV1 {
		return fmt.Errorf("%w: version", errEncoding)
	}
	b = b[1:]
	next := func() (uint64, error) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, fmt.Errorf("%w: truncated", errEncoding)
		}
		b = b[k:]
		return v, nil
	}
	nr, err := next()
	if err != nil {
		return err
	}
	if nr > uint64(len(b))/2 {
		return fmt.Errorf("%w: %d runs", errEncoding, nr)
	}
	for i := uint64(0); i < nr; i++ {
		from, err := next()
		if err != nil {
			return err
		}
		to, err := next()
		if err != nil {
			return err
		}
		if from > to || to > maxPage || (len(s.full) > 0 && from <= s.full[len(s.full)-1].to+1) {
			return fmt.Errorf("%w: run %d-%d", errEncoding, from, to)
		}
		s.full = append(s.full, run{from, to})
		s.count += (to - from + 1) * PageBits
	}
	np, err := next()
	if err != nil {
		return err
	}
	if np > uint64(len(b))/PageBytes {
		return fmt.Errorf("%w: %d pages", errEncoding, np)
	}
	last := int64(-1)
	for i := uint64(0); i < np; i++ {
		n, err := next()
		if err != nil {
			return err
		}
		if n > maxPage || int64(n) <= last {
			return fmt.Errorf("%w: page %d", errEncoding, n)
		}
		if _, in := s.fullAt(n); in {
			return fmt.Errorf("%w: page %d inside a full run", errEncoding, n)
		}
		if len(b) < PageBytes {
			return fmt.Errorf("%w: truncated page", errEncoding)
		}
		if err := s.LoadPage(n, b[:PageBytes]); err != nil {
			return err
		}
		if s.pages[n] == nil {
			return fmt.Errorf("%w: page %d empty or full", errEncoding, n)
		}
		b = b[PageBytes:]
		last = int64(n)
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errEncoding, len(b))
	}
	return nil
}
