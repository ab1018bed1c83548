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

// peerSession is a launch session under way: the script that execs the
// peer, then the peer, with its stdin, stdout and stderr.
type peerSession struct {
	cancel  context.CancelFunc // ends the session
	stdinW  *io.PipeWriter
	stdinMu sync.Mutex
	out     io.Reader // stdout, from where the peer's events begin
	stderr  *capped
	done    chan struct{} // closed when the session has ended; then code, err
	code    int
	err     error
}

// send writes one line to the peer's stdin.
func (ps *peerSession) send(line []byte) {
	ps.stdinMu.Lock()
	defer ps.stdinMu.Unlock()
	ps.stdinW.Write(append(line, '\n'))
}

// startSession runs cmd, a launch line, with cfg as its first line of
// stdin: the peer reads it once exec'd, and nothing before it reads stdin.
func (h *hostRun) startSession(ctx context.Context, cmd string, cfg []byte) *peerSession {
	runCtx, cancel := context.WithCancel(ctx)
	stdinR, stdinW := io.Pipe()
	outR, outW := io.Pipe()
	ps := &peerSession{cancel: cancel, stdinW: stdinW, out: outR, stderr: &capped{max: 64 << 10}, done: make(chan struct{})}
	go func() {
		defer close(ps.done)
		ps.code, ps.err = h.runBecome(runCtx, cmd, false, stdinR, outW, ps.stderr)
		outW.Close()
		stdinR.Close()
		if errors.Is(ps.err, errBecome) {
			// sudo never started the launch script, which would have
			// removed the staged copy.
			h.unstage(ctx)
		}
	}()
	go ps.send(cfg)
	return ps
}

// launch starts the peer, unless ps is a session that already runs it,
// follows its events until the fleet is done, then tells it to stop and
// collects its exit status.
func (h *hostRun) launch(ctx context.Context, ps *peerSession) {
	if ps == nil {
		tunnelCtx, cancelTunnel := context.WithCancel(ctx)
		defer cancelTunnel()
		tunnelAddr, err := h.tunnel(tunnelCtx)
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
		ps = h.startSession(ctx, h.launchCommand(), cfg)
	}
	defer ps.cancel()

	eventsDone := make(chan struct{})
	go func() {
		defer close(eventsDone)
		h.readEvents(ps.out, func(ev swarm.Event) {
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
	case <-ps.done:
	case <-ctx.Done():
	}
	stop, _ := json.Marshal(swarm.Control{Cmd: swarm.ControlStop})
	go func() { ps.send(stop); ps.stdinW.Close() }()
	select {
	case <-ps.done:
	case <-time.After(stopGrace):
		// It did not stop (frozen, or the session is wedged): kill it
		// rather than leave it behind.
		h.mu.Lock()
		pid := h.pid
		h.mu.Unlock()
		h.kill(ctx, pid)
		ps.cancel()
		<-ps.done
	}
	<-eventsDone
	if h.directPlan != nil {
		// Pushed directly but never served: let another host push.
		h.d.relay.done(h.binary.SHA256, *h.directPlan, false)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.r.ExitCode = ps.code
	h.r.Stderr = ps.stderr.String()
	if !h.terminal {
		h.r.setErr(h.exitStatus(ctx, ps.code, ps.err))
	}
}

// apply folds one event into the result and reports whether it settles the
// host (done or failed).
func (h *hostRun) apply(ev swarm.Event) bool {
	switch ev.Event {
	case swarm.EventStarted:
		h.r.Running = time.Since(h.d.start)
		h.passGate(true)
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
