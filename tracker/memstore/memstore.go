// Package memstore is the in-memory tracker.Store: one process, no
// dependencies, expiry driven by an injected clock. It is the default store of
// a deploy, whose tracker lives inside the murderctl process.
package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/murderctl/murderctl/tracker"
)

// sweepEvery is how often a write also drops the expired peers of every
// swarm, so swarms no one announces to any more do not linger.
const sweepEvery = time.Minute

type entry struct {
	peer    tracker.Peer
	expires time.Time
}

// Store keeps swarms in maps guarded by one mutex. The zero value is not
// usable; call New.
type Store struct {
	clock tracker.Clock

	mu        sync.Mutex
	swarms    map[tracker.InfoHash]map[tracker.PeerID]entry
	lastSweep time.Time
}

var _ tracker.Store = (*Store)(nil)

// New returns an empty store reading time from clock (nil: the system clock).
func New(clock tracker.Clock) *Store {
	if clock == nil {
		clock = tracker.SystemClock{}
	}
	return &Store{clock: clock, swarms: make(map[tracker.InfoHash]map[tracker.PeerID]entry)}
}

// PutPeer inserts or refreshes p until expires.
func (s *Store) PutPeer(ctx context.Context, ih tracker.InfoHash, p tracker.Peer, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore put peer %s: %w", ih, err)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("memstore put peer %s: %w", ih, err)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastSweep) >= sweepEvery {
		s.sweepLocked(now)
	}
	sw := s.swarms[ih]
	if sw == nil {
		sw = make(map[tracker.PeerID]entry)
		s.swarms[ih] = sw
	}
	sw[p.ID] = entry{peer: p, expires: expires}
	return nil
}

// DeletePeer removes the peer; tracker.ErrPeerNotFound if it is not live.
func (s *Store) DeletePeer(ctx context.Context, ih tracker.InfoHash, id tracker.PeerID) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore delete peer %s in %s: %w", id, ih, err)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sw := s.liveSwarmLocked(ih, now)
	if _, ok := sw[id]; !ok {
		return fmt.Errorf("memstore delete peer %s in %s: %w", id, ih, tracker.ErrPeerNotFound)
	}
	delete(sw, id)
	if len(sw) == 0 {
		delete(s.swarms, ih)
	}
	return nil
}

// Peers returns copies of the live peers of ih.
func (s *Store) Peers(ctx context.Context, ih tracker.InfoHash) ([]tracker.Peer, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore list peers %s: %w", ih, err)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sw := s.liveSwarmLocked(ih, now)
	out := make([]tracker.Peer, 0, len(sw))
	for _, e := range sw {
		out = append(out, e.peer)
	}
	return out, nil
}

// Counts counts the live seeders and leechers of ih.
func (s *Store) Counts(ctx context.Context, ih tracker.InfoHash) (tracker.Counts, error) {
	if err := ctx.Err(); err != nil {
		return tracker.Counts{}, fmt.Errorf("memstore count peers %s: %w", ih, err)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var c tracker.Counts
	for _, e := range s.liveSwarmLocked(ih, now) {
		if e.peer.Seeder() {
			c.Seeders++
		} else {
			c.Leechers++
		}
	}
	return c, nil
}

// liveSwarmLocked drops the expired peers of ih and returns what is left
// (nil for an empty swarm).
func (s *Store) liveSwarmLocked(ih tracker.InfoHash, now time.Time) map[tracker.PeerID]entry {
	sw := s.swarms[ih]
	for id, e := range sw {
		if !e.expires.After(now) {
			delete(sw, id)
		}
	}
	if sw != nil && len(sw) == 0 {
		delete(s.swarms, ih)
		return nil
	}
	return sw
}

func (s *Store) sweepLocked(now time.Time) {
	for ih := range s.swarms {
		s.liveSwarmLocked(ih, now)
	}
	s.lastSweep = now
}

// Len returns the number of swarms held, expired peers included until the
// next sweep; for tests and logs.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.swarms)
}
