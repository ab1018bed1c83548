package bench

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/murderctl/murderctl/testfleet"
)

var (
	sizeFlag = flag.Int64("size", 32<<20, "file size S in bytes for every case")
	keepLogs = flag.Bool("keep-logs", false, "keep the benchmark's work directory (logs, JSON reports) and print its path")
	// deployArgs lets a run compare settings side by side, e.g.
	// -deploy.args='--peer-connections 8'.
	deployArgs = flag.String("deploy.args", "", "extra flags for the timed murderctl deploy (space-separated)")
	symbols    = flag.Bool("symbols", false, "build unstripped binaries, for perf or pprof symbols")
)

// work is this run's directory: built binaries, source files, logs.
var work string

// bins holds the static murderctl and murderctl-peer built for this run.
var bins string

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Println("bench: skipping every case: the OpenSSH test fleet needs root (network namespaces, tc, mounts)")
		os.Exit(m.Run()) // each benchmark skips and says why
	}
	testfleet.HandleSignals()
	dir, err := os.MkdirTemp("", "murderctl-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	work = dir
	bins = filepath.Join(dir, "bin")
	code := 1
	if err := build(bins); err != nil {
		fmt.Fprintln(os.Stderr, "bench: build:", err)
	} else {
		start := time.Now()
		code = m.Run()
		printTable(os.Stdout, time.Since(start))
	}
	if *keepLogs {
		fmt.Println("bench: logs kept in", dir)
	} else {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// build compiles murderctl and murderctl-peer as `make build` does: static,
// stripped, without the anacrolix storage backends we never use.
func build(dir string) error {
	ldflags := "-ldflags=-s -w"
	if *symbols {
		ldflags = "-ldflags="
	}
	for _, pkg := range []string{"murderctl", "murderctl-peer"} {
		cmd := exec.Command("go", "build", "-tags", "noboltdb,nosqlite,disable_libutp", "-trimpath",
			ldflags, "-o", filepath.Join(dir, pkg), "../cmd/"+pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", pkg, err, out)
		}
	}
	return nil
}

// needRoot skips a benchmark when not root, saying why.
func needRoot(b *testing.B) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("skipping: the OpenSSH test fleet needs root (network namespaces, tc, mounts); run `sudo make bench`")
	}
}

// row is one line of the results table.
type row struct {
	order      int
	Case       string
	N          int
	Size       int64
	Mbit       float64
	T          time.Duration // one scp of the file to one host
	Wall       time.Duration
	P50, P99   time.Duration // per-host completion since the start; 0 = unknown
	CtlTx      int64         // bytes the control node sent
	AllRunning time.Duration // when the last host's peer/client was running; 0 = n/a
	CPU        cpuUse
	Result     string // "ok", "timeout", "3/50 failed", ...
}

var table struct {
	sync.Mutex
	rows []row
}

// record adds r to the table and reports its figures as benchmark metrics.
func record(b *testing.B, r row) {
	b.Helper()
	table.Lock()
	r.order = len(table.rows)
	table.rows = append(table.rows, r)
	table.Unlock()
	t := r.T.Seconds()
	b.ReportMetric(float64(r.Wall.Nanoseconds()), "ns/op")
	b.ReportMetric(t, "T_s")
	if t > 0 {
		b.ReportMetric(r.Wall.Seconds()/t, "wall/T")
		if r.P50 > 0 {
			b.ReportMetric(r.P50.Seconds()/t, "p50/T")
			b.ReportMetric(r.P99.Seconds()/t, "p99/T")
		}
	}
	b.ReportMetric(float64(r.CtlTx)/float64(r.Size), "ctl_tx/S")
	if r.AllRunning > 0 {
		b.ReportMetric(r.AllRunning.Seconds(), "all_running_s")
	}
	b.ReportMetric(r.CPU.Seconds, "cpu_s")
	b.ReportMetric(r.CPU.Percent(r.Wall), "cpu_%")
	b.Logf("%s: %s", r.Case, r.line())
}

func ratio(d, t time.Duration) string {
	if d <= 0 || t <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", d.Seconds()/t.Seconds())
}

func secs(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", d.Seconds())
}

func (r row) cells() []string {
	return []string{r.Case, fmt.Sprint(r.N), fmt.Sprintf("%d MiB", r.Size>>20), fmt.Sprint(r.Mbit),
		secs(r.T), secs(r.Wall), ratio(r.Wall, r.T), ratio(r.P50, r.T), ratio(r.P99, r.T),
		fmt.Sprintf("%.2f", float64(r.CtlTx)/float64(r.Size)), secs(r.AllRunning),
		fmt.Sprintf("%.1f", r.CPU.Seconds), fmt.Sprintf("%.0f%%", r.CPU.Percent(r.Wall)), r.Result}
}

func (r row) line() string { return strings.Join(r.cells(), " | ") }

var header = []string{"case", "N", "S", "link Mbit/s", "T scp (s)", "wall (s)", "wall/T", "p50/T", "p99/T",
	"ctl tx/S", "all running (s)", "CPU (s)", "CPU %% of %d cores", "result"}

// printTable writes every recorded row as one markdown table.
func printTable(w *os.File, took time.Duration) {
	table.Lock()
	defer table.Unlock()
	if len(table.rows) == 0 {
		return
	}
	// murderctl first, then the references, each in the order they ran.
	rank := func(r row) int {
		switch {
		case strings.HasPrefix(r.Case, "murderctl"):
			return 0
		case strings.HasPrefix(r.Case, "ansible"):
			return 1
		}
		return 2
	}
	sort.Slice(table.rows, func(i, j int) bool {
		a, b := table.rows[i], table.rows[j]
		if rank(a) != rank(b) {
			return rank(a) < rank(b)
		}
		return a.order < b.order
	})
	h := append([]string(nil), header...)
	h[12] = fmt.Sprintf(h[12], numCPU())
	fmt.Fprintf(w, "\n## Fleet benchmark (%s, run took %s)\n\n", time.Now().Format(time.DateOnly), took.Round(time.Second))
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(h, " | "), strings.Repeat("---|", len(h)))
	for _, r := range table.rows {
		fmt.Fprintf(w, "| %s |\n", r.line())
	}
	fmt.Fprintln(w)
}
