package orchestrator

import (
	"fmt"
	"strings"

	"github.com/murderctl/murderctl/swarm"
)

// DefaultPeerTCPCongestion is the peers' congestion control: CUBIC where
// the peer may set it, else Reno, which every Linux allows. Loss-based
// control keeps BBR hosts from overfilling their links' queues (why and
// how much: swarm/congestion.go); hosts that already default to CUBIC see
// no change.
const DefaultPeerTCPCongestion = "cubic,reno"

// peerCongestion parses DeployOptions.PeerTCPCongestion into the list the
// peers try in order; nil leaves each host's default alone.
func peerCongestion(s string) ([]string, error) {
	switch strings.TrimSpace(s) {
	case "":
		s = DefaultPeerTCPCongestion
	case "default":
		return nil, nil
	}
	var algos []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if !swarm.ValidCongestionName(a) {
			return nil, fmt.Errorf("peer TCP congestion control %q: want names like cubic or reno, comma-separated, or \"default\"", a)
		}
		algos = append(algos, a)
	}
	return algos, nil
}
