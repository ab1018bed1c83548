package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/murderctl/murderctl/testfleet"
)

// hostResult and report mirror the parts of `murderctl deploy --json` the
// bench reads.
type hostResult struct {
	Host       string        `json:"host"`
	Status     string        `json:"status"`
	Reason     string        `json:"reason"`
	Downloaded int64         `json:"downloaded"`
	Uploaded   int64         `json:"uploaded"`
	Running    time.Duration `json:"running_ns"`
	Completed  time.Duration `json:"completed_ns"`
}

type report struct {
	Results        []hostResult  `json:"results"`
	SHA256         string        `json:"sha256"`
	Duration       time.Duration `json:"duration_ns"`
	SeederUploaded int64         `json:"seeder_uploaded"`
}

// BenchmarkMurderctl is the headline: murderctl deploy of S bytes to N
// hosts, the peer binary already cached on every host, against T (one scp
// over the same kind of link, in the same fleet).
//
// The large-file case keeps its own S (-size does not change it): a file
// several times the 64 MiB request window anacrolix has by default (see
// swarm's unverifiedWindow), at a rate where the transfer, not the fleet's
// start, takes most of the time.
func BenchmarkMurderctl(b *testing.B) {
	for _, c := range []struct {
		name string
		n    int
		mbit float64
		size int64 // 0: -size
	}{
		{"N=1", 1, 10, 0}, {"N=10", 10, 10, 0}, {"N=30", 30, 10, 0}, {"N=50", 50, 10, 0},
		{"N=50,Mbit=25", 50, 25, 0}, {"N=10,S=256MiB,Mbit=50", 10, 50, 256 << 20},
	} {
		size := c.size
		if size == 0 {
			size = *sizeFlag
		}
		b.Run(c.name, func(b *testing.B) { benchMurderctl(b, c.n, c.mbit, size) })
	}
}

func benchMurderctl(b *testing.B, n int, mbit float64, size int64) {
	needRoot(b)
	f := testfleet.Start(b, testfleet.Options{N: n, RateMbit: mbit, Name: "bm"})
	inv := filepath.Join(b.TempDir(), "hosts.ini")
	if err := f.WriteInventory(inv, testfleet.InventoryOptions{}); err != nil {
		b.Fatal(err)
	}
	src, sum := randomFile(b, "payload.bin", size)
	T := measureT(b, f, src)

	// Warm-up, not timed: every host caches the peer binary. A host that
	// fails it is logged (that is a finding too) and the warm-up retried.
	warm, _ := randomFile(b, "warm.bin", 64<<10)
	for try := 1; ; try++ {
		code, stdout, stderr, err := runDeploy(b, f, 10*time.Minute, "deploy", "-i", inv, warm, "--dest", "/srv/warm.bin", "--json")
		if err == nil && code == 0 {
			break
		}
		b.Logf("warm-up deploy %d: exit %d, %v; failed hosts: %s\nstderr: %s", try, code, err, failedHosts(stdout), tail(stderr))
		if try == 3 {
			b.Fatalf("warm-up deploy failed %d times", try)
		}
		time.Sleep(2 * time.Second)
	}
	time.Sleep(2 * time.Second) // let the warm-up peers exit and the links drain

	r := row{Case: "murderctl", N: n, Size: size, Mbit: mbit, T: T}
	m := startMeter(b, f)
	args := append([]string{"deploy", "-i", inv, src, "--dest", "/srv/", "--json"}, strings.Fields(*deployArgs)...)
	code, stdout, stderr, err := runDeploy(b, f, deadline(T, 15), args...)
	r.Wall, r.CtlTx, r.CPU = m.finish()
	name := fmt.Sprintf("murderctl-N%d-%gMbit-%dMiB", n, mbit, size>>20)
	os.WriteFile(filepath.Join(work, name+".json"), []byte(stdout), 0o644)
	os.WriteFile(filepath.Join(work, name+".stderr"), []byte(stderr), 0o644)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		r.Result = "timeout"
	case err != nil:
		b.Fatalf("murderctl deploy: %v", err)
	case code != 0:
		r.Result = fmt.Sprintf("exit %d", code)
	default:
		r.Result = "ok"
	}
	var rep report
	if jerr := json.Unmarshal([]byte(stdout), &rep); jerr != nil && r.Result == "ok" {
		b.Fatalf("murderctl --json printed no report: %v\nstdout: %s", jerr, tail(stdout))
	}
	var running, completed []time.Duration
	failed := 0
	for _, h := range rep.Results {
		if h.Running > 0 {
			running = append(running, h.Running)
		}
		if h.Completed > 0 && (h.Status == "changed" || h.Status == "ok") {
			completed = append(completed, h.Completed)
		} else {
			failed++
		}
	}
	if len(completed) == n {
		r.P50, r.P99 = percentile(completed, 0.5), percentile(completed, 0.99)
	}
	if len(running) == n {
		r.AllRunning = slices.Max(running)
	}
	if bad := badHosts(f, allHosts(n), "/srv/payload.bin", sum); len(bad) > 0 {
		r.Result += fmt.Sprintf(", %d/%d wrong or missing", len(bad), n)
	} else if failed > 0 {
		r.Result += fmt.Sprintf(", %d/%d without a completion time", failed, n)
	}
	record(b, r)
	b.Logf("per-host timeline (s since start), seeder sent %.2fS:\n%s\ncontrol tx and CPU per second:\n%s",
		float64(rep.SeederUploaded)/float64(size), hostTimeline(rep), m.timeline(size))
	if r.Result != "ok" {
		b.Logf("failed hosts: %s", failedHosts(stdout))
		b.Errorf("murderctl deploy to %d hosts: %s\nstderr: %s", n, r.Result, tail(stderr))
	}
}

