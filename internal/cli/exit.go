// Package cli is murderctl's command-line front end: it parses flags into
// Options, wires the dependencies, renders results and maps errors to
// Ansible's exit codes. The work itself lives in orchestrator and below.
package cli

import (
	"errors"
	"fmt"
)

// Exit codes, as ansible-playbook uses them.
const (
	ExitOK          = 0
	ExitFailure     = 1  // an error that is no single host's
	ExitHostFailed  = 2  // at least one host failed
	ExitUnreachable = 4  // at least one host unreachable, none failed
	ExitBadOptions  = 5  // bad or incomplete command-line options
	ExitInterrupted = 99 // interrupted by the operator (SIGINT/SIGTERM)
)

// ExitError carries the exit code a command wants.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// errInterrupted is the context cause when the operator interrupts.
var errInterrupted = errors.New("interrupted")

func badOptions(format string, a ...any) error {
	return &ExitError{Code: ExitBadOptions, Err: fmt.Errorf(format, a...)}
}

// exitCode maps an error returned by a command to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if errors.Is(err, errInterrupted) {
		return ExitInterrupted
	}
	return ExitFailure
}
