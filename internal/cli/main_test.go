package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets this test binary stand in for murderctl on the demo's
// hosts: the demo pushes the running executable as the peer binary and
// starts it as `<binary> peer`.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == "peer" {
		os.Exit(Main(os.Args[1:]))
	}
	// Keep the gzipped peer binary cache out of the user's cache directory.
	dir, err := os.MkdirTemp("", "murderctl-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gocache, _ := exec.Command("go", "env", "GOCACHE").Output()
	os.Setenv("XDG_CACHE_HOME", dir)
	cleanup := buildPeerBesideSelf(strings.TrimSpace(string(gocache)))
	code := m.Run()
	cleanup()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildPeerBesideSelf puts a static murderctl-peer beside this test binary,
// where the demo looks first, so the demo's hosts run the slim peer (not
// this binary, which under -race is large and slow). Without it the demo
// falls back to this binary, which TestMain turns into murderctl.
func buildPeerBesideSelf(gocache string) (cleanup func()) {
	self, err := os.Executable()
	if err != nil {
		return func() {}
	}
	p := filepath.Join(filepath.Dir(self), "murderctl-peer")
	if _, err := os.Lstat(p); err == nil {
		return func() {} // not ours: leave it
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", p, "../../cmd/murderctl-peer")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if gocache != "" {
		cmd.Env = append(cmd.Env, "GOCACHE="+gocache)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "note: go build murderctl-peer failed (the demo test pushes this binary instead): %v\n%s", err, out)
		os.Remove(p)
		return func() {}
	}
	return func() { os.Remove(p) }
}

// testIO returns streams backed by buffers.
func testIO() (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, &out, &errOut
}

// runRoot runs the whole command tree as Main does, on buffers, and
// returns the exit code Main would.
func runRoot(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, out, errOut := testIO()
	root := NewRootCmd(ios)
	root.SetArgs(args)
	root.SetOut(errOut)
	root.SetErr(errOut)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		fmt.Fprintf(errOut, "murderctl: %v\n", err)
	}
	return exitCode(err), out.String(), errOut.String()
}

// hideAnsibleConfig keeps the machine's ansible.cfg and ANSIBLE_* settings
// out of commands that read them from the process environment.
func hideAnsibleConfig(t *testing.T) {
	t.Helper()
	t.Setenv("ANSIBLE_CONFIG", os.DevNull)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "ANSIBLE_") && k != "ANSIBLE_CONFIG" {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// writeFile writes content under dir and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
