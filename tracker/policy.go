package tracker

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
)

// Policy orders the candidate peers handed to a requester, in the manner of
// uber/kraken's peer handout policies. The tracker has already removed the
// requester itself (and, for a seeding requester, the other seeders); it keeps
// the first NumWant peers of the returned slice.
//
// Order may reorder candidates in place and return them. It must return a
// permutation of candidates: never add, drop or modify a peer. It must be
// safe for concurrent use.
type Policy interface {
	// Name is the name PolicyByName knows the policy by.
	Name() string
	// Order returns candidates in the order the requester should get them.
	Order(requester Peer, candidates []Peer) []Peer
}

// Policy names accepted by PolicyByName.
const (
	PolicyRandom       = "random"
	PolicyCompleteness = "completeness"
)

// PolicyNames lists the known policies, for flag help.
var PolicyNames = []string{PolicyCompleteness, PolicyRandom}

// PolicyByName returns the policy with that name. The empty name means the
// default, completeness.
func PolicyByName(name string) (Policy, error) {
	switch name {
	case PolicyRandom:
		return RandomPolicy{}, nil
	case PolicyCompleteness, "":
		return CompletenessPolicy{}, nil
	default:
		return nil, fmt.Errorf("unknown peer handout policy %q (known: %v)", name, PolicyNames)
	}
}

// RandomPolicy hands out peers in a uniformly random order, so every
// requester sees a different slice of a large swarm.
type RandomPolicy struct{}

// Name returns "random".
func (RandomPolicy) Name() string { return PolicyRandom }

// Order shuffles candidates.
func (RandomPolicy) Order(_ Peer, candidates []Peer) []Peer {
	rand.Shuffle(len(candidates), func(i, j int) {
		candidates[i], candidates[j] = candidates[j], candidates[i]
	})
	return candidates
}

// CompletenessPolicy is kraken's completeness policy: peers that hold the
// whole file come first, then the origin seeders, then the other peers from
// the most complete (smallest Left) to the least. Peers of equal rank are
// shuffled. Handing out finished hosts before the origin moves upload work off
// the control node; handing out the most complete leechers first lets pieces
// spread from those that have them to those that do not.
type CompletenessPolicy struct{}

// Name returns "completeness".
func (CompletenessPolicy) Name() string { return PolicyCompleteness }

// Order sorts candidates by completeness rank, shuffling within a rank.
func (CompletenessPolicy) Order(requester Peer, candidates []Peer) []Peer {
	RandomPolicy{}.Order(requester, candidates)
	slices.SortStableFunc(candidates, func(a, b Peer) int {
		if c := cmp.Compare(completenessRank(a), completenessRank(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.Left, b.Left)
	})
	return candidates
}

// completenessRank: 0 finished hosts, 1 origins, 2 everyone else.
func completenessRank(p Peer) int {
	switch {
	case p.Origin:
		return 1
	case p.Seeder():
		return 0
	default:
		return 2
	}
}
