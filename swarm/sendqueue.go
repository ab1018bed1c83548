package swarm

import (
	"net"

	"golang.org/x/sys/unix"
)

// unsentLimit caps the bytes a socket of the swarm holds that TCP has not
// put on the wire yet (TCP_NOTSENT_LOWAT). Without it the kernel grows a
// socket's send buffer to megabytes, and everything written waits behind
// it in order: at 50 hosts a peer held 0.3-1.5 MB unsent over its 3 to 14
// connections, up to a second of its uplink. A fresh piece could wait that
// long at every hop, and so could each request a peer sent, since requests
// share the connection with the pieces going the same way. With the limit
// the library keeps what is not yet sent, where requests go first and
// cancelled pieces are dropped (docs/benchmarks.md, tenth session).
const unsentLimit = 16 << 10

// limitUnsent sets unsentLimit on a socket. Failure (an old kernel) only
// costs the latency above, so it is ignored.
func limitUnsent(fd uintptr) {
	_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, unsentLimit)
}

// LimitUnsent returns l with unsentLimit set on every connection it
// accepts: Linux does not pass the option from a listener to the sockets
// it accepts. Connections that are not TCP pass through unchanged.
func LimitUnsent(l net.Listener) net.Listener { return unsentListener{l} }

type unsentListener struct{ net.Listener }

func (l unsentListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		if raw, rerr := tc.SyscallConn(); rerr == nil {
			_ = raw.Control(limitUnsent)
		}
	}
	return c, err
}
