package orchestrator

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

func isOpen(g *originGate) bool {
	select {
	case <-g.Ready():
		return true
	default:
		return false
	}
}

func TestOriginGateOpensWhenEveryHostPassed(t *testing.T) {
	g := newOriginGate(3, time.Hour)
	g.pass(true)
	g.pass(false)
	if isOpen(g) {
		t.Fatal("open with a host still starting")
	}
	g.pass(true)
	if !isOpen(g) {
		t.Fatal("still closed after every host passed")
	}
	g.pass(true) // a late duplicate must not panic
}

func TestOriginGateOpensAfterTheHoldFromTheFirstRunningPeer(t *testing.T) {
	g := newOriginGate(3, 50*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	if isOpen(g) {
		t.Fatal("the hold started before any host passed")
	}
	g.pass(false) // failed or pushing: nobody waits yet
	time.Sleep(100 * time.Millisecond)
	if isOpen(g) {
		t.Fatal("the hold's clock started without a running peer")
	}
	g.pass(true)
	select {
	case <-g.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("a host that never passes held the origin past its bound")
	}
}

func TestOriginGateWithNoHostsOrReleasedIsOpen(t *testing.T) {
	if !isOpen(newOriginGate(0, time.Hour)) {
		t.Error("no hosts: closed")
	}
	g := newOriginGate(5, time.Hour)
	g.pass(true)
	g.release()
	if !isOpen(g) {
		t.Error("released: closed")
	}
}

// logTimes records when each message was logged.
type logTimes struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func (l *logTimes) Enabled(context.Context, slog.Level) bool { return true }
func (l *logTimes) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.at[r.Message] = append(l.at[r.Message], r.Time)
	l.mu.Unlock()
	return nil
}
func (l *logTimes) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logTimes) WithGroup(string) slog.Handler      { return l }

func TestDeployHoldsTheOriginUntilEveryPeerRuns(t *testing.T) {
	hosts := startHosts(t, 3, 91)
	first, _ := payload(t, 64<<10)
	if rep, err := Deploy(context.Background(), deployOpts(t, first, targetsOf(hosts))); err != nil || rep.Results.Err() != nil {
		t.Fatalf("first deploy (caches the peer binary): %v %+v", err, rep)
	}
	src, _ := payload(t, 4<<20)
	opts := deployOpts(t, src, targetsOf(hosts))
	logs := &logTimes{at: map[string][]time.Time{}}
	opts.Logger = slog.New(logs)
	before := time.Now() // Running is counted from a moment just after this
	rep, err := Deploy(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	served := logs.at["origin handing pieces out"]
	if len(served) != 1 {
		t.Fatalf("origin started handing out %d times", len(served))
	}
	at := served[0].Sub(before)
	for _, r := range rep.Results {
		if r.Status != StatusChanged || r.Downloaded == 0 {
			t.Errorf("%s: %s, downloaded %d (%s)", r.Host, r.Status, r.Downloaded, r.Reason)
		}
		if r.Running == 0 || r.Running > at {
			t.Errorf("%s: peer running at %v, origin serving at %v: it did not wait for every peer", r.Host, r.Running, at)
		}
	}
	if last := maxRunning(rep.Results); at > last+time.Second {
		t.Errorf("origin serving at %v, long after the last peer ran (%v)", at, last)
	}
}

func maxRunning(rs Results) time.Duration {
	var m time.Duration
	for _, r := range rs {
		m = max(m, r.Running)
	}
	return m
}
