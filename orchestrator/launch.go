package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/murderctl/murderctl/swarm"
)

// launch starts the peer, follows its events until the fleet is done, then
// tells it to stop and collects its exit status.
func (h *hostRun) launch(ctx context.Context) {
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	tunnelAddr, err := h.tunnel(runCtx)
	if err != nil {
		h.unstage(ctx)
		h.r.setErr(StatusFailed, fmt.Errorf("tunnel to the tracker: %w", err))
		return
	}
	cfg, err := json.Marshal(h.peerConfig(tunnelAddr))
	if err != nil {
		h.unstage(ctx)
		h.r.setErr(StatusFailed, fmt.Errorf("encode peer config: %w", err))
		return
	}
	stdinR, stdinW := io.Pipe()
	outR, outW := io.Pipe()
	stderr := &capped{max: 64 << 10}

	var code int
	var runErr error
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		code, runErr = h.runBecome(runCtx, h.launchCommand(), false, stdinR, outW, stderr)
		outW.Close()
		stdinR.Close()
		if errors.Is(runErr, errBecome) {
			// sudo never started the launch script, which would have
			// removed the staged copy.
			h.unstage(ctx)
		}
	}()

	var stdinMu sync.Mutex
	send := func(line []byte) {
		stdinMu.Lock()
		defer stdinMu.Unlock()
		stdinW.Write(append(line, '\n'))
	}
	go send(cfg)

	eventsDone := make(chan struct{})
	go func() {
		defer close(eventsDone)
		h.readEvents(outR, func(ev swarm.Event) {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.terminal {
				// Settled (or declared stalled): keep the counters current,
				// never the status.
				if ev.Event != swarm.EventDone && ev.Event != swarm.EventFailed {
					h.apply(ev)
				}
				return
			}
			h.noteProgress(ev)
			if h.apply(ev) {
				h.terminal = true
				h.settle()
			}
		})
	}()
	go h.watchStall(ctx, eventsDone)

	select {
	case <-h.d.allDone:
	case <-runDone:
	case <-ctx.Done():
	}
	stop, _ := json.Marshal(swarm.Control{Cmd: swarm.ControlStop})
	go func() { send(stop); stdinW.Close() }()
	select {
	case <-runDone:
	case <-time.After(stopGrace):
		// It did not stop (frozen, or the session is wedged): kill it
		// rather than leave it behind.
		h.mu.Lock()
		pid := h.pid
		h.mu.Unlock()
		h.kill(ctx, pid)
		cancelRun()
		<-runDone
	}
	<-eventsDone
	if h.directPlan != nil {
		// Pushed directly but never served: let another host push.
		h.d.relay.done(h.binary.SHA256, *h.directPlan, false)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.r.ExitCode = code
	h.r.Stderr = stderr.String()
	if !h.terminal {
		h.r.setErr(h.exitStatus(ctx, code, runErr))
	}
}

// apply folds one event into the result and reports whether it settles the
// host (done or failed).
func (h *hostRun) apply(ev swarm.Event) bool {
	switch ev.Event {
	case swarm.EventStarted:
		h.r.Running = time.Since(h.d.start)
		if ev.BinaryPort > 0 && h.d.relay != nil {
			addr := net.JoinHostPort(h.d.hostIPs[h.t.Name], strconv.Itoa(ev.BinaryPort))
			h.d.relay.add(h.binary.SHA256, addr)
			h.directPlan = nil
		}
	case swarm.EventProgress, swarm.EventExiting:
		h.r.Downloaded, h.r.Uploaded, h.r.Duplicate = ev.Downloaded, ev.Uploaded, ev.Duplicate
	case swarm.EventBadPeer:
		h.r.BadPeers = append(h.r.BadPeers, ev.Addr)
	case swarm.EventDone:
		h.r.Completed = time.Since(h.d.start)
		h.r.Dest, h.r.Downloaded, h.r.Duplicate = ev.Dest, ev.Downloaded, ev.Duplicate
		h.r.Status = StatusOK
		if ev.Changed {
			h.r.Status = StatusChanged
		}
		return true
	case swarm.EventFailed:
		reason := ev.Reason
		if ev.Code != "" {
			reason += " (" + ev.Code + ")"
		}
		h.r.setErr(StatusFailed, errors.New(reason))
		return true
	}
	return false
}

// exitStatus explains a peer that ended without saying done or failed.
func (h *hostRun) exitStatus(ctx context.Context, code int, runErr error) (Status, error) {
	last := lastLine(h.r.Stderr)
	switch {
	case ctx.Err() != nil:
		return StatusFailed, context.Cause(ctx)
	case errors.Is(runErr, errBecome):
		return StatusFailed, fmt.Errorf("start the peer as %s: %w", h.t.BecomeUser, runErr)
	case runErr != nil:
		return StatusUnreachable, fmt.Errorf("connection lost during transfer: %w", runErr)
	case code == exitBinaryMismatch:
		return StatusFailed, errors.New("peer binary on the host failed its SHA-256 check; removed it, the next deploy pushes it again")
	case code == 126 || code == 127:
		return StatusFailed, fmt.Errorf("cannot execute the peer binary (exit %d): %s", code, last)
	default:
		return StatusFailed, fmt.Errorf("%w with code %d before finishing: %s", errPeerExited, code, becomeHint(last))
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// capped is a concurrency-safe buffer that keeps at most max bytes.
type capped struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.b)
}
