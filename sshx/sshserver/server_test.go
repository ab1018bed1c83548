package sshserver_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/murderctl/murderctl/sshx"
	"github.com/murderctl/murderctl/sshx/sshserver"
	"golang.org/x/crypto/ssh"
)

type host struct {
	srv  *sshserver.Server
	home string
	cfg  sshx.Config
	user *sshserver.KeyPair
}

func startHost(t *testing.T, env ...string) *host {
	t.Helper()
	t.Setenv("SSH_AUTH_SOCK", "")
	dir := t.TempDir()
	h := &host{home: filepath.Join(dir, "home")}
	os.Mkdir(h.home, 0o755)
	hk, _ := sshserver.NewKeyPair()
	h.user, _ = sshserver.NewKeyPair()
	keyFile := filepath.Join(dir, "id")
	if err := h.user.WritePrivateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	var err error
	h.srv, err = sshserver.Start(context.Background(), sshserver.Options{
		Addr: "127.0.0.1:0", HostKey: hk.Signer, AuthorizedKeys: []ssh.PublicKey{h.user.Public()},
		Home: h.home, Env: env,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.srv.Close() })
	known := filepath.Join(dir, "known_hosts")
	if err := sshserver.AppendKnownHost(known, h.srv.Addr().String(), hk.Public()); err != nil {
		t.Fatal(err)
	}
	a := h.srv.Addr().(*net.TCPAddr)
	h.cfg = sshx.Config{Host: a.IP.String(), Port: a.Port, User: "anyone", KeyFiles: []string{keyFile}, KnownHostsFiles: []string{known}}
	return h
}

func (h *host) dial(t *testing.T) *sshx.Client {
	t.Helper()
	c, err := sshx.Dial(context.Background(), h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestStartValidation(t *testing.T) {
	k, _ := sshserver.NewKeyPair()
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o600)
	good := sshserver.Options{Addr: "127.0.0.1:0", HostKey: k.Signer, AuthorizedKeys: []ssh.PublicKey{k.Public()}, Home: dir}
	tests := []struct {
		name    string
		mod     func(*sshserver.Options)
		wantErr string
	}{
		{"no host key", func(o *sshserver.Options) { o.HostKey = nil }, "no host key"},
		{"no authorized keys", func(o *sshserver.Options) { o.AuthorizedKeys = nil }, "no authorized keys"},
		{"no home", func(o *sshserver.Options) { o.Home = "" }, "home"},
		{"home missing", func(o *sshserver.Options) { o.Home = filepath.Join(dir, "nope") }, "not a directory"},
		{"home is a file", func(o *sshserver.Options) { o.Home = file }, "not a directory"},
		{"bad address", func(o *sshserver.Options) { o.Addr = "300.1.1.1:0" }, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.mod(&o)
			s, err := sshserver.Start(context.Background(), o)
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Start error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	h := startHost(t, "MURDER_TEST=a b")
	c := h.dial(t)
	var out bytes.Buffer
	if code, err := c.Run(context.Background(), `printf '%s|%s|%s' "$HOME" "$PWD" "$MURDER_TEST"`, nil, &out, nil); err != nil || code != 0 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if want := h.home + "|" + h.home + "|a b"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func pidAlive(pid int) bool { return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

func waitPIDFile(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !pidAlive(pid) {
			return
		}
	}
	t.Errorf("process %d survived", pid)
}

func TestNoOrphans(t *testing.T) {
	t.Run("background child dies with its session", func(t *testing.T) {
		h := startHost(t)
		c := h.dial(t)
		code, err := c.Run(context.Background(), "sleep 60 >/dev/null 2>&1 </dev/null & echo $! > bg", nil, nil, nil)
		if err != nil || code != 0 {
			t.Fatalf("Run = %d, %v", code, err)
		}
		waitDead(t, waitPIDFile(t, filepath.Join(h.home, "bg")))
	})
	t.Run("server close kills running commands", func(t *testing.T) {
		h := startHost(t)
		c := h.dial(t)
		done := make(chan error, 1)
		go func() {
			_, err := c.Run(context.Background(), "sleep 61 >/dev/null & echo $! > bg; echo $$ > fg; wait", nil, nil, nil)
			done <- err
		}()
		bg := waitPIDFile(t, filepath.Join(h.home, "bg"))
		fg := waitPIDFile(t, filepath.Join(h.home, "fg"))
		h.srv.Close()
		if err := <-done; err == nil {
			t.Error("Run succeeded although the server closed")
		}
		waitDead(t, bg)
		waitDead(t, fg)
	})
}

func TestRefusedRequests(t *testing.T) {
	h := startHost(t)
	k, _ := ssh.ParsePrivateKey(must(h.user.PrivateKeyPEM()))
	conn, err := ssh.Dial("tcp", h.srv.Addr().String(), &ssh.ClientConfig{
		User: "x", Auth: []ssh.AuthMethod{ssh.PublicKeys(k)}, HostKeyCallback: ssh.InsecureIgnoreHostKey(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tests := []struct {
		name string
		do   func(*ssh.Session) error
	}{
		{"pty", func(s *ssh.Session) error { return s.RequestPty("xterm", 24, 80, nil) }},
		{"shell", func(s *ssh.Session) error { return s.Shell() }},
		{"env", func(s *ssh.Session) error { return s.Setenv("LD_PRELOAD", "/evil.so") }},
		{"other subsystem", func(s *ssh.Session) error { return s.RequestSubsystem("netconf") }},
		{"second exec", func(s *ssh.Session) error {
			if err := s.Start("sleep 1"); err != nil {
				return nil // the first must succeed; report "not refused"
			}
			return s.Start("true")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := conn.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := tt.do(s); err == nil {
				t.Errorf("%s request was accepted", tt.name)
			}
		})
	}
	if _, err := conn.Dial("tcp", h.srv.Addr().String()); err == nil {
		t.Error("port forwarding accepted by default")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestKeys(t *testing.T) {
	k, err := sshserver.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ addr, prefix string }{
		{"10.0.0.1:22", "10.0.0.1 ssh-ed25519 "},
		{"127.0.0.5:2222", "[127.0.0.5]:2222 ssh-ed25519 "},
		{"host.example:22", "host.example ssh-ed25519 "},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if l := sshserver.KnownHostsLine(tt.addr, k.Public()); !strings.HasPrefix(l, tt.prefix) {
				t.Errorf("KnownHostsLine = %q, want prefix %q", l, tt.prefix)
			}
		})
	}
	p := filepath.Join(t.TempDir(), "d", "id")
	if err := k.WritePrivateKey(p); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	b, _ := os.ReadFile(p)
	s, err := ssh.ParsePrivateKey(b)
	if err != nil || fi.Mode().Perm() != 0o600 || !bytes.Equal(s.PublicKey().Marshal(), k.Public().Marshal()) {
		t.Errorf("written key: mode %v, err %v", fi.Mode().Perm(), err)
	}
}
