package swarm

import (
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// socketCongestion reads a connection's TCP congestion-control algorithm.
func socketCongestion(t *testing.T, c net.Conn) string {
	algo := sockopt(t, c, "TCP_CONGESTION", func(fd int) (string, error) {
		return unix.GetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION)
	})
	return strings.TrimRight(algo, "\x00")
}

// sockopt reads one option of a TCP connection's socket with get.
func sockopt[T any](t *testing.T, c net.Conn, name string, get func(fd int) (T, error)) T {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v T
	var gerr error
	if err := raw.Control(func(fd uintptr) { v, gerr = get(int(fd)) }); err != nil || gerr != nil {
		t.Fatalf("getsockopt %s: %v %v", name, err, gerr)
	}
	return v
}

// otherCongestion returns an algorithm this process may set that is not
// the host's default, so that a test can tell "set" from "inherited".
func otherCongestion(t *testing.T) (def, other string) {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile("/proc/sys/net/ipv4/" + name)
		if err != nil {
			t.Skipf("no %s: %v", name, err)
		}
		return strings.TrimSpace(string(b))
	}
	def = read("tcp_congestion_control")
	allowed := strings.Fields(read("tcp_available_congestion_control"))
	if os.Geteuid() != 0 {
		allowed = strings.Fields(read("tcp_allowed_congestion_control"))
	}
	for _, a := range allowed {
		if a != def {
			return def, a
		}
	}
	t.Skipf("only %v is available: nothing to switch to", allowed)
	return
}

// The peer's listener and dialer both carry the chosen algorithm: the
// first of the list the kernel accepts, skipping unknown ones.
func TestPeerSocketsSetCongestion(t *testing.T) {
	def, other := otherCongestion(t)
	out, in := peerSocketPair(t, []string{"no-such-algo", other, def})
	if got := socketCongestion(t, out); got != other {
		t.Errorf("dialled socket uses %q, want %q (host default %q)", got, other, def)
	}
	if got := socketCongestion(t, in); got != other {
		t.Errorf("accepted socket uses %q, want %q (host default %q)", got, other, def)
	}
}

// peerSocketPair connects a peerSockets dialer to its listener and
// returns both ends, closed when the test ends.
func peerSocketPair(t *testing.T, algos []string) (out, in net.Conn) {
	t.Helper()
	ln, dialer, err := peerSockets(net.ParseIP("127.0.0.1"), 0, algos)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	out, err = dialer.Dial(t.Context(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	in, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { in.Close() })
	return out, in
}

// With no list, or none of it accepted, sockets keep the host's default
// and nothing fails.
func TestPeerSocketsKeepDefaultCongestion(t *testing.T) {
	def, _ := otherCongestion(t)
	for _, algos := range [][]string{nil, {"no-such-algo"}} {
		ln, dialer, err := peerSockets(net.ParseIP("127.0.0.1"), 0, algos)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			if c, err := ln.Accept(); err == nil {
				c.Close()
			}
		}()
		out, err := dialer.Dial(t.Context(), ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if got := socketCongestion(t, out); got != def {
			t.Errorf("%v: socket uses %q, want the default %q", algos, got, def)
		}
		out.Close()
		ln.Close()
	}
}

func TestValidCongestionName(t *testing.T) {
	for _, ok := range []string{"cubic", "reno", "bbr", "dctcp", "tcp-nv", "cdg"} {
		if !ValidCongestionName(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "CUBIC", "cu bic", "a;b", "0123456789abcdef", "../x"} {
		if ValidCongestionName(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
