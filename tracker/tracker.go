// Package tracker is murderctl's BitTorrent tracker: where the peers of a
// deploy find each other.
//
// It follows chihaya's layout. Protocol-neutral types (InfoHash, Peer,
// AnnounceRequest, AnnounceResponse) live apart from the wire format; the HTTP
// front end (BEP 3 announce, BEP 23 compact and BEP 7 IPv6 peer lists) only
// parses a request, calls Tracker.Announce and bencodes the answer. Peers live
// in a Store (tracker/memstore, tracker/redisstore), and the order in which
// they are handed out is a Policy picked by name (random, completeness), as in
// uber/kraken.
//
// A tracker is secure by default when given a Config.Token: only
// /<token>/announce answers, so a stranger on the network can neither join the
// swarm nor poison its peer lists. Config.AllowedIPs narrows it further to the
// deploy's hosts.
package tracker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config tunes a Tracker. The zero value is usable: applyDefaults fills in
// deploy-friendly values (a deploy lasts seconds to minutes, so intervals are
// short).
type Config struct {
	// Token, when set, is the per-deploy secret: the tracker answers only
	// /<Token>/announce and /<Token>/scrape. Any token is allowed; it is
	// path-escaped in URLs (see AnnounceURL).
	Token string
	// AllowedIPs, when non-empty, is the set of addresses allowed to
	// announce: both the connection's remote address (unless it is
	// loopback, the tracker's own machine) and the peer address announced.
	AllowedIPs []netip.Addr
	// TrustIPParam honours the `ip` announce parameter from any client. By
	// default it is honoured only from loopback connections.
	TrustIPParam bool
	// OriginPeerIDs are the peer IDs of murderctl's own seeders; their
	// peers are marked Origin, which the completeness policy hands out after
	// finished hosts.
	OriginPeerIDs []PeerID
	// AnnounceInterval is the `interval` told to clients (default 5s).
	AnnounceInterval time.Duration
	// MinInterval is the `min interval` told to clients (default 1s).
	MinInterval time.Duration
	// PeerTTL is how long a peer stays listed after its last announce
	// (default 3 × AnnounceInterval).
	PeerTTL time.Duration
	// DefaultNumWant is the number of peers returned when a client does not
	// say (default 50); MaxNumWant caps what it may ask for (default 200).
	DefaultNumWant int
	MaxNumWant     int
}

func (c *Config) applyDefaults() {
	if c.AnnounceInterval <= 0 {
		c.AnnounceInterval = 5 * time.Second
	}
	if c.MinInterval <= 0 {
		c.MinInterval = time.Second
	}
	if c.MinInterval > c.AnnounceInterval {
		c.MinInterval = c.AnnounceInterval
	}
	if c.PeerTTL <= 0 {
		c.PeerTTL = 3 * c.AnnounceInterval
	}
	if c.MaxNumWant <= 0 {
		c.MaxNumWant = 200
	}
	if c.DefaultNumWant <= 0 {
		c.DefaultNumWant = 50
	}
	if c.DefaultNumWant > c.MaxNumWant {
		c.DefaultNumWant = c.MaxNumWant
	}
}

// Tracker answers announces from a Store, ordering peers with a Policy.
type Tracker struct {
	cfg    Config
	store  Store
	policy Policy
	clock  Clock
	log    *slog.Logger

	announces atomic.Uint64
	rejected  atomic.Uint64
	failures  atomic.Uint64

	mu     sync.Mutex
	swarms map[InfoHash]Counts // as of each swarm's latest announce
}

