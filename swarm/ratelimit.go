package swarm

import (
	"context"
	"net"

	"golang.org/x/time/rate"
)

// limitedListener caps the total bytes per second written to all the
// connections it accepts: the seeder's uplink. (The library's own upload
// limiter stalled peers in tests, so the cap sits on the sockets.)
type limitedListener struct {
	net.Listener
	lim *rate.Limiter
}

func newLimitedListener(l net.Listener, bytesPerSec int64) net.Listener {
	burst := int(min(max(bytesPerSec/10, 16<<10), 1<<20))
	return &limitedListener{Listener: l, lim: rate.NewLimiter(rate.Limit(bytesPerSec), burst)}
}

func (l *limitedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &limitedConn{Conn: c, lim: l.lim}, nil
}

type limitedConn struct {
	net.Conn
	lim *rate.Limiter
}

func (c *limitedConn) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		n := min(len(b), c.lim.Burst())
		if err := c.lim.WaitN(context.Background(), n); err != nil {
			return written, err
		}
		w, err := c.Conn.Write(b[:n])
		written += w
		if err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}
