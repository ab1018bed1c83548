package swarm

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// socketUnsentLimit reads a connection's TCP_NOTSENT_LOWAT.
func socketUnsentLimit(t *testing.T, c net.Conn) int {
	return sockopt(t, c, "TCP_NOTSENT_LOWAT", func(fd int) (int, error) {
		return unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	})
}

// Both ends of a peer connection hold at most unsentLimit unsent bytes:
// the dialled socket through the dialer's hook, the accepted one through
// the listener, since Linux does not copy the option on accept.
func TestPeerSocketsLimitUnsent(t *testing.T) {
	out, in := peerSocketPair(t, nil)
	if got := socketUnsentLimit(t, out); got != unsentLimit {
		t.Errorf("dialled socket: unsent limit %d, want %d", got, unsentLimit)
	}
	if got := socketUnsentLimit(t, in); got != unsentLimit {
		t.Errorf("accepted socket: unsent limit %d, want %d", got, unsentLimit)
	}
}

// LimitUnsent applies to a plain listener's connections (the origin's) and
// lets a connection that is not TCP through untouched.
func TestLimitUnsentListener(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitUnsent(raw)
	defer ln.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			defer c.Close()
			c.Read(make([]byte, 1))
		}
	}()
	in, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got := socketUnsentLimit(t, in); got != unsentLimit {
		t.Errorf("accepted socket: unsent limit %d, want %d", got, unsentLimit)
	}
	in.Close()

	a, b := net.Pipe()
	defer b.Close()
	c, err := LimitUnsent(&oneConnListener{c: a}).Accept()
	if err != nil || c != a {
		t.Fatalf("pipe: got %v, %v; want the pipe back", c, err)
	}
	a.Close()
}

type oneConnListener struct{ c net.Conn }

func (l *oneConnListener) Accept() (net.Conn, error) { return l.c, nil }
func (l *oneConnListener) Close() error              { return nil }
func (l *oneConnListener) Addr() net.Addr            { return l.c.LocalAddr() }
