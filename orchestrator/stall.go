package orchestrator

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/murderctl/murderctl/swarm"
)

// DefaultStallTimeout is how long a peer may go without progress before
// its host is reported failed and its peer killed, so one frozen host
// cannot hold the fleet.
const DefaultStallTimeout = 60 * time.Second

// noteProgress records when the peer last moved. Called with h.mu held.
func (h *hostRun) noteProgress(ev swarm.Event) {
	if ev.Event == swarm.EventStarted && ev.Pid > 0 {
		h.pid = ev.Pid
	}
	mark := int64(ev.Have)<<40 + ev.Downloaded
	if h.progressAt.IsZero() || mark != h.progressMark {
		h.progressMark, h.progressAt = mark, time.Now()
	}
}

// watchStall fails the host when its peer makes no progress for the stall
// timeout, and kills the peer: a stopped (SIGSTOP) process would never see
// its stdin close.
func (h *hostRun) watchStall(ctx context.Context, done <-chan struct{}) {
	timeout := h.d.opts.StallTimeout
	if timeout < 0 {
		return
	}
	if timeout == 0 {
		timeout = DefaultStallTimeout
	}
	h.mu.Lock()
	h.progressAt = time.Now()
	h.mu.Unlock()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		h.mu.Lock()
		if h.terminal {
			h.mu.Unlock()
			return
		}
		idle := time.Since(h.progressAt)
		if idle < timeout {
			h.mu.Unlock()
			continue
		}
		h.terminal = true
		h.r.setErr(StatusFailed, fmt.Errorf("stalled: the peer made no progress for %s; killed it", idle.Round(time.Second)))
		pid := h.pid
		h.mu.Unlock()
		h.settle()
		h.kill(ctx, pid)
		return
	}
}

// kill ends the peer process on the host.
func (h *hostRun) kill(ctx context.Context, pid int) {
	if pid <= 0 {
		return
	}
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	// As the become user: the peer runs as it (with sudo's password if one
	// is needed: runBecome answers the prompt).
	if _, err := h.runBecome(kctx, h.becomeArgv("kill", "-KILL", strconv.Itoa(pid)), false, nil, io.Discard, io.Discard); err != nil {
		h.d.log.Warn("kill stalled peer", "host", h.t.Name, "pid", pid, "err", err)
	}
}
