package orchestrator

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
)

// remoteListener is implemented by connections that can listen on the
// host's side and forward to us (sshx.Client).
type remoteListener interface {
	Jumped() bool
	ListenRemote(addr string) (net.Listener, error)
}

// tunnel gives a host that cannot route to us (it is reached through a jump
// host) a way to the tracker and origin: a listener on the host's loopback,
// forwarded over its SSH connection to our HTTP listener. It returns the
// address the host should use, or "" when no tunnel is needed or possible.
func (h *hostRun) tunnel(ctx context.Context) (string, error) {
	rl, ok := h.conn.(remoteListener)
	if !ok || !rl.Jumped() {
		return "", nil
	}
	ln, err := rl.ListenRemote("127.0.0.1:0")
	if err != nil {
		return "", err
	}
	local := net.JoinHostPort(loopbackFor(h.d.opts.BindAddr), strconv.Itoa(h.d.trackerP))
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go func() {
		var dialer net.Dialer
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := dialer.DialContext(ctx, "tcp", local)
				if err != nil {
					h.d.log.Warn("tunnel dial", "host", h.t.Name, "err", err)
					return
				}
				defer up.Close()
				pipe(c, up)
			}()
		}
	}()
	return ln.Addr().String(), nil
}

// loopbackFor is the address we dial our own HTTP listener at.
func loopbackFor(bind string) string {
	if bind == "" || net.ParseIP(bind).IsUnspecified() {
		return "127.0.0.1"
	}
	return bind
}

// pipe copies both ways until either side closes.
func pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		io.Copy(dst, src)
		if tc, ok := dst.(interface{ CloseWrite() error }); ok {
			tc.CloseWrite()
		} else {
			dst.Close()
		}
	}
	go cp(a, b)
	go cp(b, a)
	wg.Wait()
}
