package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestRunExitCodes(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	tests := []struct {
		name, cmd           string
		code                int
		wantOut, wantErrOut string
	}{
		{"true", "true", 0, "", ""},
		{"exit 3", "exit 3", 3, "", ""},
		{"exit 255", "exit 255", 255, "", ""},
		{"killed by TERM", "kill -TERM $$", 128 + 15, "", ""},
		{"streams", "echo out; echo err >&2; exit 1", 1, "out\n", "err\n"},
		{"home is cwd", `test "$PWD" = "$HOME" && basename "$PWD"`, 0, "home\n", ""},
		{"no such command", "definitely-not-a-command-xyz", 127, "", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code, err := c.Run(context.Background(), tt.cmd, nil, &out, &errOut)
			if err != nil {
				t.Fatalf("Run(%q): %v", tt.cmd, err)
			}
			if code != tt.code {
				t.Errorf("Run(%q) = %d, want %d (stderr %q)", tt.cmd, code, tt.code, errOut.String())
			}
			if out.String() != tt.wantOut {
				t.Errorf("stdout = %q, want %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errOut.String(), tt.wantErrOut) {
				t.Errorf("stderr = %q, want it to contain %q", errOut.String(), tt.wantErrOut)
			}
		})
	}
}

func TestRunStdinEOF(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	t.Run("reader", func(t *testing.T) {
		var out bytes.Buffer
		code, err := c.Run(context.Background(), "cat; echo eof", strings.NewReader("hello\n"), &out, nil)
		if err != nil || code != 0 {
			t.Fatalf("Run = %d, %v", code, err)
		}
		if out.String() != "hello\neof\n" {
			t.Errorf("stdout = %q", out.String())
		}
	})
	t.Run("pipe closed later", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			for i := range 3 {
				fmt.Fprintf(pw, "line %d\n", i)
				time.Sleep(20 * time.Millisecond)
			}
			pw.Close()
		}()
		var out bytes.Buffer
		code, err := c.Run(context.Background(), "wc -l", pr, &out, nil)
		if err != nil || code != 0 {
			t.Fatalf("Run = %d, %v", code, err)
		}
		if strings.TrimSpace(out.String()) != "3" {
			t.Errorf("wc -l = %q, want 3", out.String())
		}
	})
	t.Run("nil stdin", func(t *testing.T) {
		var out bytes.Buffer
		code, err := c.Run(context.Background(), "cat; echo eof", nil, &out, nil)
		if err != nil || code != 0 || out.String() != "eof\n" {
			t.Fatalf("Run = %d, %v, %q", code, err, out.String())
		}
	})
}

// waitGone polls until pid no longer exists.
func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d still alive after %v", pid, within)
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second) // generous: CI machines are small
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if s := strings.TrimSpace(string(b)); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(s)
			if err == nil {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

func TestRunCancelKillsRemote(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	tests := []struct {
		name, cmd string
		maxWait   time.Duration
	}{
		{"TERM", "echo $$ > pid; exec sleep 60", time.Second},
		// TERM ignored (and inherited by sleep): the session close kills it.
		{"TERM ignored", "trap '' TERM; sleep 60 & echo $! > pid; wait", CancelGrace + 2*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(filepath.Join(f.home, "pid"))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := c.Run(ctx, tt.cmd, nil, nil, nil)
				done <- err
			}()
			pid := readPID(t, filepath.Join(f.home, "pid"))
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run error = %v, want context.Canceled", err)
				}
			case <-time.After(tt.maxWait + time.Second):
				t.Fatalf("Run did not return after cancel")
			}
			waitGone(t, pid, 3*time.Second)
			if d := time.Since(start); d > tt.maxWait+2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestRunConcurrent(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			code, err := c.Run(context.Background(), fmt.Sprintf("sleep 0.3; echo %d; exit %d", i, i), nil, &out, nil)
			switch {
			case err != nil:
				errs[i] = err
			case code != i || out.String() != fmt.Sprintf("%d\n", i):
				errs[i] = fmt.Errorf("run %d: code %d out %q", i, code, out.String())
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%d concurrent 0.3s runs took %v: not concurrent", n, d)
	}
}

func TestRunConnectionLost(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), "echo $$ > pid; sleep 60", nil, nil, nil)
		done <- err
	}()
	pid := readPID(t, filepath.Join(f.home, "pid"))
	f.srv.Close()
	select {
	case err := <-done:
		if !IsUnreachable(err) || !errors.Is(err, ErrConnLost) {
			t.Errorf("Run error = %v, want unreachable/connection lost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run hung after the server went away")
	}
	waitGone(t, pid, 3*time.Second)
}
