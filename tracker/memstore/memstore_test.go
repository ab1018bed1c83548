package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/murderctl/murderctl/tracker"
	"github.com/murderctl/murderctl/tracker/memstore"
	"github.com/murderctl/murderctl/tracker/storetest"
	"github.com/murderctl/murderctl/tracker/trackertest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(_ *testing.T, c tracker.Clock) tracker.Store { return memstore.New(c) })
}

func TestSweepDropsAbandonedSwarms(t *testing.T) {
	clock := trackertest.NewClock()
	s := memstore.New(clock)
	ctx := context.Background()
	abandoned, live := trackertest.InfoHashFixture(), trackertest.InfoHashFixture()
	if err := s.PutPeer(ctx, abandoned, trackertest.PeerFixture(), clock.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	if err := s.PutPeer(ctx, live, trackertest.PeerFixture(), clock.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 1 {
		t.Errorf("after a sweep the store holds %d swarms, want 1", n)
	}
}
