// Package sshx is murderctl's SSH client layer: it connects to hosts with
// golang.org/x/crypto/ssh (key files, ssh-agent, optional password, and
// known_hosts checking by default, as OpenSSH and Ansible do), runs commands
// with their exit status kept as a result, and uploads files atomically over
// SFTP (github.com/pkg/sftp).
//
// Errors from Dial are classifiable: IsUnreachable for network failures,
// errors.Is(err, ErrAuth) for rejected credentials, and *HostKeyError (also
// matching ErrHostKeyUnknown or ErrHostKeyChanged) for host key problems.
package sshx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Defaults applied by Dial when the Config leaves a field zero.
const (
	DefaultPort              = 22
	DefaultConnectTimeout    = 10 * time.Second
	DefaultKeepAliveInterval = 10 * time.Second
	DefaultKeepAliveCountMax = 3
)

// Config says how to reach and log in to one host.
type Config struct {
	// Host is a host name or IP address (Ansible's ansible_host).
	Host string
	// Port is the TCP port (0: 22).
	Port int
	// User is the login name (empty: the current local user).
	User string
	// KeyFiles are private key files to offer. When empty, the default
	// identities ~/.ssh/id_ed25519, id_ecdsa and id_rsa that exist are
	// tried, and ssh-agent is used when SSH_AUTH_SOCK is set.
	// Passphrase-protected keys must be loaded into ssh-agent instead.
	KeyFiles []string
	// UseAgent offers the keys held by the ssh-agent at SSH_AUTH_SOCK even
	// when KeyFiles are given.
	UseAgent bool
	// Password, when set, is tried after public keys.
	Password string
	// KnownHostsFiles are OpenSSH known_hosts files (empty:
	// ~/.ssh/known_hosts). Files that do not exist are skipped.
	KnownHostsFiles []string
	// InsecureIgnoreHostKey accepts any host key. It is the explicit opt-out
	// of host key checking (Ansible's host_key_checking=False).
	InsecureIgnoreHostKey bool
	// ConnectTimeout bounds the TCP connect plus the SSH handshake
	// (0: DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// KeepAliveInterval is how often a connection on which the server has
	// been quiet is probed with a keepalive@openssh.com request (0:
	// DefaultKeepAliveInterval, negative: never). Once the server has sent
	// nothing for KeepAliveCountMax intervals the connection is closed, so
	// that commands on a dead host fail instead of hanging. As with
	// OpenSSH's ServerAliveInterval, any traffic from the server counts.
	KeepAliveInterval time.Duration
	// KeepAliveCountMax is how many quiet intervals are tolerated
	// (0: DefaultKeepAliveCountMax).
	KeepAliveCountMax int
	// Logger receives connection events, with keys host, port and user
	// (nil: discard).
	Logger *slog.Logger
	// Jump, when set, is a bastion (OpenSSH's ProxyJump): the connection to
	// this host is tunnelled through an SSH connection to Jump.
	Jump *Config
}

// withDefaults returns a copy of c with zero fields filled in.
func (c Config) withDefaults() (Config, error) {
	if c.Host == "" {
		return c, errors.New("ssh config: empty host")
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Port < 0 || c.Port > 65535 {
		return c, fmt.Errorf("ssh config %s: invalid port %d", c.Host, c.Port)
	}
	if c.User == "" {
		u, err := user.Current()
		if err != nil {
			return c, fmt.Errorf("ssh config %s: no user given and current user unknown: %w", c.Host, err)
		}
		c.User = u.Username
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.KeepAliveInterval == 0 {
		c.KeepAliveInterval = DefaultKeepAliveInterval
	}
	if c.KeepAliveCountMax <= 0 {
		c.KeepAliveCountMax = DefaultKeepAliveCountMax
	}
	if len(c.KnownHostsFiles) == 0 && !c.InsecureIgnoreHostKey {
		if home, err := os.UserHomeDir(); err == nil {
			c.KnownHostsFiles = []string{filepath.Join(home, ".ssh", "known_hosts")}
		}
	}
	return c, nil
}

// Addr is host:port as dialled and as looked up in known_hosts.
func (c Config) Addr() string {
	port := c.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

// authMethods builds the public key (files, then agent) and password
// methods. The returned closer releases the agent connection.
func (c Config) authMethods(ctx context.Context) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	keyFiles, explicit := c.KeyFiles, len(c.KeyFiles) > 0
	if !explicit {
		keyFiles = defaultIdentities()
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	useAgent := sock != "" && (c.UseAgent || !explicit)
	for _, f := range keyFiles {
		s, err := loadKey(f)
		if err != nil {
			var ppErr *ssh.PassphraseMissingError
			if !explicit || (useAgent && errors.As(err, &ppErr)) {
				continue // default identities are best effort; the agent may hold it
			}
			return nil, func() {}, fmt.Errorf("ssh %s@%s: %w", c.User, c.Host, err)
		}
		signers = append(signers, s)
	}
	closer := func() {}
	if useAgent {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", sock)
		if err == nil {
			closer = func() { conn.Close() }
			if as, err := agent.NewClient(conn).Signers(); err == nil {
				signers = append(signers, as...)
			}
		} else if c.UseAgent && len(signers) == 0 {
			return nil, closer, fmt.Errorf("ssh %s@%s: ssh-agent at %s: %w", c.User, c.Host, sock, err)
		}
	}
	var methods []ssh.AuthMethod
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if c.Password != "" {
		methods = append(methods, ssh.Password(c.Password))
	}
	if len(methods) == 0 {
		closer()
		return nil, func() {}, fmt.Errorf("ssh %s@%s: %w: no usable key file, ssh-agent key or password", c.User, c.Host, ErrAuth)
	}
	return methods, closer, nil
}

func defaultIdentities() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		p := filepath.Join(home, ".ssh", n)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func loadKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		var ppErr *ssh.PassphraseMissingError
		if errors.As(err, &ppErr) {
			return nil, fmt.Errorf("key file %s is passphrase-protected; load it into ssh-agent: %w", path, err)
		}
		return nil, fmt.Errorf("parse key file %s: %w", path, err)
	}
	return s, nil
}
