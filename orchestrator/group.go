package orchestrator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/murderctl/murderctl/sshx"
)

// DefaultForks bounds how many hosts are connected to and set up at once.
const DefaultForks = 50

// Group is a set of hosts acted on together, Fabric-style. The zero Dialer
// means real SSH. Connections are opened on first use and reused until Close.
type Group struct {
	Targets []Target
	Dialer  Dialer
	Forks   int
	Logger  *slog.Logger

	mu    sync.Mutex
	conns map[string]Conn
}

// NewGroup returns a group over targets using real SSH connections.
func NewGroup(targets []Target) *Group {
	return &Group{Targets: targets}
}

func (g *Group) dialer() Dialer {
	if g.Dialer == nil {
		return SSHDialer{}
	}
	return g.Dialer
}

func (g *Group) logger() *slog.Logger {
	if g.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Logger
}

func (g *Group) forks() int {
	if g.Forks <= 0 {
		return DefaultForks
	}
	return g.Forks
}

// conn returns the cached connection to t, dialing it if needed.
func (g *Group) conn(ctx context.Context, t Target) (Conn, error) {
	g.mu.Lock()
	c, ok := g.conns[t.Name]
	g.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := g.dialer().Dial(ctx, t)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns == nil {
		g.conns = map[string]Conn{}
	}
	if old, ok := g.conns[t.Name]; ok {
		c.Close()
		return old, nil
	}
	g.conns[t.Name] = c
	return c, nil
}

// Close closes every cached connection.
func (g *Group) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	for name, c := range g.conns {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", name, err))
		}
	}
	g.conns = nil
	return errors.Join(errs...)
}

// each runs fn for every target, at most Forks at a time, and returns one
// Result per target in inventory order.
func (g *Group) each(ctx context.Context, fn func(ctx context.Context, t Target, r *Result)) Results {
	results := make(Results, len(g.Targets))
	var eg errgroup.Group
	eg.SetLimit(g.forks())
	for i, t := range g.Targets {
		eg.Go(func() error {
			start := time.Now()
			r := &results[i]
			r.Host = t.Name
			if err := ctx.Err(); err != nil {
				r.setErr(StatusFailed, fmt.Errorf("not started: %w", context.Cause(ctx)))
			} else {
				fn(ctx, t, r)
			}
			r.Duration = time.Since(start)
			return nil
		})
	}
	eg.Wait()
	return results
}

// Run runs a shell command line on every host. A non-zero exit marks the host
// failed; the command's output is kept in the result. Quote arguments with
// sshx.Quote: the line is interpreted by the remote shell.
func (g *Group) Run(ctx context.Context, cmd string) Results {
	return g.each(ctx, func(ctx context.Context, t Target, r *Result) {
		c, err := g.conn(ctx, t)
		if err != nil {
			r.setErr(dialStatus(err), err)
			return
		}
		var stdout, stderr bytes.Buffer
		code, err := c.Run(ctx, cmd, nil, &stdout, &stderr)
		r.ExitCode, r.Stdout, r.Stderr = code, stdout.String(), stderr.String()
		switch {
		case err != nil && ctx.Err() != nil:
			// Cancelled or out of time: the host is not at fault.
			r.setErr(StatusFailed, fmt.Errorf("run: %w: %w", context.Cause(ctx), err))
		case err != nil:
			r.setErr(StatusUnreachable, fmt.Errorf("run: %w", err))
		case code != 0:
			r.setErr(StatusFailed, fmt.Errorf("non-zero return code %d: %s", code, firstLine(r.Stderr)))
		default:
			r.Status = StatusChanged
		}
		g.logger().Debug("run", "host", t.Name, "exit_code", code)
	})
}

// Put copies a local file to remotePath on every host, atomically.
func (g *Group) Put(ctx context.Context, localPath, remotePath string, perm os.FileMode) Results {
	return g.each(ctx, func(ctx context.Context, t Target, r *Result) {
		c, err := g.conn(ctx, t)
		if err != nil {
			r.setErr(dialStatus(err), err)
			return
		}
		f, err := os.Open(localPath)
		if err != nil {
			r.setErr(StatusFailed, err)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			r.setErr(StatusFailed, err)
			return
		}
		if err := c.Upload(ctx, io.Reader(f), st.Size(), remotePath, perm); err != nil {
			r.setErr(StatusFailed, fmt.Errorf("put %s: %w", remotePath, err))
			return
		}
		r.Status, r.Dest = StatusChanged, remotePath
	})
}

// dialStatus maps a dial error to unreachable, as Ansible does for every
// connection failure (refused, timeout, auth, host key).
func dialStatus(error) Status { return StatusUnreachable }

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

var _ Conn = (*sshx.Client)(nil)
