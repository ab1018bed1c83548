package orchestrator

import (
	"sync"
	"time"
)

// Why the origin waits for the launches: it fills the control node's uplink
// from its first request, and every SSH round trip of a host still being
// set up then waits behind that queue (on a tc link, 130-190 KB: up to
// 150 ms a trip, and tail drops that cost a retransmission timeout). At 50
// hosts, runs whose origin started with the first peer had hosts still
// starting 3-5 s in, and those hosts finished up to 5 s after the rest
// (docs/benchmarks.md, eighth session). So the origin hands nothing out
// until every host has its peer running or has left the fast path, and at
// most originHoldMax after the first peer runs.

// originHoldMax bounds how long running peers wait for the others: a slow
// or wedged host must not hold the fleet's start back.
const originHoldMax = time.Second

// originGate opens once every host has passed it, or originHoldMax after
// the first one passed with its peer running.
type originGate struct {
	max     time.Duration
	open    chan struct{}
	mu      sync.Mutex
	pending int
	timer   *time.Timer
	opened  bool
}

func newOriginGate(hosts int, max time.Duration) *originGate {
	g := &originGate{max: max, open: make(chan struct{}), pending: hosts}
	if hosts <= 0 {
		g.release()
	}
	return g
}

// Ready is closed when the origin may serve.
func (g *originGate) Ready() <-chan struct{} { return g.open }

// pass records that one host no longer needs the uplink quiet: its peer
// runs, it failed, or it takes a slow path (a binary push) that the gate
// should not wait for. Each host passes once. The bound's clock starts
// with the first running peer: until one runs, nobody waits for the origin.
func (g *originGate) pass(running bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending--
	switch {
	case g.pending <= 0:
		g.releaseLocked()
	case running && g.timer == nil && !g.opened:
		g.timer = time.AfterFunc(g.max, g.release)
	}
}

// release opens the gate now (also when the deploy is over, to free the
// timer).
func (g *originGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked()
}

func (g *originGate) releaseLocked() {
	if g.opened {
		return
	}
	g.opened = true
	close(g.open)
	if g.timer != nil {
		g.timer.Stop()
	}
}
