package orchestrator

import (
	"errors"
	"time"
)

// Status is the Ansible-style outcome of one host.
type Status string

const (
	StatusOK          Status = "ok"          // nothing needed changing
	StatusChanged     Status = "changed"     // the host was changed
	StatusFailed      Status = "failed"      // the host was reached but the task failed
	StatusUnreachable Status = "unreachable" // the host could not be reached or the link died
)

// Result is the outcome on one host. Err carries the cause for failed and
// unreachable hosts; Stderr keeps the remote stderr in full.
type Result struct {
	Host     string        `json:"host"`
	Status   Status        `json:"status"`
	ExitCode int           `json:"exit_code"`
	Err      error         `json:"-"`
	Reason   string        `json:"reason,omitempty"`
	Stdout   string        `json:"stdout,omitempty"`
	Stderr   string        `json:"stderr,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// Running and Completed are when, since the deploy began, the host's
	// peer started and the file was in place (zero when it never was).
	Running   time.Duration `json:"running_ns,omitempty"`
	Completed time.Duration `json:"completed_ns,omitempty"`

	// Deploy-only fields.
	Dest       string `json:"dest,omitempty"`
	Downloaded int64  `json:"downloaded,omitempty"`
	Uploaded   int64  `json:"uploaded,omitempty"`
	// Duplicate is block bytes the host received twice (see swarm.Event).
	Duplicate int64    `json:"duplicate,omitempty"`
	BadPeers  []string `json:"bad_peers,omitempty"`
}

// Failed reports whether the host failed or was unreachable.
func (r Result) Failed() bool {
	return r.Status == StatusFailed || r.Status == StatusUnreachable
}

// setErr records err as the reason of a failed or unreachable result.
func (r *Result) setErr(s Status, err error) {
	r.Status = s
	r.Err = err
	if err != nil {
		r.Reason = err.Error()
	}
}

// Results is a list of per-host results.
type Results []Result

// Err joins the errors of every failed or unreachable host, or returns nil.
func (rs Results) Err() error {
	var errs []error
	for _, r := range rs {
		if r.Failed() {
			e := r.Err
			if e == nil {
				e = errors.New(r.Reason)
			}
			errs = append(errs, &HostError{Host: r.Host, Status: r.Status, Err: e})
		}
	}
	return errors.Join(errs...)
}

// Counts tallies results the way Ansible's PLAY RECAP does.
func (rs Results) Counts() (ok, changed, failed, unreachable int) {
	for _, r := range rs {
		switch r.Status {
		case StatusOK:
			ok++
		case StatusChanged:
			ok++
			changed++
		case StatusFailed:
			failed++
		case StatusUnreachable:
			unreachable++
		}
	}
	return
}

// HostError ties a cause to the host it happened on.
type HostError struct {
	Host   string
	Status Status
	Err    error
}

func (e *HostError) Error() string { return e.Host + ": " + e.Err.Error() }
func (e *HostError) Unwrap() error { return e.Err }
