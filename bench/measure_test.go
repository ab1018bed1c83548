package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/murderctl/murderctl/testfleet"
)

// clkTck is USER_HZ, the unit of /proc/stat (100 on every Linux port).
const clkTck = 100

// cpuTicks is the machine's busy CPU time from /proc/stat, in ticks (see
// readCPUSplit; softirq is where the veth, bridge and tbf work of the
// fleet's links lands, so it counts).
func cpuTicks() (int64, error) {
	c, err := readCPUSplit()
	return c.user + c.system + c.softirq, err
}

// numCPU counts the cpuN lines of /proc/stat.
func numCPU() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 1
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	return max(n, 1)
}

// cpuUse is the machine's busy CPU time over a measured interval.
type cpuUse struct{ Seconds float64 }

// Percent is the CPU time over wall as a share of all cores.
func (c cpuUse) Percent(wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return 100 * c.Seconds / (wall.Seconds() * float64(numCPU()))
}

// meter measures wall time, control-node tx bytes and CPU over a run, and
// samples both every second for a timeline.
type meter struct {
	f       *testfleet.Fleet
	start   time.Time
	tx0     int64
	cpu0    int64
	stop    chan struct{}
	done    sync.WaitGroup
	mu      sync.Mutex
	samples []sample
	split0  cpuSplit
	split   cpuSplit // by kind, set by finish
	procs   *procTracker
}

type sample struct {
	at  time.Duration
	tx  int64 // control tx since start
	cpu int64 // busy ticks since start
}

func startMeter(b *testing.B, f *testfleet.Fleet) *meter {
	b.Helper()
	m := &meter{f: f, stop: make(chan struct{})}
	var err error
	if m.tx0, err = f.ControlTxBytes(); err != nil {
		b.Fatal(err)
	}
	if m.cpu0, err = cpuTicks(); err != nil {
		b.Fatal(err)
	}
	m.split0, _ = readCPUSplit()
	m.procs = newProcTracker()
	m.start = time.Now()
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tk.C:
				tx, _ := f.ControlTxBytes()
				c, _ := cpuTicks()
				m.mu.Lock()
				m.samples = append(m.samples, sample{time.Since(m.start), tx - m.tx0, c - m.cpu0})
				m.procs.scan()
				m.mu.Unlock()
			}
		}
	}()
	return m
}

// finish stops the meter: wall time, control tx bytes, CPU.
func (m *meter) finish() (time.Duration, int64, cpuUse) {
	wall := time.Since(m.start)
	tx, _ := m.f.ControlTxBytes()
	c, _ := cpuTicks()
	close(m.stop)
	m.done.Wait()
	split, _ := readCPUSplit()
	m.split = split.sub(m.split0)
	m.procs.scan()
	return wall, tx - m.tx0, cpuUse{Seconds: float64(c-m.cpu0) / clkTck}
}

// timeline is the CPU split (by kind and by program, see procTracker) and
// the per-second control tx and CPU, for the log. Call it after finish.
func (m *meter) timeline(size int64) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sb strings.Builder
	fmt.Fprintf(&sb, "  CPU by kind: %s\n  CPU by program (at least): %s\n", m.split, m.procs.byProgram())
	var prev sample
	for _, s := range m.samples {
		dt := (s.at - prev.at).Seconds()
		fmt.Fprintf(&sb, "  t=%5.1fs ctl_tx=%5.2fS (%5.1f Mbit/s) cpu=%3.0f%%\n", s.at.Seconds(),
			float64(s.tx)/float64(size), float64(s.tx-prev.tx)*8/1e6/dt,
			100*float64(s.cpu-prev.cpu)/clkTck/dt/float64(numCPU()))
		prev = s
	}
	return sb.String()
}

// percentile is the nearest-rank p-th percentile (0 < p <= 1) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// randomFile writes size random bytes under the run's work directory and
// returns the path and its SHA-256.
func randomFile(b *testing.B, name string, size int64) (string, string) {
	b.Helper()
	dir, err := os.MkdirTemp(work, "src-")
	if err != nil {
		b.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return p, hex.EncodeToString(h.Sum(nil))
}

func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "missing"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable"
	}
	return hex.EncodeToString(h.Sum(nil))
}

// badHosts lists the hosts whose file at remote does not have sum.
func badHosts(f *testfleet.Fleet, hosts []int, remote, sum string) []string {
	var bad []string
	for _, i := range hosts {
		if fileSHA256(f.Hosts[i].Path(remote)) != sum {
			bad = append(bad, f.Hosts[i].Name)
		}
	}
	return bad
}

// measureT copies src to host 0 with one real scp over the fleet's link,
// then removes the copy: T for this fleet.
func measureT(b *testing.B, f *testfleet.Fleet, src string) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Minute)
	defer cancel()
	const remote = "/var/tmp/bench-scp.bin"
	t, err := f.SCP(ctx, 0, src, remote)
	if err != nil {
		b.Fatalf("measure T: %v", err)
	}
	os.Remove(f.Hosts[0].Path(remote))
	b.Logf("T: scp of %d bytes to %s took %s", fileSize(src), f.Hosts[0].Name, t.Round(time.Millisecond))
	return t
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

func allHosts(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// deadline is a generous bound for a case expected to take about k*T.
func deadline(t time.Duration, k float64) time.Duration {
	return time.Duration(float64(t)*k) + 2*time.Minute
}
