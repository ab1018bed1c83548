package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// CancelGrace is how long Run waits, after sending SIGTERM to a cancelled
// command, for it to exit before closing the session.
const CancelGrace = 2 * time.Second

// ErrConnLost: the connection died while a command ran or a file moved. It
// is always wrapped together with ErrUnreachable.
var ErrConnLost = errors.New("connection lost")

// Run runs cmd on the host in its own session, through the login shell as
// OpenSSH does (quote arguments with Quote or QuoteCommand). It returns the
// remote exit status as a result: 0..255, or 128+N when the command died from
// signal N. The error is non-nil only when the command's status is unknown:
// the session could not start, the connection was lost (the error then
// matches ErrUnreachable and ErrConnLost), or ctx ended (the error wraps
// ctx.Err()); the exit code is then -1.
//
// stdin may be nil (the remote sees immediate EOF); when it reaches EOF the
// remote's stdin is closed. stdout and stderr may be nil (discarded); no
// write to them starts after Run returns. Each is written from its own
// goroutine: pass the same writer for both only if it is safe for
// concurrent use. Cancelling ctx sends SIGTERM and EOF
// on stdin, waits up to CancelGrace for the command to end, then closes the
// session. OpenSSH ignores "signal" requests for root logins (it has no
// privilege separation after auth then); there a command ends on cancel only
// if it stops at stdin EOF or dies of SIGPIPE, as murderctl's peer does.
func (c *Client) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	select {
	case <-c.done:
		return -1, fmt.Errorf("ssh run on %s: %w", c.cfg.Host, ErrClosed)
	default:
	}
	if err := ctx.Err(); err != nil {
		return -1, fmt.Errorf("ssh run on %s: %w", c.cfg.Host, err)
	}
	s, err := c.conn.NewSession()
	if err != nil {
		return -1, c.sessionErr("ssh open session", err)
	}
	defer s.Close()
	// Guard the writers so that nothing reaches them after Run returns, even
	// when a dead server leaves the session's copiers running.
	gout, gerr := guard(stdout), guard(stderr)
	defer gout.close()
	defer gerr.close()
	s.Stdout, s.Stderr = gout.writer(), gerr.writer()
	var in *lockedWriteCloser
	if stdin != nil {
		pipe, err := s.StdinPipe()
		if err != nil {
			return -1, fmt.Errorf("ssh run on %s: stdin: %w", c.cfg.Host, err)
		}
		in = &lockedWriteCloser{w: pipe}
	}
	if err := s.Start(cmd); err != nil {
		return -1, c.sessionErr("ssh start command", err)
	}
	if stdin != nil {
		go func() {
			// Ends when stdin ends or, after the session is gone, at the next
			// Read that returns.
			io.Copy(in, stdin)
			in.Close()
		}()
	}
	waitc := make(chan error, 1)
	go func() { waitc <- s.Wait() }()
	select {
	case err = <-waitc:
	case <-ctx.Done():
		c.log.Debug("ssh run cancelled; sending TERM and closing stdin", "cmd", shorten(cmd))
		s.Signal(ssh.SIGTERM)
		if in != nil {
			// Servers that refuse signals still deliver EOF. In a goroutine:
			// a Write blocked on a full window holds the lock.
			go in.Close()
		}
		select {
		case <-waitc:
		case <-time.After(CancelGrace):
			s.Close()
			// Let the output copiers finish so nothing writes after we return.
			select {
			case <-waitc:
			case <-time.After(CancelGrace):
			}
		}
		return -1, fmt.Errorf("ssh run on %s: %w", c.cfg.Host, ctx.Err())
	}
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exitErr):
		return exitErr.ExitStatus(), nil
	default:
		return -1, c.sessionErr("ssh run", err)
	}
}

// sessionErr wraps a session failure, marking it unreachable when the
// connection itself is gone.
func (c *Client) sessionErr(op string, err error) error {
	if c.connDead(100 * time.Millisecond) {
		return fmt.Errorf("%s on %s: %w: %w: %w", op, c.cfg.Host, ErrUnreachable, ErrConnLost, err)
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		return fmt.Errorf("%s on %s: the remote command ended without an exit status: %w", op, c.cfg.Host, err)
	}
	return fmt.Errorf("%s on %s: %w", op, c.cfg.Host, err)
}

// connDead reports whether the connection is closed, waiting up to d for a
// close that may be in flight.
func (c *Client) connDead(d time.Duration) bool {
	select {
	case <-c.dead:
		return true
	default:
	}
	if d <= 0 {
		return false
	}
	select {
	case <-c.dead:
		return true
	case <-time.After(d):
		return false
	}
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// guardedWriter forwards writes until closed, then refuses them. Closing
// does not wait for a write in flight, so a blocked consumer cannot block Run.
type guardedWriter struct {
	w      io.Writer
	closed atomic.Bool
}

func guard(w io.Writer) *guardedWriter { return &guardedWriter{w: w} }

// writer returns nil for a nil target, so the session discards the stream.
func (g *guardedWriter) writer() io.Writer {
	if g.w == nil {
		return nil
	}
	return g
}

func (g *guardedWriter) Write(p []byte) (int, error) {
	if g.closed.Load() {
		return 0, ErrClosed
	}
	return g.w.Write(p)
}

func (g *guardedWriter) close() { g.closed.Store(true) }

// lockedWriteCloser serialises Write and Close: the channel's Write and
// CloseWrite must not run concurrently (the stdin copier writes while a
// cancel closes).
type lockedWriteCloser struct {
	mu sync.Mutex
	w  io.WriteCloser
}

func (l *lockedWriteCloser) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriteCloser) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Close()
}