// failedHosts names the hosts a --json report has failed or unreachable,
// with their reasons.
func failedHosts(stdout string) string {
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		return "(no JSON report: " + err.Error() + ")"
	}
	var out []string
	for _, h := range rep.Results {
		if h.Status != "ok" && h.Status != "changed" {
			out = append(out, fmt.Sprintf("%s %s: %s", h.Host, h.Status, h.Reason))
		}
	}
	return strings.Join(out, "; ")
}

// hostTimeline lists each host's running and completed times, sorted by
// completion, with the spread of both.
func hostTimeline(rep report) string {
	res := slices.Clone(rep.Results)
	slices.SortFunc(res, func(a, b hostResult) int {
		return int(a.Completed - b.Completed)
	})
	var sb strings.Builder
	var run, done []time.Duration
	for _, h := range res {
		fmt.Fprintf(&sb, "  %s running %6.2f completed %6.2f down %5.1f MiB up %5.1f MiB %s\n", h.Host,
			h.Running.Seconds(), h.Completed.Seconds(), float64(h.Downloaded)/(1<<20), float64(h.Uploaded)/(1<<20), h.Status)
		run, done = append(run, h.Running), append(done, h.Completed)
	}
	if len(res) > 0 {
		fmt.Fprintf(&sb, "  running: min %.2f p50 %.2f max %.2f; completed: min %.2f p50 %.2f max %.2f; deploy %.2f\n",
			slices.Min(run).Seconds(), percentile(run, .5).Seconds(), slices.Max(run).Seconds(),
			slices.Min(done).Seconds(), percentile(done, .5).Seconds(), slices.Max(done).Seconds(), rep.Duration.Seconds())
	}
	return sb.String()
}

// runDeploy runs murderctl in the control namespace with the fleet's HOME,
// killing it after timeout (err is then context.DeadlineExceeded).
func runDeploy(b *testing.B, f *testfleet.Fleet, timeout time.Duration, args ...string) (int, string, string, error) {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), timeout)
	defer cancel()
	cmd := f.ControlCommand(ctx, filepath.Join(bins, "murderctl"), args...)
	cmd.Env = f.ControlEnv()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return -1, stdout.String(), stderr.String(), context.DeadlineExceeded
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stdout.String(), stderr.String(), nil
	}
	return 0, stdout.String(), stderr.String(), err
}

// tail is the last 4 KiB of s, for failure messages.
func tail(s string) string {
	if len(s) > 4096 {
		return "..." + s[len(s)-4096:]
	}
	return s
}
