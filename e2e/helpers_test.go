package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/murderctl/murderctl/testfleet"
)

// hostProc is one process running inside a test host.
type hostProc struct {
	Pid  int
	Argv []string
}

// hostProcs lists the processes of host i (its network namespace) with
// their argv. The machine's pid namespace is shared by every host, so
// HostPids, not pgrep, tells whose a process is.
func hostProcs(t *testing.T, f *testfleet.Fleet, i int) []hostProc {
	t.Helper()
	pids, err := f.HostPids(i)
	if err != nil {
		t.Fatal(err)
	}
	var out []hostProc
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil || len(b) == 0 {
			continue // gone, or a zombie
		}
		out = append(out, hostProc{Pid: pid, Argv: strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")})
	}
	return out
}

// murderctlProcs are host i's processes that belong to murderctl: the peer
// (~/.cache/murderctl/peer-<sha256>) and any set-up script naming it.
func murderctlProcs(t *testing.T, f *testfleet.Fleet, i int) []hostProc {
	t.Helper()
	var out []hostProc
	for _, p := range hostProcs(t, f, i) {
		line := strings.Join(p.Argv, " ")
		if strings.Contains(line, "murderctl") || strings.HasPrefix(filepath.Base(p.Argv[0]), "peer-") {
			out = append(out, p)
		}
	}
	return out
}

// peerProcs are host i's running peers.
func peerProcs(t *testing.T, f *testfleet.Fleet, i int) []hostProc {
	t.Helper()
	var out []hostProc
	for _, p := range murderctlProcs(t, f, i) {
		if strings.HasPrefix(filepath.Base(p.Argv[0]), "peer-") {
			out = append(out, p)
		}
	}
	return out
}

// leftovers describes every murderctl process still on any host ("" if none).
func leftovers(t *testing.T, f *testfleet.Fleet) string {
	t.Helper()
	var b strings.Builder
	for i, h := range f.Hosts {
		for _, p := range murderctlProcs(t, f, i) {
			fmt.Fprintf(&b, "%s: pid %d %q\n", h.Name, p.Pid, p.Argv)
		}
	}
	return b.String()
}

// assertNoLeftovers fails the test if a murderctl process remains on a host.
func assertNoLeftovers(t *testing.T, f *testfleet.Fleet) {
	t.Helper()
	if l := leftovers(t, f); l != "" {
		t.Errorf("murderctl processes left on the hosts:\n%s", l)
	}
}

// hostSh runs a shell script inside host i and returns its combined output.
func hostSh(t *testing.T, f *testfleet.Fleet, i int, script string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := f.HostCommand(ctx, i, "sh", append([]string{"-c", script, "sh"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: sh -c %q: %v: %s", f.Hosts[i].Name, script, err, out)
	}
	return string(out)
}

// bgRun is a murderctl run in the background, for tests that act on the
// fleet mid-deploy.
type bgRun struct {
	cmd            *exec.Cmd
	cancel         context.CancelFunc
	stdout, stderr limitedBuffer
	start          time.Time
	done           chan struct{}
	err            error
	args           []string
}

// startMurderctl starts murderctl in the control namespace; the safety
// timeout kills it if the test's own expectations did not.
func startMurderctl(t *testing.T, f *testfleet.Fleet, safety time.Duration, args ...string) *bgRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	b := &bgRun{cancel: cancel, done: make(chan struct{}), args: args}
	b.cmd = f.ControlCommand(ctx, murderctl(), args...)
	b.cmd.Env = f.ControlEnv()
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	b.start = time.Now()
	if err := b.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() { cancel(); <-b.done })
	return b
}

func (b *bgRun) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// wait waits for the run to end and returns it like runMurderctl does.
func (b *bgRun) wait(t *testing.T) run {
	t.Helper()
	<-b.done
	r := run{Duration: time.Since(b.start), Stdout: b.stdout.String(), Stderr: b.stderr.String()}
	if ee, ok := b.err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if b.err != nil {
		t.Fatalf("murderctl %v: %v", b.args, b.err)
	}
	if ee, ok := b.err.(*exec.ExitError); ok && ee.ExitCode() == -1 {
		t.Fatalf("murderctl %v was killed (%v): it outlived the test's safety timeout\nstderr: %s", b.args, b.err, r.Stderr)
	}
	for _, a := range b.args {
		if a == "--json" && r.Stdout != "" {
			if err := json.Unmarshal([]byte(r.Stdout), &r.Report); err != nil {
				t.Fatalf("murderctl --json printed no report (exit %d): %v\nstdout: %s\nstderr: %s", r.Code, err, r.Stdout, r.Stderr)
			}
		}
	}
	return r
}

// waitPeer waits up to a minute for host i's peer to run under the deploy
// bg and returns its pid.
func waitPeer(t *testing.T, f *testfleet.Fleet, i int, bg *bgRun) int {
	t.Helper()
	var pid int
	if !waitFor(60*time.Second, func() bool {
		if ps := peerProcs(t, f, i); len(ps) == 1 {
			pid = ps[0].Pid
			return true
		}
		return false
	}) {
		t.Fatalf("no peer ever ran on %s\nstderr: %s", f.Hosts[i].Name, bg.stderr.String())
	}
	return pid
}

// waitFor polls cond every 100ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

// snapshot lists every file and directory under the hosts' private
// directories (name, type, mode, size) so a test can prove a command changed
// nothing on any host.
func snapshot(t *testing.T, f *testfleet.Fleet) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, h := range f.Hosts {
		for _, dir := range []string{"/root", "/srv", "/tmp", "/var/tmp"} {
			base := h.Path(dir)
			filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return nil
				}
				info, err := d.Info()
				if err != nil {
					return nil
				}
				rel, _ := filepath.Rel(base, p)
				v := info.Mode().String()
				if info.Mode().IsRegular() {
					v += " " + strconv.FormatInt(info.Size(), 10)
				}
				m[h.Name+":"+filepath.Join(dir, rel)] = v
				return nil
			})
		}
	}
	return m
}

