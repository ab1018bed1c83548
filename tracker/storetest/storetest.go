// Package storetest is the conformance suite every tracker.Store passes. It
// lives in a non-test file so each implementation's test is one line:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, newStore) }
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/murderctl/murderctl/tracker"
	"github.com/murderctl/murderctl/tracker/trackertest"
)

// NewStore returns an empty store reading time from clock. It registers its
// own cleanup with t.
type NewStore func(t *testing.T, clock tracker.Clock) tracker.Store

const ttl = 15 * time.Second

// Run checks the tracker.Store contract against stores made by newStore,
// each subtest on a fresh store.
func Run(t *testing.T, newStore NewStore) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s tracker.Store, clock *trackertest.Clock)
	}{
		{"EmptySwarm", testEmptySwarm},
		{"PutRoundTrips", testPutRoundTrips},
		{"PutReplacesSameID", testPutReplaces},
		{"Delete", testDelete},
		{"SwarmsAreIndependent", testIndependent},
		{"Expiry", testExpiry},
		{"RefreshExtendsExpiry", testRefresh},
		{"Counts", testCounts},
		{"InvalidPeer", testInvalidPeer},
		{"CancelledContext", testCancelled},
		{"PeersReturnsCopies", testCopies},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := trackertest.NewClock()
			tc.fn(t, newStore(t, clock), clock)
		})
	}
}

func put(t *testing.T, s tracker.Store, clock tracker.Clock, ih tracker.InfoHash, p tracker.Peer) {
	t.Helper()
	if err := s.PutPeer(context.Background(), ih, p, clock.Now().Add(ttl)); err != nil {
		t.Fatalf("PutPeer(%s): %v", p.AddrPort(), err)
	}
}

func peers(t *testing.T, s tracker.Store, ih tracker.InfoHash) map[tracker.PeerID]tracker.Peer {
	t.Helper()
	list, err := s.Peers(context.Background(), ih)
	if err != nil {
		t.Fatalf("Peers: %v", err)
	}
	m := make(map[tracker.PeerID]tracker.Peer, len(list))
	for _, p := range list {
		if _, dup := m[p.ID]; dup {
			t.Fatalf("Peers listed %s twice", p.ID)
		}
		m[p.ID] = p
	}
	return m
}

func counts(t *testing.T, s tracker.Store, ih tracker.InfoHash) tracker.Counts {
	t.Helper()
	c, err := s.Counts(context.Background(), ih)
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	return c
}

func testEmptySwarm(t *testing.T, s tracker.Store, _ *trackertest.Clock) {
	ih := trackertest.InfoHashFixture()
	if got := peers(t, s, ih); len(got) != 0 {
		t.Errorf("Peers of an unknown swarm = %v, want none", got)
	}
	if got := counts(t, s, ih); got != (tracker.Counts{}) {
		t.Errorf("Counts of an unknown swarm = %+v, want zero", got)
	}
	err := s.DeletePeer(context.Background(), ih, trackertest.PeerIDFixture())
	if !errors.Is(err, tracker.ErrPeerNotFound) {
		t.Errorf("DeletePeer of an unknown peer = %v, want ErrPeerNotFound", err)
	}
}

func testPutRoundTrips(t *testing.T, s tracker.Store, clock *trackertest.Clock) {
	ih := trackertest.InfoHashFixture()
	want := []tracker.Peer{
		trackertest.PeerFixtureAt("10.1.2.3:6881", 12345),
		trackertest.PeerFixtureAt("[2001:db8::7]:51413", 1<<40),
		trackertest.PeerFixtureAt("127.0.0.9:65535", 0),
	}
	want[2].Origin = true
	for _, p := range want {
		put(t, s, clock, ih, p)
	}
	got := peers(t, s, ih)
	if len(got) != len(want) {
		t.Fatalf("Peers returned %d peers, want %d", len(got), len(want))
	}
	for _, w := range want {
		if g, ok := got[w.ID]; !ok || g != w {
			t.Errorf("peer %s: got %+v, want %+v", w.ID, g, w)
		}
	}
}

