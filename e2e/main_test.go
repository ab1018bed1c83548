// Package e2e runs murderctl end to end against a real fleet: OpenSSH hosts
// in network namespaces with tc rate limits (package testfleet). It needs
// root; without it every test skips and says why.
package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/murderctl/murderctl/testfleet"
)

// bins holds the static murderctl and murderctl-peer built for this run.
var bins string

func TestMain(m *testing.M) {
	testfleet.HandleSignals()
	dir, err := os.MkdirTemp("", "murderctl-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins = dir
	code := 1
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles the binaries exactly as `make build` does: static, stripped.
func build(dir string) error {
	for _, pkg := range []string{"murderctl", "murderctl-peer"} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, pkg), "../cmd/"+pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", pkg, err, out)
		}
	}
	return nil
}

func murderctl() string { return filepath.Join(bins, "murderctl") }

// needRoot skips a test that builds a fleet when not root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the OpenSSH test fleet needs root (network namespaces, tc, mounts); CI runs as root")
	}
}

// randomFile writes size random bytes and returns the path and its SHA-256.
func randomFile(t *testing.T, name string, size int64) (string, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p, hex.EncodeToString(h.Sum(nil))
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return "missing: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// hostResult and report mirror `murderctl deploy --json`.
type hostResult struct {
	Host       string   `json:"host"`
	Status     string   `json:"status"`
	Reason     string   `json:"reason"`
	Dest       string   `json:"dest"`
	Downloaded int64    `json:"downloaded"`
	Running    int64    `json:"running_ns"`
	Completed  int64    `json:"completed_ns"`
	ExitCode   int      `json:"exit_code"`
	Uploaded   int64    `json:"uploaded"`
	Duplicate  int64    `json:"duplicate"`
	Stderr     string   `json:"stderr"`
	BadPeers   []string `json:"bad_peers"`
}

type report struct {
	Results        []hostResult `json:"results"`
	SHA256         string       `json:"sha256"`
	SeederUploaded int64        `json:"seeder_uploaded"`
}

// run is one murderctl invocation in the fleet's control namespace.
type run struct {
	Code     int
	Stdout   string
	Stderr   string
	Report   report
	Duration time.Duration
	TxBytes  int64 // bytes the control node sent during the run
}

func runMurderctl(t *testing.T, f *testfleet.Fleet, timeout time.Duration, args ...string) run {
	t.Helper()
	return runControl(t, f, timeout, murderctl(), args...)
}

// runControl runs name (murderctl, or a wrapper that execs it) on the
// control node like runMurderctl.
func runControl(t *testing.T, f *testfleet.Fleet, timeout time.Duration, name string, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := f.ControlCommand(ctx, name, args...)
	cmd.Env = f.ControlEnv()
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	tx0, err := f.ControlTxBytes()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = cmd.Run()
	r := run{Duration: time.Since(start), Stdout: stdout.String(), Stderr: stderr.String()}
	tx1, _ := f.ControlTxBytes()
	r.TxBytes = tx1 - tx0
	if ctx.Err() != nil {
		t.Fatalf("murderctl %v did not finish within %s\nstderr: %s", args, timeout, r.Stderr)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("murderctl %v: %v", args, err)
	}
	for _, a := range args {
		if a == "--json" {
			if err := json.Unmarshal([]byte(r.Stdout), &r.Report); err != nil {
				t.Fatalf("murderctl --json printed no report (exit %d): %v\nstdout: %s\nstderr: %s", r.Code, err, r.Stdout, r.Stderr)
			}
		}
	}
	return r
}

// limitedBuffer keeps the first 1 MiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 1<<20 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
func (l *limitedBuffer) String() string { return string(l.b) }
