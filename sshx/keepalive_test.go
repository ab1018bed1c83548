package sshx

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// freezingProxy forwards TCP to target until frozen; then it swallows
// everything in both directions while keeping the connection open, as a host
// whose link went dead does.
type freezingProxy struct {
	ln     net.Listener
	frozen atomic.Bool
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{ln: ln}
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
			go p.pipe(s, c)
			go p.pipe(c, s)
		}
	}()
	return p
}

func (p *freezingProxy) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
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

func TestKeepAliveDetectsDeadLink(t *testing.T) {
	f := newFixture(t)
	p := newFreezingProxy(t, f.srv.Addr().String())
	cfg := f.cfg
	cfg.Port = p.ln.Addr().(*net.TCPAddr).Port
	cfg.KeepAliveInterval = 100 * time.Millisecond
	cfg.KeepAliveCountMax = 3
	cfg.InsecureIgnoreHostKey = true // known_hosts names the server's port, not the proxy's
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