func testPutReplaces(t *testing.T, s tracker.Store, clock *trackertest.Clock) {
	ih := trackertest.InfoHashFixture()
	p := trackertest.PeerFixtureAt("10.0.0.1:1000", 500)
	put(t, s, clock, ih, p)
	p.IP, p.Port, p.Left = netip.MustParseAddr("10.0.0.2"), 2000, 0
	put(t, s, clock, ih, p)
	got := peers(t, s, ih)
	if len(got) != 1 || got[p.ID] != p {
		t.Fatalf("after re-put: Peers = %v, want only %+v", got, p)
	}
	if c := counts(t, s, ih); c != (tracker.Counts{Seeders: 1}) {
		t.Errorf("Counts = %+v, want 1 seeder", c)
	}
}

func testDelete(t *testing.T, s tracker.Store, clock *trackertest.Clock) {
	ih := trackertest.InfoHashFixture()
	a, b := trackertest.PeerFixture(), trackertest.PeerFixture()
	put(t, s, clock, ih, a)
	put(t, s, clock, ih, b)
	if err := s.DeletePeer(context.Background(), ih, a.ID); err != nil {
		t.Fatalf("DeletePeer: %v", err)
	}
	got := peers(t, s, ih)
	if _, ok := got[a.ID]; ok || len(got) != 1 {
		t.Errorf("after delete: Peers = %v, want only %s", got, b.ID)
	}
	if err := s.DeletePeer(context.Background(), ih, a.ID); !errors.Is(err, tracker.ErrPeerNotFound) {
		t.Errorf("second DeletePeer = %v, want ErrPeerNotFound", err)
	}
	if err := s.DeletePeer(context.Background(), ih, b.ID); err != nil {
		t.Fatalf("DeletePeer of the last peer: %v", err)
	}
	if c := counts(t, s, ih); c != (tracker.Counts{}) {
		t.Errorf("Counts of an emptied swarm = %+v", c)
	}
}

func testIndependent(t *testing.T, s tracker.Store, clock *trackertest.Clock) {
	ih1, ih2 := trackertest.InfoHashFixture(), trackertest.InfoHashFixture()
	p := trackertest.PeerFixture()
	put(t, s, clock, ih1, p)
	if got := peers(t, s, ih2); len(got) != 0 {
		t.Errorf("a peer of one swarm leaked into another: %v", got)
	}
	if err := s.DeletePeer(context.Background(), ih2, p.ID); !errors.Is(err, tracker.ErrPeerNotFound) {
		t.Errorf("DeletePeer in the other swarm = %v, want ErrPeerNotFound", err)
	}
	if got := peers(t, s, ih1); len(got) != 1 {
		t.Errorf("swarm 1 lost its peer: %v", got)
	}
}

func testExpiry(t *testing.T, s tracker.Store, clock *trackertest.Clock) {
	ih := trackertest.InfoHashFixture()
	old, young := trackertest.PeerFixture(), trackertest.PeerFixture()
	put(t, s, clock, ih, old)
	clock.Advance(ttl / 2)
	put(t, s, clock, ih, young)
	clock.Advance(ttl/2 - time.Millisecond)
	if got := peers(t, s, ih); len(got) != 2 {
		t.Fatalf("1ms before expiry: %d peers, want 2", len(got))
	}
	clock.Advance(time.Millisecond)
	got := peers(t, s, ih)
	if _, ok := got[old.ID]; ok || len(got) != 1 {
		t.Fatalf("at expiry: Peers = %v, want only the younger peer", got)
	}
	if c := counts(t, s, ih); c != (tracker.Counts{Leechers: 1}) {
		t.Errorf("at expiry: Counts = %+v, want 1 leecher", c)
	}
	if err := s.DeletePeer(context.Background(), ih, old.ID); !errors.Is(err, tracker.ErrPeerNotFound) {
		t.Errorf("DeletePeer of an expired peer = %v, want ErrPeerNotFound", err)
	}
	clock.Advance(ttl)
	if got := peers(t, s, ih); len(got) != 0 {
		t.Fatalf("after all expired: Peers = %v", got)
	}
	put(t, s, clock, ih, old) // an expired peer may come back
	if got := peers(t, s, ih); len(got) != 1 {
		t.Errorf("re-put after expiry: Peers = %v", got)
	}
}

