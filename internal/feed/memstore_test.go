package feed_test

import (
	"testing"

	"github.com/swarmgate/swarmgate/internal/feed"
	"github.com/swarmgate/swarmgate/internal/feed/feedtest"
)

func TestMemStore(t *testing.T) {
	feedtest.Run(t, func(t *testing.T) feed.Store { return feed.NewMemStore() }, nil)
}
