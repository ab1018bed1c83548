package orchestrator

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/murderctl/murderctl/sshx"
)

// Conn is a live connection to one host: the narrow seam the orchestrator
// drives. Implementations must allow concurrent Run calls.
type Conn interface {
	// Run executes cmd (a shell command line, already quoted by the caller)
	// and returns the remote exit status. err is reserved for transport
	// failures; a non-zero exit is not an error. Cancelling ctx stops the
	// remote command. stdin may be nil; EOF on it closes the remote stdin.
	Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (exitCode int, err error)
	// Upload writes r to remotePath atomically: the path holds either its
	// old content or all size bytes, never a prefix.
	Upload(ctx context.Context, r io.Reader, size int64, remotePath string, perm os.FileMode) error
	// LocalAddr is our end of the connection: the address the host sees us at.
	LocalAddr() net.Addr
	Close() error
}

// Dialer opens connections to targets.
type Dialer interface {
	Dial(ctx context.Context, t Target) (Conn, error)
}

// Target is one host to act on, with its resolved connection settings.
type Target struct {
	// Name is the inventory hostname, used in results and the recap.
	Name string
	// SSH holds the address, user, keys and host-key policy.
	SSH sshx.Config
	// Vars are the host's merged inventory variables, for callers that want them.
	Vars map[string]any
	// BecomeUser, when set, is the user the destination check and the peer
	// run as, through sudo (ansible_become with ansible_become_method=sudo).
	BecomeUser string
	// BecomePassword is sudo's password (ansible_become_password, or -K);
	// empty means sudo -n. It is only ever written to sudo's stdin when
	// sudo asks for it, never put in argv, logs or output.
	BecomePassword string `json:"-"`
}

// String names the target without its secrets (%v of a Target).
func (t Target) String() string { return t.Name }

// GoString keeps %#v from printing the passwords.
func (t Target) GoString() string { return "orchestrator.Target{Name: " + strconv.Quote(t.Name) + "}" }

// SSHDialer dials real hosts with sshx.
type SSHDialer struct{}

// Dial connects with the target's SSH settings.
func (SSHDialer) Dial(ctx context.Context, t Target) (Conn, error) {
	c, err := sshx.Dial(ctx, t.SSH)
	if err != nil {
		return nil, err
	}
	return c, nil
}
