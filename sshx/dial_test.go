package sshx

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/murderctl/murderctl/sshx/sshserver"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDialHostKeyChecking(t *testing.T) {
	f := newFixture(t)
	addr := f.srv.Addr().String()
	other, _ := sshserver.NewKeyPair()
	dir := t.TempDir()
	hostKeyLine := sshserver.KnownHostsLine(addr, f.hostKey.Public())

	tests := []struct {
		name     string
		known    string // known_hosts content ("-" for no file at all)
		insecure bool
		check    func(t *testing.T, err error, file string)
	}{
		{name: "known key", known: hostKeyLine + "\n", check: wantOK},
		{name: "hashed entry", known: knownhosts.HashHostname(knownhosts.Normalize(addr)) + " " + f.hostKey.AuthorizedKey() + "\n", check: wantOK},
		{name: "entry for port 22 only is unknown", known: "127.0.0.1 " + f.hostKey.AuthorizedKey() + "\n",
			check: wantIs(ErrHostKeyUnknown)},
		{name: "unknown", known: "# empty\n", check: func(t *testing.T, err error, file string) {
			wantIs(ErrHostKeyUnknown)(t, err, file)
			if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "["+f.cfg.Host+"]:") {
				t.Errorf("message %q should name the host and %s", err, file)
			}
		}},
		{name: "no known_hosts file", known: "-", check: wantIs(ErrHostKeyUnknown)},
		{name: "changed", known: "# line 1\nother.example " + f.hostKey.AuthorizedKey() + "\n" + sshserver.KnownHostsLine(addr, other.Public()) + "\n",
			check: func(t *testing.T, err error, file string) {
				wantIs(ErrHostKeyChanged)(t, err, file)
				msg := err.Error()
				for _, want := range []string{"REMOTE HOST IDENTIFICATION HAS CHANGED", knownhosts.Normalize(addr), file + ":3", "Offending ED25519 key", ssh.FingerprintSHA256(f.hostKey.Public())} {
					if !strings.Contains(msg, want) {
						t.Errorf("message %q lacks %q", msg, want)
					}
				}
				var hk *HostKeyError
				if !errors.As(err, &hk) || len(hk.Known) != 1 || hk.Known[0].Line != 3 || hk.Known[0].Filename != file {
					t.Errorf("HostKeyError = %+v", hk)
				}
			}},
		{name: "revoked", known: "@revoked * " + f.hostKey.AuthorizedKey() + "\n" + hostKeyLine + "\n", check: wantIs(ErrHostKeyRevoked)},
		{name: "insecure opt-out", known: sshserver.KnownHostsLine(addr, other.Public()) + "\n", insecure: true, check: wantOK},
		{name: "malformed known_hosts", known: "[broken\n", check: func(t *testing.T, err error, file string) {
			if err == nil || !strings.Contains(err.Error(), "known_hosts") || IsUnreachable(err) || IsHostKey(err) {
				t.Errorf("err = %v, want a known_hosts read error", err)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, fmt.Sprintf("known_hosts_%d", i))
			if tt.known != "-" {
				writeFile(t, file, tt.known)
			}
			cfg := f.cfg
			cfg.KnownHostsFiles = []string{file}
			cfg.InsecureIgnoreHostKey = tt.insecure
			c, err := Dial(context.Background(), cfg)
			if c != nil {
				defer c.Close()
			}
			tt.check(t, err, file)
		})
	}
}

func wantOK(t *testing.T, err error, _ string) {
	t.Helper()
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
}

func wantIs(target error) func(*testing.T, error, string) {
	return func(t *testing.T, err error, _ string) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Fatalf("Dial error = %v, want %v", err, target)
		}
		if IsUnreachable(err) || IsAuth(err) || !IsHostKey(err) {
			t.Errorf("misclassified: %v", err)
		}
	}
}

// A server with several host keys must be checked against the type that
// known_hosts holds, not reported as changed.
func TestDialPicksKnownKeyType(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, _ := ssh.NewSignerFromKey(ec)
	f := newFixture(t, func(o *sshserver.Options) { o.ExtraHostKeys = []ssh.Signer{ecSigner} })
	for _, tc := range []struct {
		name string
		key  ssh.PublicKey
	}{{"ed25519 known", f.hostKey.Public()}, {"ecdsa known", ecSigner.PublicKey()}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.cfg
			cfg.KnownHostsFiles = []string{filepath.Join(t.TempDir(), "kh")}
			writeFile(t, cfg.KnownHostsFiles[0], sshserver.KnownHostsLine(f.srv.Addr().String(), tc.key)+"\n")
			c, err := Dial(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		})
	}
}

