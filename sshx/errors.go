package sshx

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Dial's errors wrap exactly one of ErrUnreachable, ErrAuth
// or a *HostKeyError (which matches ErrHostKeyUnknown, ErrHostKeyChanged or
// ErrHostKeyRevoked), unless the context was cancelled first.
var (
	// ErrUnreachable: the TCP connection or the SSH handshake failed
	// (refused, timed out, no route, name not resolved, connection reset).
	ErrUnreachable = errors.New("host unreachable")
	// ErrAuth: the server rejected every key and password offered, or there
	// was none to offer.
	ErrAuth = errors.New("permission denied")
	// ErrHostKeyUnknown: known_hosts has no key for the host.
	ErrHostKeyUnknown = errors.New("host key is not known")
	// ErrHostKeyChanged: known_hosts has a different key for the host.
	ErrHostKeyChanged = errors.New("host key has changed")
	// ErrHostKeyRevoked: the host offered a key marked @revoked.
	ErrHostKeyRevoked = errors.New("host key is revoked")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("ssh client closed")
)

// IsUnreachable reports whether err means the host could not be reached at
// the network level (Ansible's UNREACHABLE), as opposed to a rejected login,
// a host key problem, or a cancelled context.
func IsUnreachable(err error) bool { return errors.Is(err, ErrUnreachable) }

// IsAuth reports whether err is a rejected login.
func IsAuth(err error) bool { return errors.Is(err, ErrAuth) }

// IsHostKey reports whether err is a host key verification failure.
func IsHostKey(err error) bool {
	var hk *HostKeyError
	return errors.As(err, &hk)
}

// classifyDial wraps a TCP dial failure.
func classifyDial(ctx context.Context, c Config, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("ssh connect %s@%s: %w", c.User, c.Addr(), ctxErr)
	}
	return fmt.Errorf("ssh connect %s@%s: %w: %w", c.User, c.Addr(), ErrUnreachable, err)
}

// classifyHandshake wraps a failure of the SSH handshake (key exchange,
// host key check, authentication).
func classifyHandshake(ctx context.Context, c Config, err error) error {
	var hk *HostKeyError
	switch {
	case errors.As(err, &hk):
		return fmt.Errorf("ssh connect %s@%s: %w", c.User, c.Addr(), hk)
	case strings.Contains(err.Error(), "unable to authenticate"):
		return fmt.Errorf("ssh connect %s@%s: %w (check the user and key): %w", c.User, c.Addr(), ErrAuth, err)
	case ctx.Err() != nil:
		return fmt.Errorf("ssh connect %s@%s: %w", c.User, c.Addr(), ctx.Err())
	default:
		return fmt.Errorf("ssh handshake %s@%s: %w: %w", c.User, c.Addr(), ErrUnreachable, err)
	}
}
