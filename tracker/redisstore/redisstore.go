// Package redisstore is a tracker.Store on Redis (github.com/redis/go-redis/v9),
// for trackers that run as several processes or must survive a restart.
//
// Each swarm is one hash, <prefix>swarm:<hex info hash>, mapping the raw peer
// ID to a small binary record that carries the peer's expiry. Expiry is read
// against the injected clock, like every store; Redis's own key TTL, kept a
// minute past the latest peer expiry, only reclaims swarms no one announces to.
package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/murderctl/murderctl/tracker"
)

// DefaultPrefix namespaces the keys of a store made with an empty prefix.
const DefaultPrefix = "murderctl:tracker:"

// keyGrace keeps a swarm's key this long past its latest peer expiry.
const keyGrace = time.Minute

// Store is a tracker.Store on a Redis client it does not own: closing the
// client is the caller's job.
type Store struct {
	rdb    redis.UniversalClient
	clock  tracker.Clock
	prefix string
}

var _ tracker.Store = (*Store)(nil)

// New returns a store on rdb reading time from clock (nil: the system clock).
// Keys start with prefix (empty: DefaultPrefix), so that several trackers can
// share one Redis.
func New(rdb redis.UniversalClient, clock tracker.Clock, prefix string) *Store {
	if clock == nil {
		clock = tracker.SystemClock{}
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{rdb: rdb, clock: clock, prefix: prefix}
}

func (s *Store) key(ih tracker.InfoHash) string { return s.prefix + "swarm:" + ih.String() }

// putScript sets the peer's field and extends, never shortens, the key's TTL.
var putScript = redis.NewScript(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local want = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < want then
  redis.call('PEXPIRE', KEYS[1], want)
end
return 1`)

// pruneScript deletes fields whose value is still the expired record read
// earlier, so a peer refreshed meanwhile by another process survives.
var pruneScript = redis.NewScript(`
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i+1] then
    n = n + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return n`)

// PutPeer inserts or refreshes p until expires.
func (s *Store) PutPeer(ctx context.Context, ih tracker.InfoHash, p tracker.Peer, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis put peer %s: %w", ih, err)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("redis put peer %s: %w", ih, err)
	}
	ttl := max(expires.Sub(s.clock.Now()), 0) + keyGrace
	err := putScript.Run(ctx, s.rdb, []string{s.key(ih)}, string(p.ID[:]), encode(p, expires), ttl.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("redis put peer %s in %s: %w", p.ID, ih, err)
	}
	return nil
}

// DeletePeer removes the peer; tracker.ErrPeerNotFound if it is not live.
func (s *Store) DeletePeer(ctx context.Context, ih tracker.InfoHash, id tracker.PeerID) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis delete peer %s in %s: %w", id, ih, err)
	}
	raw, err := s.rdb.HGet(ctx, s.key(ih), string(id[:])).Result()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("redis delete peer %s in %s: %w", id, ih, tracker.ErrPeerNotFound)
	}
	if err != nil {
		return fmt.Errorf("redis delete peer %s in %s: %w", id, ih, err)
	}
	_, expires, decErr := decode(id, raw)
	n, err := s.rdb.HDel(ctx, s.key(ih), string(id[:])).Result()
	if err != nil {
		return fmt.Errorf("redis delete peer %s in %s: %w", id, ih, err)
	}
	if n == 0 || (decErr == nil && !expires.After(s.clock.Now())) {
		return fmt.Errorf("redis delete peer %s in %s: %w", id, ih, tracker.ErrPeerNotFound)
	}
	return nil
}

// Peers returns the live peers of ih, pruning the expired ones.
func (s *Store) Peers(ctx context.Context, ih tracker.InfoHash) ([]tracker.Peer, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis list peers %s: %w", ih, err)
	}
	fields, err := s.rdb.HGetAll(ctx, s.key(ih)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis list peers %s: %w", ih, err)
	}
	now := s.clock.Now()
	out := make([]tracker.Peer, 0, len(fields))
	var stale []any
	for field, raw := range fields {
		if len(field) != len(tracker.PeerID{}) {
			return nil, fmt.Errorf("redis list peers %s: corrupt field of %d bytes", ih, len(field))
		}
		p, expires, err := decode(tracker.PeerID([]byte(field)), raw)
		if err != nil {
			return nil, fmt.Errorf("redis list peers %s: %w", ih, err)
		}
		if !expires.After(now) {
			stale = append(stale, field, raw)
			continue
		}
		out = append(out, p)
	}
	if len(stale) > 0 {
		if err := pruneScript.Run(ctx, s.rdb, []string{s.key(ih)}, stale...).Err(); err != nil {
			return nil, fmt.Errorf("redis prune expired peers of %s: %w", ih, err)
		}
	}
	return out, nil
}

// Counts counts the live seeders and leechers of ih.
func (s *Store) Counts(ctx context.Context, ih tracker.InfoHash) (tracker.Counts, error) {
	peers, err := s.Peers(ctx, ih)
	if err != nil {
		return tracker.Counts{}, err
	}
	var c tracker.Counts
	for _, p := range peers {
		if p.Seeder() {
			c.Seeders++
		} else {
			c.Leechers++
		}
	}
	return c, nil
}

// Record layout: version(1) flags(1) expires-unix-nanos(8) left(8) port(2) ip(4|16).
const (
	recordV1   = 1
	flagOrigin = 1
	headerLen  = 1 + 1 + 8 + 8 + 2
)

func encode(p tracker.Peer, expires time.Time) string {
	b := make([]byte, headerLen, headerLen+16)
	b[0] = recordV1
	if p.Origin {
		b[1] |= flagOrigin
	}
	binary.BigEndian.PutUint64(b[2:], uint64(expires.UnixNano()))
	binary.BigEndian.PutUint64(b[10:], uint64(p.Left))
	binary.BigEndian.PutUint16(b[18:], p.Port)
	return string(append(b, p.IP.AsSlice()...))
}

func decode(id tracker.PeerID, raw string) (tracker.Peer, time.Time, error) {
	b := []byte(raw)
	if len(b) != headerLen+4 && len(b) != headerLen+16 || b[0] != recordV1 {
		return tracker.Peer{}, time.Time{}, fmt.Errorf("corrupt record for peer %s (%d bytes)", id, len(b))
	}
	ip, _ := netip.AddrFromSlice(b[headerLen:])
	p := tracker.Peer{
		ID:     id,
		IP:     ip,
		Port:   binary.BigEndian.Uint16(b[18:]),
		Left:   int64(binary.BigEndian.Uint64(b[10:])),
		Origin: b[1]&flagOrigin != 0,
	}
	expires := time.Unix(0, int64(binary.BigEndian.Uint64(b[2:])))
	return p, expires, nil
}
