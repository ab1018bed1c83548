// Package sshserver is a small in-process SSH and SFTP server. It backs the
// `murderctl demo` fleet and the tests that must run without root: each
// Server plays one host, with its own address and home directory.
//
// It supports public-key login against a fixed list of keys, "exec"
// requests (run with /bin/sh -c in the home directory, stdin/stdout/stderr
// wired to the channel, exit status or signal reported, "signal" requests
// forwarded), the "sftp" subsystem (github.com/pkg/sftp, relative paths
// resolved against the home directory), and, when enabled, direct-tcpip
// forwarding so it can serve as a jump host.
//
// It is not a sandbox: commands and SFTP run as the calling user and may reach
// any path that user can. Every process a session starts gets its own
// process group, killed when the session closes or the server stops.
package sshserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options configure a Server.
type Options struct {
	// Addr is the listen address, for example "127.0.0.5:0".
	Addr string
	// HostKey is the server's host key (required).
	HostKey ssh.Signer
	// ExtraHostKeys are further host keys of other types, as a real sshd
	// holds ed25519, ecdsa and rsa keys at once.
	ExtraHostKeys []ssh.Signer
	// AuthorizedKeys are the public keys allowed to log in (at least one).
	AuthorizedKeys []ssh.PublicKey
	// User, when set, is the only user name accepted.
	User string
	// Home is the host's private directory: the working directory and HOME
	// of commands, and the base of relative SFTP paths. It must exist.
	Home string
	// Env is added to the environment of commands (after HOME, USER, PATH).
	Env []string
	// AllowTCPForwarding enables direct-tcpip channels (jump host use).
	AllowTCPForwarding bool
	// Logger receives connection and session events (nil: discard).
	Logger *slog.Logger
}

// Server is a running SSH server.
type Server struct {
	opts Options
	cfg  *ssh.ServerConfig
	ln   net.Listener
	log  *slog.Logger

	mu     sync.Mutex
	closed bool
	conns  map[*ssh.ServerConn]struct{}
	groups map[int]struct{} // process group ids of running commands
	wg     sync.WaitGroup
	stop   func() bool
}

// Start validates opts, listens, and serves until Close or until ctx ends.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.HostKey == nil {
		return nil, errors.New("sshserver: no host key")
	}
	if len(opts.AuthorizedKeys) == 0 {
		return nil, errors.New("sshserver: no authorized keys")
	}
	home, err := filepath.Abs(opts.Home)
	if err != nil || opts.Home == "" {
		return nil, fmt.Errorf("sshserver: home %q: invalid path", opts.Home)
	}
	if fi, err := os.Stat(home); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("sshserver: home %s is not a directory", home)
	}
	opts.Home = home
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, conns: map[*ssh.ServerConn]struct{}{}, groups: map[int]struct{}{}}
	s.cfg = &ssh.ServerConfig{PublicKeyCallback: s.checkKey}
	s.cfg.AddHostKey(opts.HostKey)
	for _, k := range opts.ExtraHostKeys {
		s.cfg.AddHostKey(k)
	}
	var lc net.ListenConfig
	s.ln, err = lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("sshserver: listen %s: %w", opts.Addr, err)
	}
	s.log = opts.Logger.With("addr", s.ln.Addr().String())
	s.stop = context.AfterFunc(ctx, func() { s.Close() })
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Home is the server's home directory (absolute).
func (s *Server) Home() string { return s.opts.Home }

// Close stops listening, drops every connection, kills every process group
// the server started, and waits for its goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	for g := range s.groups {
		syscall.Kill(-g, syscall.SIGKILL)
	}
	s.mu.Unlock()
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	return err
}

func (s *Server) checkKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if s.opts.User != "" && meta.User() != s.opts.User {
		return nil, fmt.Errorf("user %q not allowed", meta.User())
	}
	for _, k := range s.opts.AuthorizedKeys {
		if keysEqual(k, key) {
			return &ssh.Permissions{Extensions: map[string]string{"pubkey-fp": ssh.FingerprintSHA256(key)}}, nil
		}
	}
	return nil, errors.New("key not authorized")
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("sshserver accept", "err", err)
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(nc)
		}()
	}
}

func (s *Server) serveConn(nc net.Conn) {
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.cfg)
	if err != nil {
		s.log.Debug("sshserver handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
		nc.Close()
		return
	}
	nc.SetDeadline(time.Time{})
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sc.Close()
		return
	}
	s.conns[sc] = struct{}{}
	s.mu.Unlock()
	log := s.log.With("user", sc.User(), "remote", sc.RemoteAddr().String())
	log.Debug("sshserver login", "key", sc.Permissions.Extensions["pubkey-fp"])
	defer func() {
		s.mu.Lock()
		delete(s.conns, sc)
		s.mu.Unlock()
		sc.Close()
	}()
	go ssh.DiscardRequests(reqs) // keepalives get a (negative) reply
	var chWG sync.WaitGroup
	connDone := make(chan struct{})
	defer chWG.Wait()
	defer close(connDone)
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			chWG.Add(1)
			go func() {
				defer chWG.Done()
				s.serveSession(nch, log)
			}()
		case "direct-tcpip":
			if !s.opts.AllowTCPForwarding {
				nch.Reject(ssh.Prohibited, "port forwarding is disabled")
				continue
			}
			chWG.Add(1)
			go func() {
				defer chWG.Done()
				s.forward(nch, connDone, log)
			}()
		default:
			nch.Reject(ssh.UnknownChannelType, "unsupported channel type")
		}
	}
}

func (s *Server) addGroup(pgid int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.groups[pgid] = struct{}{}
	return true
}

func (s *Server) dropGroup(pgid int) {
	s.mu.Lock()
	delete(s.groups, pgid)
	s.mu.Unlock()
}

func keysEqual(a, b ssh.PublicKey) bool {
	return a.Type() == b.Type() && string(a.Marshal()) == string(b.Marshal())
}
