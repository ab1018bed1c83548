package sshx

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Client is one SSH connection to a host. It is safe for concurrent use:
// every Run opens its own session, and file operations share one lazily
// opened SFTP session.
type Client struct {
	cfg  Config
	conn *ssh.Client
	jump *Client // the bastion connection, closed with this one
	log  *slog.Logger

	sftpMu sync.Mutex
	sftp   *sftp.Client

	closeOnce sync.Once
	done      chan struct{} // closed by Close
	dead      chan struct{} // closed when the connection is gone
	// lastRead is when the server last sent us anything (unix nanoseconds).
	lastRead *atomic.Int64
}

// Dial connects to cfg's host (through cfg.Jump when set), verifies its host
// key and logs in. See the package comment for how its errors classify.
// The context bounds the connection set-up only; cfg.ConnectTimeout bounds
// it too.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := c.Logger.With("host", c.Host, "port", c.Port, "user", c.User)
	hk, err := newHostKeyCheck(c)
	if err != nil {
		return nil, fmt.Errorf("ssh connect %s@%s: %w", c.User, c.Addr(), err)
	}
	methods, closeAgent, err := c.authMethods(ctx)
	if err != nil {
		return nil, err
	}
	defer closeAgent()

	hctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout)
	defer cancel()
	var jump *Client
	var conn net.Conn
	if c.Jump != nil {
		j := *c.Jump
		if j.Logger == nil {
			j.Logger = c.Logger
		}
		jump, err = Dial(hctx, j)
		if err != nil {
			return nil, fmt.Errorf("ssh connect %s@%s via jump host %s: %w", c.User, c.Addr(), c.Jump.Addr(), err)
		}
		conn, err = jump.conn.DialContext(hctx, "tcp", c.Addr())
	} else {
		var d net.Dialer
		conn, err = d.DialContext(hctx, "tcp", c.Addr())
	}
	if err != nil {
		if jump != nil {
			jump.Close()
		}
		return nil, classifyDial(ctx, c, err)
	}
	ac := &activityConn{Conn: conn}
	ac.lastRead.Store(time.Now().UnixNano())
	conn = ac
	// Abort the handshake when the context ends or the timeout passes.
	stop := context.AfterFunc(hctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, c.Addr(), &ssh.ClientConfig{
		User:              c.User,
		Auth:              methods,
		HostKeyCallback:   hk.callback,
		HostKeyAlgorithms: hk.algorithms,
		Timeout:           c.ConnectTimeout,
	})
	if !stop() && err == nil {
		sc.Close()
		err = hctx.Err()
	}
	if err != nil {
		conn.Close()
		if jump != nil {
			jump.Close()
		}
		return nil, classifyHandshake(ctx, c, err)
	}
	cl := &Client{cfg: c, conn: ssh.NewClient(sc, chans, reqs), jump: jump, log: log,
		done: make(chan struct{}), dead: make(chan struct{}), lastRead: &ac.lastRead}
	go func() {
		cl.conn.Wait()
		close(cl.dead)
	}()
	log.Debug("ssh connected", "server_version", string(sc.ServerVersion()))
	if c.KeepAliveInterval > 0 {
		go cl.keepAlive(c.KeepAliveInterval, c.KeepAliveCountMax)
	}
	return cl, nil
}

// activityConn records when the server last sent anything.
type activityConn struct {
	net.Conn
	lastRead atomic.Int64
}

func (c *activityConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// keepAlive closes the connection once the server has sent nothing for
// interval × countMax, so that sessions on a dead host fail instead of
// hanging. A server that went quiet for an interval is probed with a
// keepalive@openssh.com request, whose reply counts as traffic.
//
// As OpenSSH's ServerAliveInterval, any traffic from the server proves it
// alive, not only a probe's reply. While a push fills a slow uplink, a
// probe waits behind megabytes of our own data in the socket's send
// buffer; waiting for its reply alone declared healthy hosts dead
// ("connection lost" in the first-contact push at 10 Mbit/s).
func (c *Client) keepAlive(interval time.Duration, countMax int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	probing := make(chan struct{}, 1) // one probe in flight at most
	for {
		select {
		case <-c.done:
			return
		case <-c.dead:
			return
		case <-t.C:
		}
		quiet := time.Since(time.Unix(0, c.lastRead.Load()))
		if quiet >= interval*time.Duration(countMax) {
			c.log.Warn("ssh keepalive timed out; closing connection", "timeout", interval*time.Duration(countMax))
			c.conn.Close()
			return
		}
		if quiet < interval {
			continue
		}
		select {
		case probing <- struct{}{}:
			go func() {
				defer func() { <-probing }()
				c.conn.SendRequest("keepalive@openssh.com", true, nil)
			}()
		default: // the last probe is still on its way
		}
	}
}

// Config returns the configuration the client was dialled with, defaults
// filled in.
func (c *Client) Config() Config { return c.cfg }

// LocalAddr is the local address of the TCP connection to the host: the
// address the host sees us as. With a Jump host the target is reached through
// a tunnel, the host sees the jump host instead, and LocalAddr returns an
// unspecified address (0.0.0.0:0); callers must then be told the address.
func (c *Client) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr is the remote address of the TCP connection. With a Jump host
// it is unspecified (0.0.0.0:0), as for LocalAddr.
func (c *Client) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// Jumped reports whether the connection goes through a jump host.
func (c *Client) Jumped() bool { return c.jump != nil }

// Wait blocks until the connection is closed or dies.
func (c *Client) Wait() error { return c.conn.Wait() }

// Close closes the SFTP session, the connection, and the jump connection.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.done)
		c.sftpMu.Lock()
		if c.sftp != nil {
			c.sftp.Close()
			c.sftp = nil
		}
		c.sftpMu.Unlock()
		err = c.conn.Close()
		if c.jump != nil {
			c.jump.Close()
		}
	})
	return err
}

// ListenRemote asks the server to listen on addr (e.g. "127.0.0.1:0") and
// forward each connection to us: a way back from a host that cannot
// route to this machine, such as one behind a jump host.
func (c *Client) ListenRemote(addr string) (net.Listener, error) {
	l, err := c.conn.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("remote listen on %s via %s: %w", addr, c.cfg.Addr(), err)
	}
	return l, nil
}
