package tracker_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/murderctl/murderctl/tracker"
	"github.com/murderctl/murderctl/tracker/trackertest"
)

func swarmFixture() []tracker.Peer {
	var ps []tracker.Peer
	for i, left := range []int64{900, 0, 50, 0, 700, 50, 0, 300, 1000, 50} {
		ps = append(ps, trackertest.PeerFixtureAt(fmt.Sprintf("10.0.0.%d:6881", i+1), left))
	}
	ps[6].Origin = true // murderctl's seeder
	return ps
}

func sameMembers(t *testing.T, got, want []tracker.Peer) {
	t.Helper()
	key := func(p tracker.Peer) string { return p.ID.String() }
	g, w := make([]string, len(got)), make([]string, len(want))
	for i := range got {
		g[i] = key(got[i])
	}
	for i := range want {
		w[i] = key(want[i])
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Fatalf("policy did not return a permutation of the candidates")
	}
}

func TestCompletenessPolicyOrder(t *testing.T) {
	requester := trackertest.PeerFixtureAt("10.0.1.1:6881", 1000)
	firstLeechers := map[string]bool{}
	for range 50 {
		in := swarmFixture()
		got := tracker.CompletenessPolicy{}.Order(requester, slices.Clone(in))
		sameMembers(t, got, in)
		// Finished hosts, then the origin, then leechers by Left ascending.
		if !got[0].Seeder() || got[0].Origin || !got[1].Seeder() || got[1].Origin {
			t.Fatalf("first two are not the finished hosts: %+v", got[:2])
		}
		if !got[2].Origin {
			t.Fatalf("third is not the origin: %+v", got[2])
		}
		for i := 4; i < len(got); i++ {
			if got[i-1].Left > got[i].Left {
				t.Fatalf("leechers not sorted by completeness: left %d before %d", got[i-1].Left, got[i].Left)
			}
		}
		firstLeechers[got[3].IP.String()] = true
	}
	// Three leechers tie at left=50: each should lead sometimes.
	if len(firstLeechers) < 2 {
		t.Errorf("ties are not shuffled: the same leecher led 50 times (%v)", firstLeechers)
	}
}

func TestRandomPolicyShuffles(t *testing.T) {
	requester := trackertest.PeerFixture()
	firsts := map[string]bool{}
	for range 50 {
		in := swarmFixture()
		got := tracker.RandomPolicy{}.Order(requester, slices.Clone(in))
		sameMembers(t, got, in)
		firsts[got[0].IP.String()] = true
	}
	if len(firsts) < 4 {
		t.Errorf("random policy led with only %d distinct peers in 50 runs", len(firsts))
	}
}

func TestPolicyByName(t *testing.T) {
	tests := []struct {
		name, want string
		wantErr    bool
	}{
		{"random", "random", false},
		{"completeness", "completeness", false},
		{"", "completeness", false},
		{"locality", "", true},
		{"Random", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tracker.PolicyByName(tt.name)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("PolicyByName(%q) = %v, want an error", tt.name, p.Name())
				}
				return
			}
			if err != nil || p.Name() != tt.want {
				t.Fatalf("PolicyByName(%q) = %v, %v; want %s", tt.name, p, err, tt.want)
			}
		})
	}
}
