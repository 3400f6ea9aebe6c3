package sqlitestore_test

import "sync/atomic"

type atomicCounter struct{ n atomic.Uint64 }

func (c *atomicCounter) inc() uint64 { return c.n.Add(1) - 1 }
