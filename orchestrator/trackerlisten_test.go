package orchestrator

import (
	"log/slog"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// The origin serves pieces through the tracker's listener; its sockets must
// limit their unsent bytes, or the origin's send slots release a piece as
// soon as it is buffered and more pieces than slots share the uplink.
func TestTrackerListenerLimitsUnsent(t *testing.T) {
	d := &deploy{opts: DeployOptions{BindAddr: "127.0.0.1"}, token: "t", log: slog.New(slog.DiscardHandler)}
	l, _, err := d.startTracker()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
			defer c.Close()
			c.Read(make([]byte, 1))
		}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	raw.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT) })
	if gerr != nil || v <= 0 || v > 64<<10 {
		t.Errorf("origin socket: TCP_NOTSENT_LOWAT %d (%v), want a limit of at most 64 KiB", v, gerr)
	}
}
