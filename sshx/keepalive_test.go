package sshx

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// linkProxy forwards TCP to target. Frozen, it swallows everything in both
// directions while keeping the connection open, as a host whose link went
// dead does. Stalled, it stops reading what the client sends while the
// server's traffic still flows back, as a saturated uplink with a deep send
// buffer holds a keepalive probe behind earlier data.
type linkProxy struct {
	ln      net.Listener
	frozen  atomic.Bool
	stalled atomic.Bool
}

func newLinkProxy(t *testing.T, target string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go p.pipe(s, c, &p.stalled)
			go p.pipe(c, s, nil)
		}
	}()
	return p
}

// pipe copies src to dst; while *stall is set it stops reading src.
func (p *linkProxy) pipe(dst io.Writer, src io.Reader, stall *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		for stall != nil && stall.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if !p.frozen.Load() {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

// dialThrough dials the fixture's server through p with a keepalive that
// gives up after three quiet intervals.
func dialThrough(t *testing.T, f *fixture, p *linkProxy, interval time.Duration) *Client {
	t.Helper()
	cfg := f.cfg
	cfg.Port = p.ln.Addr().(*net.TCPAddr).Port
	cfg.KeepAliveInterval = interval
	cfg.KeepAliveCountMax = 3
	cfg.InsecureIgnoreHostKey = true // known_hosts names the server's port, not the proxy's
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestKeepAliveDetectsDeadLink(t *testing.T) {
	f := newFixture(t)
	p := newLinkProxy(t, f.srv.Addr().String())
	c := dialThrough(t, f, p, 100*time.Millisecond)
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), "echo up; sleep 30", nil, writerFunc(func(b []byte) (int, error) {
			close(started)
			return len(b), nil
		}), nil)
		done <- err
	}()
	<-started
	p.frozen.Store(true)
	start := time.Now()
	select {
	case err := <-done:
		if !IsUnreachable(err) {
			t.Errorf("Run error = %v, want unreachable", err)
		}
		t.Logf("dead link detected after %v: %v", time.Since(start), err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run hung on a dead link")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// TestKeepAliveCountsServerTraffic holds the client's probes back for
// longer than the keepalive timeout while the server keeps sending: the
// connection must survive, since the server is plainly alive.
func TestKeepAliveCountsServerTraffic(t *testing.T) {
	f := newFixture(t)
	p := newLinkProxy(t, f.srv.Addr().String())
	// 750 ms without a word from the server closes the connection: wide
	// enough for a loaded CI machine, as the server writes every 50 ms.
	c := dialThrough(t, f, p, 250*time.Millisecond)
	var lines atomic.Int64
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), "i=0; while [ $i -lt 80 ]; do echo x; sleep 0.05; i=$((i+1)); done", nil,
			writerFunc(func(b []byte) (int, error) {
				if lines.Add(1) == 1 {
					close(started)
				}
				return len(b), nil
			}), nil)
		done <- err
	}()
	<-started
	p.stalled.Store(true) // 2.5 s: more than three times the 750 ms timeout
	time.Sleep(2500 * time.Millisecond)
	p.stalled.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run failed while the server kept talking: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not finish")
	}
	if n := lines.Load(); n < 40 {
		t.Errorf("got %d output writes, want the command's output to keep flowing", n)
	}
}