// New builds a tracker. A nil policy means completeness, a nil clock the
// system clock, a nil logger discards. The store is required: with a nil one
// every announce fails with a server error.
func New(cfg Config, store Store, policy Policy, clock Clock, logger *slog.Logger) *Tracker {
	cfg.applyDefaults()
	if store == nil {
		store = noStore{}
	}
	if policy == nil {
		policy = CompletenessPolicy{}
	}
	if clock == nil {
		clock = SystemClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Tracker{
		cfg:    cfg,
		store:  store,
		policy: policy,
		clock:  clock,
		log:    logger,
		swarms: make(map[InfoHash]Counts),
	}
}

// Config returns the tracker's configuration with defaults applied.
func (t *Tracker) Config() Config { return t.cfg }

// Announce records the requester in its swarm and returns peers for it. A
// stopped event removes the requester and returns no peers. The requester is
// never handed itself, and a seeding requester is not handed other seeders.
// Errors come from the Store and are server errors, not client errors.
func (t *Tracker) Announce(ctx context.Context, req *AnnounceRequest) (*AnnounceResponse, error) {
	ih, self := req.InfoHash, req.Peer
	self.Origin = slices.Contains(t.cfg.OriginPeerIDs, self.ID)
	resp := &AnnounceResponse{Interval: t.cfg.AnnounceInterval, MinInterval: t.cfg.MinInterval}

	if req.Event == EventStopped {
		err := t.store.DeletePeer(ctx, ih, self.ID)
		if err != nil && !errors.Is(err, ErrPeerNotFound) {
			return nil, t.fail(fmt.Errorf("announce %s: delete peer %s: %w", ih, self.ID, err))
		}
		counts, err := t.store.Counts(ctx, ih)
		if err != nil {
			return nil, t.fail(fmt.Errorf("announce %s: count peers: %w", ih, err))
		}
		resp.Complete, resp.Incomplete = counts.Seeders, counts.Leechers
		t.recordSwarm(ih, counts)
		t.announces.Add(1)
		return resp, nil
	}

	if err := t.store.PutPeer(ctx, ih, self, t.clock.Now().Add(t.cfg.PeerTTL)); err != nil {
		return nil, t.fail(fmt.Errorf("announce %s: put peer %s: %w", ih, self.ID, err))
	}
	all, err := t.store.Peers(ctx, ih)
	if err != nil {
		return nil, t.fail(fmt.Errorf("announce %s: list peers: %w", ih, err))
	}

	var counts Counts
	candidates := all[:0]
	for _, p := range all {
		if p.Seeder() {
			counts.Seeders++
		} else {
			counts.Leechers++
		}
		switch {
		case p.ID == self.ID, p.AddrPort() == self.AddrPort():
			continue // never the requester itself, even a stale entry of it
		case self.Seeder() && p.Seeder():
			continue // two seeders have nothing to trade
		}
		candidates = append(candidates, p)
	}
	resp.Complete, resp.Incomplete = counts.Seeders, counts.Leechers
	t.recordSwarm(ih, counts)

	numWant := req.NumWant
	if numWant < 0 {
		numWant = t.cfg.DefaultNumWant
	}
	numWant = min(numWant, t.cfg.MaxNumWant)
	if numWant > 0 && len(candidates) > 0 {
		ordered := t.policy.Order(self, candidates)
		resp.Peers = ordered[:min(numWant, len(ordered))]
	}
	t.announces.Add(1)
	t.log.Debug("announce", "info_hash", ih.String(), "peer", self.AddrPort().String(),
		"event", req.Event.String(), "left", self.Left, "peers", len(resp.Peers))
	return resp, nil
}

// Scrape returns the counts of each requested swarm.
func (t *Tracker) Scrape(ctx context.Context, ihs []InfoHash) (map[InfoHash]Counts, error) {
	out := make(map[InfoHash]Counts, len(ihs))
	for _, ih := range ihs {
		c, err := t.store.Counts(ctx, ih)
		if err != nil {
			return nil, t.fail(fmt.Errorf("scrape %s: %w", ih, err))
		}
		out[ih] = c
	}
	return out, nil
}

func (t *Tracker) fail(err error) error {
	t.failures.Add(1)
	t.log.Warn("tracker store failure", "err", err)
	return err
}

func (t *Tracker) recordSwarm(ih InfoHash, c Counts) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.Seeders+c.Leechers == 0 {
		delete(t.swarms, ih)
		return
	}
	t.swarms[ih] = c
}

// Stats are counters for logs and tests.
type Stats struct {
	// Announces is the number of announces answered with peers or a clean
	// stop; Rejected counts refused requests (bad parameters, wrong token,
	// address not allowed); Failures counts store errors.
	Announces uint64
	Rejected  uint64
	Failures  uint64
	// Swarms, Seeders and Leechers describe the peers known as of each
	// swarm's latest announce.
	Swarms   int
	Seeders  int
	Leechers int
}

// Peers is the number of peers known, seeders and leechers.
func (s Stats) Peers() int { return s.Seeders + s.Leechers }

// Stats returns a snapshot of the tracker's counters.
func (t *Tracker) Stats() Stats {
	s := Stats{Announces: t.announces.Load(), Rejected: t.rejected.Load(), Failures: t.failures.Load()}
	t.mu.Lock()
	defer t.mu.Unlock()
	s.Swarms = len(t.swarms)
	for _, c := range t.swarms {
		s.Seeders += c.Seeders
		s.Leechers += c.Leechers
	}
	return s
}

// noStore stands in for a missing Store so that misuse is an error, not a panic.
type noStore struct{}

var errNoStore = errors.New("tracker has no store")

func (noStore) PutPeer(context.Context, InfoHash, Peer, time.Time) error { return errNoStore }
func (noStore) DeletePeer(context.Context, InfoHash, PeerID) error       { return errNoStore }
func (noStore) Peers(context.Context, InfoHash) ([]Peer, error)          { return nil, errNoStore }
func (noStore) Counts(context.Context, InfoHash) (Counts, error)         { return Counts{}, errNoStore }