// diffSnapshots describes what changed between two snapshots ("" if nothing).
func diffSnapshots(before, after map[string]string) string {
	var lines []string
	for k, v := range after {
		if old, ok := before[k]; !ok {
			lines = append(lines, "new "+k+" "+v)
		} else if old != v {
			lines = append(lines, "changed "+k+" "+old+" -> "+v)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			lines = append(lines, "removed "+k)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// assertCleanError checks what every refused command must print: one line
// on stderr, no Go stack trace.
func assertCleanError(t *testing.T, r run, wantCode int, want ...string) {
	t.Helper()
	if r.Code != wantCode {
		t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, wantCode, r.Stdout, r.Stderr)
	}
	stderr := strings.TrimRight(r.Stderr, "\n")
	if strings.Contains(r.Stderr, "goroutine ") || strings.Contains(r.Stderr, "panic:") {
		t.Errorf("stderr has a Go stack trace:\n%s", r.Stderr)
	}
	if stderr == "" || strings.Contains(stderr, "\n") {
		t.Errorf("want exactly one line on stderr, got:\n%s", r.Stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q does not say %q", stderr, w)
		}
	}
}

// hostLine returns the recap line of host name from murderctl's text output.
func hostLine(stdout, name string) string {
	for _, l := range strings.Split(stdout, "\n") {
		if strings.Contains(l, "["+name+"]") {
			return l
		}
	}
	return ""
}

// resultFor returns host name's result from a report.
func resultFor(t *testing.T, r report, name string) hostResult {
	t.Helper()
	for _, res := range r.Results {
		if res.Host == name {
			return res
		}
	}
	t.Fatalf("report has no result for %s: %+v", name, r.Results)
	return hostResult{}
}

// lsHost lists dir inside host i (seeing tmpfs mounts that Path cannot).
func lsHost(t *testing.T, f *testfleet.Fleet, i int, dir string) string {
	t.Helper()
	return strings.TrimSpace(hostSh(t, f, i, `ls -A -- "$1"`, dir))
}

func itoa(n int) string { return strconv.Itoa(n) }