func testRefresh(t *testing.T, s tracker.Store, clock *trackertest.Clock) {
	ih := trackertest.InfoHashFixture()
	p := trackertest.PeerFixture()
	for range 5 { // announce every ttl/2 for 2.5 ttl: never expires
		put(t, s, clock, ih, p)
		clock.Advance(ttl / 2)
	}
	if got := peers(t, s, ih); len(got) != 1 {
		t.Fatalf("refreshed peer expired: Peers = %v", got)
	}
}

func testCounts(t *testing.T, s tracker.Store, clock *trackertest.Clock) {
	ih := trackertest.InfoHashFixture()
	for i := range 7 {
		p := trackertest.PeerFixture()
		if i < 3 {
			p.Left = 0
		}
		put(t, s, clock, ih, p)
	}
	if c := counts(t, s, ih); c != (tracker.Counts{Seeders: 3, Leechers: 4}) {
		t.Errorf("Counts = %+v, want 3 seeders and 4 leechers", c)
	}
}

func testInvalidPeer(t *testing.T, s tracker.Store, clock *trackertest.Clock) {
	ih := trackertest.InfoHashFixture()
	bad := map[string]func(*tracker.Peer){
		"no IP":       func(p *tracker.Peer) { p.IP = netip.Addr{} },
		"port 0":      func(p *tracker.Peer) { p.Port = 0 },
		"negative":    func(p *tracker.Peer) { p.Left = -1 },
		"unspecified": func(p *tracker.Peer) { p.IP = netip.IPv4Unspecified() },
		"4in6":        func(p *tracker.Peer) { p.IP = netip.MustParseAddr("::ffff:10.0.0.1") },
	}
	for name, mutate := range bad {
		p := trackertest.PeerFixture()
		mutate(&p)
		err := s.PutPeer(context.Background(), ih, p, clock.Now().Add(ttl))
		if !errors.Is(err, tracker.ErrInvalidPeer) {
			t.Errorf("PutPeer(%s) = %v, want ErrInvalidPeer", name, err)
		}
	}
	if got := peers(t, s, ih); len(got) != 0 {
		t.Errorf("invalid peers were stored: %v", got)
	}
}

func testCancelled(t *testing.T, s tracker.Store, clock *trackertest.Clock) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ih, p := trackertest.InfoHashFixture(), trackertest.PeerFixture()
	checks := map[string]error{
		"PutPeer":    s.PutPeer(ctx, ih, p, clock.Now().Add(ttl)),
		"DeletePeer": s.DeletePeer(ctx, ih, p.ID),
	}
	_, checks["Peers"] = s.Peers(ctx, ih)
	_, checks["Counts"] = s.Counts(ctx, ih)
	for name, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled ctx = %v, want context.Canceled", name, err)
		}
	}
}

func testCopies(t *testing.T, s tracker.Store, clock *trackertest.Clock) {
	ih, p := trackertest.InfoHashFixture(), trackertest.PeerFixture()
	put(t, s, clock, ih, p)
	list, err := s.Peers(context.Background(), ih)
	if err != nil || len(list) != 1 {
		t.Fatalf("Peers = %v, %v", list, err)
	}
	list[0].Port = 1
	if got := peers(t, s, ih); got[p.ID].Port != p.Port {
		t.Errorf("changing a returned peer changed the store: port %d", got[p.ID].Port)
	}
}

func testConcurrent(t *testing.T, s tracker.Store, clock *trackertest.Clock) {
	ih := trackertest.InfoHashFixture()
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				p := trackertest.PeerFixtureAt(fmt.Sprintf("10.9.%d.%d:7000", w, i+1), int64(i%2))
				if err := s.PutPeer(context.Background(), ih, p, clock.Now().Add(ttl)); err != nil {
					errs <- err
				}
				if _, err := s.Peers(context.Background(), ih); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent use: %v", err)
	}
	if c := counts(t, s, ih); c.Seeders+c.Leechers != workers*each {
		t.Errorf("after %d concurrent puts: Counts = %+v", workers*each, c)
	}
}
