// Package trackertest holds test kits for the tracker and its stores, in a
// non-test file so every package's tests can share them (kraken-style
// fixtures): a manual clock and peer fixtures.
package trackertest

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/murderctl/murderctl/tracker"
)

// Clock is a tracker.Clock that moves only when told to. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to a fixed, arbitrary instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// InfoHashFixture returns a random info hash.
func InfoHashFixture() tracker.InfoHash {
	var ih tracker.InfoHash
	rand.Read(ih[:])
	return ih
}

// PeerIDFixture returns a random peer ID.
func PeerIDFixture() tracker.PeerID {
	var id tracker.PeerID
	rand.Read(id[:])
	return id
}

// PeerFixture returns a leecher with a random ID at 10.0.x.y:6881, needing
// 1 MiB.
func PeerFixture() tracker.Peer {
	id := PeerIDFixture()
	return tracker.Peer{
		ID:   id,
		IP:   netip.AddrFrom4([4]byte{10, 0, id[0], id[1] | 1}),
		Port: 6881,
		Left: 1 << 20,
	}
}

// PeerFixtureAt returns a peer with a random ID at addr ("ip:port") with
// left bytes to go. It panics on a malformed addr: fixtures are test input.
func PeerFixtureAt(addr string, left int64) tracker.Peer {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		panic(fmt.Sprintf("trackertest.PeerFixtureAt(%q): %v", addr, err))
	}
	return tracker.Peer{ID: PeerIDFixture(), IP: ap.Addr(), Port: ap.Port(), Left: left}
}
