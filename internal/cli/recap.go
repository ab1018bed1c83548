package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/murderctl/murderctl/orchestrator"
	"github.com/murderctl/murderctl/swarm"
)

// writeRecap prints one Ansible-style line per host, then the PLAY RECAP.
func writeRecap(w io.Writer, rs orchestrator.Results) {
	for _, r := range rs {
		switch r.Status {
		case orchestrator.StatusChanged, orchestrator.StatusOK:
			fmt.Fprintf(w, "%s: [%s] => %s\n", r.Status, r.Host, hostJSON(r))
		case orchestrator.StatusUnreachable:
			fmt.Fprintf(w, "fatal: [%s]: UNREACHABLE! => %s\n", r.Host, hostJSON(r))
		default:
			fmt.Fprintf(w, "fatal: [%s]: FAILED! => %s\n", r.Host, hostJSON(r))
		}
	}
	fmt.Fprintf(w, "\nPLAY RECAP %s\n", strings.Repeat("*", 69))
	for _, r := range rs {
		ok, changed, failed, unreachable := orchestrator.Results{r}.Counts()
		fmt.Fprintf(w, "%-26s : %s %s %s %s %s %s %s\n", r.Host,
			count("ok", ok), count("changed", changed), count("unreachable", unreachable),
			count("failed", failed), count("skipped", 0), count("rescued", 0), count("ignored", 0))
	}
}

func count(name string, n int) string { return fmt.Sprintf("%s=%-4d", name, n) }

// hostJSON is the compact detail Ansible prints after "=>".
func hostJSON(r orchestrator.Result) string {
	m := map[string]any{"changed": r.Status == orchestrator.StatusChanged}
	if r.Dest != "" {
		m["dest"] = r.Dest
	}
	if r.Failed() {
		m["msg"] = r.Reason
		if r.Status == orchestrator.StatusUnreachable {
			m["unreachable"] = true
		}
		if r.Stderr != "" && r.Status == orchestrator.StatusFailed {
			m["stderr"] = r.Stderr
		}
	}
	if len(r.BadPeers) > 0 {
		m["bad_peers"] = r.BadPeers
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// liveRecap draws a one-line fleet progress on stderr when it is a terminal.
type liveRecap struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	last  time.Time
	hosts map[string]swarm.Event
}

func newLiveRecap(ios *IOStreams, jsonOut bool) *liveRecap {
	l := &liveRecap{w: ios.ErrOut, hosts: map[string]swarm.Event{}}
	if f, ok := ios.ErrOut.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		l.tty = true
	}
	return l
}

func (l *liveRecap) event(host string, ev swarm.Event) {
	if !l.tty {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.hosts[host]
	if ev.Event == swarm.EventProgress || prev.Event == "" {
		l.hosts[host] = ev
	} else if ev.Event == swarm.EventDone || ev.Event == swarm.EventFailed {
		ev.Have, ev.Total = prev.Total, prev.Total
		l.hosts[host] = ev
	}
	if time.Since(l.last) < 200*time.Millisecond && ev.Event == swarm.EventProgress {
		return
	}
	l.last = time.Now()
	var done, failed, have, total int
	for _, e := range l.hosts {
		switch e.Event {
		case swarm.EventDone:
			done++
		case swarm.EventFailed:
			failed++
		}
		have += e.Have
		total += e.Total
	}
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(have) / float64(total)
	}
	fmt.Fprintf(l.w, "\r\033[Kmurderctl: %d hosts reporting, %d done, %d failed, %.0f%% of pieces", len(l.hosts), done, failed, pct)
}

// finish ends the progress line so the recap starts on a clean line.
func (l *liveRecap) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tty && len(l.hosts) > 0 {
		fmt.Fprint(l.w, "\r\033[K")
	}
}