func TestDialAuthFailures(t *testing.T) {
	f := newFixture(t)
	wrong, _ := sshserver.NewKeyPair()
	wrongFile := filepath.Join(t.TempDir(), "wrong")
	wrong.WritePrivateKey(wrongFile)
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"wrong key", func(c *Config) { c.KeyFiles = []string{wrongFile} }},
		{"wrong user", func(c *Config) { c.User = "mallory" }},
		{"wrong password only", func(c *Config) { c.KeyFiles = []string{wrongFile}; c.Password = "guess" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := f.cfg
			tt.mod(&cfg)
			_, err := Dial(context.Background(), cfg)
			if !IsAuth(err) || IsUnreachable(err) || IsHostKey(err) {
				t.Fatalf("Dial error = %v, want an auth error only", err)
			}
			if want := cfg.User + "@" + f.srv.Addr().String(); !strings.Contains(err.Error(), want) {
				t.Errorf("message %q should name %s", err, want)
			}
		})
	}
	t.Run("missing key file", func(t *testing.T) {
		cfg := f.cfg
		cfg.KeyFiles = []string{filepath.Join(t.TempDir(), "nope")}
		_, err := Dial(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "nope") || IsUnreachable(err) {
			t.Fatalf("Dial error = %v", err)
		}
	})
}

func TestDialUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	// A port that accepts but never speaks SSH.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	f := newFixture(t)
	tests := []struct {
		name string
		port int
	}{
		{"refused", closedAddr.Port},
		{"handshake timeout", mute.Addr().(*net.TCPAddr).Port},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := f.cfg
			cfg.Port = tt.port
			cfg.ConnectTimeout = 300 * time.Millisecond
			start := time.Now()
			_, err := Dial(context.Background(), cfg)
			if !IsUnreachable(err) || IsAuth(err) {
				t.Fatalf("Dial error = %v, want unreachable", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v despite a 300ms timeout", d)
			}
		})
	}
	t.Run("cancelled context is not unreachable", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		cfg := f.cfg
		cfg.Port = mute.Addr().(*net.TCPAddr).Port
		_, err := Dial(ctx, cfg)
		if !errors.Is(err, context.Canceled) || IsUnreachable(err) {
			t.Fatalf("Dial error = %v", err)
		}
	})
}

func TestDialJump(t *testing.T) {
	target := newFixture(t)
	jump := newFixture(t, func(o *sshserver.Options) { o.AllowTCPForwarding = true })
	noFwd := newFixture(t)
	// One known_hosts file for both, as a user would have.
	both := filepath.Join(t.TempDir(), "known_hosts")
	sshserver.AppendKnownHost(both, target.srv.Addr().String(), target.hostKey.Public())
	sshserver.AppendKnownHost(both, jump.srv.Addr().String(), jump.hostKey.Public())
	sshserver.AppendKnownHost(both, noFwd.srv.Addr().String(), noFwd.hostKey.Public())

	cfg := target.cfg
	cfg.KnownHostsFiles = []string{both}
	// The jump host authorizes its own fixture's key.
	j := jump.cfg
	j.KnownHostsFiles = []string{both}
	cfg.Jump = &j
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial via jump: %v", err)
	}
	defer c.Close()
	var out strings.Builder
	if code, err := c.Run(context.Background(), "pwd", nil, &out, nil); err != nil || code != 0 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if strings.TrimSpace(out.String()) != target.home {
		t.Errorf("ran in %q, want the target's home %q", out.String(), target.home)
	}
	if !c.Jumped() || !c.LocalAddr().(*net.TCPAddr).IP.IsUnspecified() {
		t.Errorf("Jumped=%v LocalAddr=%v", c.Jumped(), c.LocalAddr())
	}

	n := noFwd.cfg
	n.KnownHostsFiles = []string{both}
	cfg.Jump = &n
	if _, err := Dial(context.Background(), cfg); !IsUnreachable(err) || !strings.Contains(err.Error(), "prohibited") {
		t.Errorf("Dial via a jump host that forbids forwarding = %v", err)
	}
}

func TestLocalAddr(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	la, ok := c.LocalAddr().(*net.TCPAddr)
	if !ok || !la.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("LocalAddr = %v", c.LocalAddr())
	}
	if c.RemoteAddr().String() != f.srv.Addr().String() {
		t.Errorf("RemoteAddr = %v, want %v", c.RemoteAddr(), f.srv.Addr())
	}
}
