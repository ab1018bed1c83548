package sshx

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/murderctl/murderctl/sshx/sshserver"
	"golang.org/x/crypto/ssh"
)

// startOpenSSH runs Debian's sshd on 127.0.0.1 with throwaway keys. It needs
// root (sshd logs in as root here) and skips otherwise.
func startOpenSSH(t *testing.T) (cfg Config, dir string, hostKeys []ssh.PublicKey, sshdLog *syncBuffer) {
	t.Helper()
	const sshd = "/usr/sbin/sshd"
	if os.Geteuid() != 0 {
		t.Skip("the OpenSSH conformance test needs root (sshd logs in as root)")
	}
	if _, err := os.Stat(sshd); err != nil {
		t.Skip("sshd not installed (apt-get install openssh-server)")
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	dir = t.TempDir()
	ed, _ := sshserver.NewKeyPair()
	user, _ := sshserver.NewKeyPair()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(ec, "")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "host_ecdsa"), string(pem.EncodeToMemory(blk)))
	ecSigner, _ := ssh.NewSignerFromKey(ec)
	if err := ed.WritePrivateKey(filepath.Join(dir, "host_ed25519")); err != nil {
		t.Fatal(err)
	}
	if err := user.WritePrivateKey(filepath.Join(dir, "id")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "authorized_keys"), user.AuthorizedKey()+"\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %[2]s/host_ed25519
HostKey %[2]s/host_ecdsa
PidFile %[2]s/sshd.pid
AuthorizedKeysFile %[2]s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
`, port, dir)
	writeFile(t, filepath.Join(dir, "sshd_config"), conf)
	os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	stderr := new(syncBuffer)
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// sshd and its per-connection children share the process group.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not start: %s", stderr.String())
		}
	}
	cfg = Config{Host: "127.0.0.1", Port: port, User: "root", KeyFiles: []string{filepath.Join(dir, "id")},
		KnownHostsFiles: []string{filepath.Join(dir, "known_hosts")}}
	return cfg, dir, []ssh.PublicKey{ed.Public(), ecSigner.PublicKey()}, stderr
}

// TestOpenSSH runs the client against a real OpenSSH server: the semantics
// the in-process server imitates must hold there too.
func TestOpenSSH(t *testing.T) {
	cfg, dir, hostKeys, sshdLog := startOpenSSH(t)
	addr := cfg.Addr()
	// known_hosts holds only the ECDSA key: the client must ask for it,
	// although it prefers ed25519.
	writeFile(t, cfg.KnownHostsFiles[0], sshserver.KnownHostsLine(addr, hostKeys[1])+"\n")
	ctx := context.Background()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()

	t.Run("exit codes and streams", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code, err := c.Run(ctx, "echo out; echo err >&2; exit 7", nil, &out, &errOut)
		if err != nil || code != 7 || out.String() != "out\n" || errOut.String() != "err\n" {
			t.Errorf("Run = %d, %v, %q, %q", code, err, out.String(), errOut.String())
		}
		code, err = c.Run(ctx, "kill -KILL $$", nil, nil, nil)
		if err != nil || code != 128+9 {
			t.Errorf("killed: Run = %d, %v", code, err)
		}
	})
	t.Run("stdin EOF", func(t *testing.T) {
		var out bytes.Buffer
		code, err := c.Run(ctx, "cat; echo eof", strings.NewReader("in\n"), &out, nil)
		if err != nil || code != 0 || out.String() != "in\neof\n" {
			t.Errorf("Run = %d, %v, %q", code, err, out.String())
		}
	})
	t.Run("cancel ends a command that reads stdin", func(t *testing.T) {
		// OpenSSH refuses "signal" requests for root logins (no privilege
		// separation after auth), so here only the closed session ends the
		// command: its stdin reaches EOF, as murderctl's peer relies on.
		pidFile := filepath.Join(dir, "pid")
		os.Remove(pidFile)
		pr, pw := io.Pipe()
		defer pw.Close()
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := c.Run(cctx, fmt.Sprintf("echo $$ > %s; exec cat >/dev/null", Quote(pidFile)), pr, nil, nil)
			done <- err
		}()
		pid := readPID(t, pidFile)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run error = %v", err)
		}
		waitGone(t, pid, 3*time.Second)
		t.Logf("remote command gone %v after cancel; sshd said: %s", time.Since(start), strings.TrimSpace(sshdLog.String()))
	})
	t.Run("upload", func(t *testing.T) {
		target := filepath.Join(dir, "up load")
		writeFile(t, target, "old")
		data := bytes.Repeat([]byte("0123456789"), 300000)
		if err := c.Upload(ctx, bytes.NewReader(data), int64(len(data)), target, 0o640); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(target)
		fi, _ := os.Stat(target)
		if !bytes.Equal(got, data) || fi.Mode().Perm() != 0o640 {
			t.Errorf("uploaded %d bytes mode %v", len(got), fi.Mode().Perm())
		}
		if err := c.Upload(ctx, bytes.NewReader(data[:10]), int64(len(data)), target, 0o640); err == nil {
			t.Error("short upload succeeded")
		}
		if got, _ := os.ReadFile(target); !bytes.Equal(got, data) {
			t.Error("failed upload changed the target")
		}
		if l := leftovers(t, dir); len(l) > 0 {
			t.Errorf("temporaries left: %v", l)
		}
	})
	t.Run("quote round trip", func(t *testing.T) {
		var cmd strings.Builder
		cmd.WriteString(`printf '%s\0'`)
		for _, w := range hostile {
			cmd.WriteString(" " + Quote(w))
		}
		var out bytes.Buffer
		if code, err := c.Run(ctx, cmd.String(), nil, &out, nil); err != nil || code != 0 {
			t.Fatalf("Run = %d, %v", code, err)
		}
		if got := strings.Split(strings.TrimSuffix(out.String(), "\x00"), "\x00"); strings.Join(got, "|") != strings.Join(hostile, "|") {
			t.Errorf("round trip through OpenSSH's shell changed the words: %q", got)
		}
	})
	t.Run("changed key", func(t *testing.T) {
		other, _ := sshserver.NewKeyPair()
		kh := filepath.Join(dir, "kh_changed")
		writeFile(t, kh, sshserver.KnownHostsLine(addr, other.Public())+"\n")
		bad := cfg
		bad.KnownHostsFiles = []string{kh}
		_, err := Dial(ctx, bad)
		if !errors.Is(err, ErrHostKeyChanged) || !strings.Contains(err.Error(), kh+":1") {
			t.Errorf("Dial = %v", err)
		}
	})
	t.Run("wrong user", func(t *testing.T) {
		bad := cfg
		bad.User = "nobody"
		if _, err := Dial(ctx, bad); !IsAuth(err) {
			t.Errorf("Dial = %v", err)
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
