package tracker

import (
	"context"
	"errors"
	"time"
)

// Store keeps the swarm of every info hash: which peers announced, where they
// listen and how much they still need. It is the tracker's only state, so a
// tracker backed by a shared store (Redis) can run as several processes.
//
// Contract, checked for every implementation by tracker/storetest:
//   - A peer is identified within a swarm by its PeerID. PutPeer inserts the
//     peer or replaces every field of the one with the same ID, and sets its
//     expiry to expires.
//   - A peer whose expiry is not after the store's clock is gone: Peers and
//     Counts never return it, and DeletePeer reports ErrPeerNotFound for it.
//     Stores read time only from the Clock they were built with.
//   - Swarms are independent. An info hash that no one announced is an empty
//     swarm, not an error.
//   - Peers returns copies in no particular order; ordering is the Policy's
//     job.
//   - All methods are safe for concurrent use and honour ctx.
//
// Errors:
//   - ErrPeerNotFound (wrapped): DeletePeer found no live peer with that ID.
//     The tracker treats it as success.
//   - ErrInvalidPeer (wrapped): PutPeer was given a peer that fails
//     Peer.Validate. Nothing was stored.
//   - Anything else is a storage failure (a lost connection, a cancelled
//     ctx, corrupt data). The tracker answers such announces with a server
//     error and the client retries at its next interval.
type Store interface {
	// PutPeer inserts or refreshes p in the swarm of ih until expires.
	PutPeer(ctx context.Context, ih InfoHash, p Peer, expires time.Time) error
	// DeletePeer removes the peer with that ID from the swarm of ih.
	DeletePeer(ctx context.Context, ih InfoHash, id PeerID) error
	// Peers lists the live peers of the swarm of ih.
	Peers(ctx context.Context, ih InfoHash) ([]Peer, error)
	// Counts counts the live seeders and leechers of the swarm of ih.
	Counts(ctx context.Context, ih InfoHash) (Counts, error)
}

// ErrPeerNotFound is returned (wrapped) by Store.DeletePeer when the swarm
// holds no live peer with the given ID.
var ErrPeerNotFound = errors.New("peer not found")

// Clock tells the time. The tracker and the stores take one so that tests
// can drive expiry without sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
