package swarm

import (
	"regexp"
	"syscall"

	"golang.org/x/sys/unix"
)

// Why a peer picks its sockets' congestion control: on hosts whose default
// is BBR (v1, the kernel's), every peer receives from several neighbours at
// once through one link, and BBR's flows, which do not back off on loss,
// overfill that link's queue. At 50 hosts on 10 Mbit/s links the fleet
// retransmitted 670k segments per deploy with BBR and 185k with CUBIC, the
// kernel spent a quarter less time in softirq, and the deploy took
// 1.47-1.52 T instead of 1.60-1.65 T (docs/benchmarks.md). Loss-based
// control is what a LAN bulk transfer between many peers wants.

// congestionName is what the kernel accepts as an algorithm name
// (TCP_CA_NAME_MAX is 16 bytes with the NUL).
var congestionName = regexp.MustCompile(`^[a-z0-9_-]{1,15}$`)

// ValidCongestionName reports whether s can name a congestion-control
// algorithm.
func ValidCongestionName(s string) bool { return congestionName.MatchString(s) }

// socketControl returns a socket Control hook for a peer's own sockets:
// it limits their unsent bytes (limitUnsent) and sets the first of algos
// the kernel accepts as the socket's TCP congestion control. An algorithm
// the host has not built, or does not allow unprivileged users
// (net.ipv4.tcp_allowed_congestion_control), is skipped; when none is
// accepted the socket keeps the host's default, which is not an error.
// Sockets accepted from a listener inherit its algorithm.
func socketControl(algos []string) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			limitUnsent(fd)
			for _, a := range algos {
				if unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, a) == nil {
					return
				}
			}
		})
	}
}
