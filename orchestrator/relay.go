package orchestrator

import (
	"context"
	"sync"
	"time"
)

// directPushes is how many hosts per binary get it straight from the
// control node; every other host fetches it from a host that already runs
// a peer, so first contact costs the control node a few copies, not N.
const directPushes = 2

// maxFetchesPerSource bounds concurrent fetches from one peer, so a source
// is not swamped while newer hosts come up as sources themselves.
const maxFetchesPerSource = 4

// relayWait bounds how long a host waits for a fleet source of the binary
// before it falls back to a direct push.
const relayWait = 45 * time.Second

// binaryRelay tracks which running peers serve which peer binary.
type binaryRelay struct {
	mu      sync.Mutex
	sources map[string][]*relaySource // by binary SHA-256
	direct  map[string]int            // direct pushes under way or done, by SHA-256
	changed chan struct{}             // closed and replaced on every change
}

// relaySource is one peer serving its binary at addr (ip:port).
type relaySource struct {
	addr   string
	active int
	bad    bool
}

func newBinaryRelay() *binaryRelay {
	return &binaryRelay{sources: map[string][]*relaySource{}, direct: map[string]int{}, changed: make(chan struct{})}
}

func (b *binaryRelay) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// add registers a peer serving the binary sum.
func (b *binaryRelay) add(sum, addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sources[sum] = append(b.sources[sum], &relaySource{addr: addr})
	b.notifyLocked()
}

// plan is what a host should do to get the binary.
type plan struct {
	source *relaySource // fetch from here, or
	direct bool         // push it from the control node
}

// next decides, waiting while direct pushes are under way and no source is
// up yet. It returns a direct plan after relayWait, or when ctx ends.
func (b *binaryRelay) next(ctx context.Context, sum string) plan {
	deadline := time.NewTimer(relayWait)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		var best *relaySource
		good := 0
		for _, s := range b.sources[sum] {
			if s.bad {
				continue
			}
			good++
			if s.active < maxFetchesPerSource && (best == nil || s.active < best.active) {
				best = s
			}
		}
		if best != nil {
			best.active++
			b.mu.Unlock()
			return plan{source: best}
		}
		if b.direct[sum] < directPushes && good == 0 {
			b.direct[sum]++
			b.mu.Unlock()
			return plan{direct: true}
		}
		wait := b.changed
		b.mu.Unlock()
		select {
		case <-wait:
		case <-deadline.C:
			return plan{direct: true}
		case <-ctx.Done():
			return plan{direct: true}
		}
	}
}

// done reports how a plan went. A failed fetch marks the source bad; a
// direct push that will not yield a source frees its slot for another host.
func (b *binaryRelay) done(sum string, p plan, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.source != nil {
		p.source.active--
		if !ok {
			p.source.bad = true
		}
	}
	if p.direct && !ok {
		b.direct[sum]--
	}
	b.notifyLocked()
}
