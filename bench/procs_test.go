package bench

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// cpuSplit is busy CPU time by kind, in ticks. steal is time the
// hypervisor gave our virtual cores to someone else: not counted as busy,
// but it is why the same work takes more or less wall time from run to run
// on a shared machine.
type cpuSplit struct{ user, system, softirq, steal int64 }

// readCPUSplit reads the machine's user (+nice), system (+irq), softirq and
// steal ticks from /proc/stat's "cpu" line.
func readCPUSplit() (cpuSplit, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuSplit{}, fmt.Errorf("read /proc/stat: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) < 9 || fs[0] != "cpu" {
			continue
		}
		v := make([]int64, 9)
		for i := 1; i < 9; i++ {
			if v[i], err = strconv.ParseInt(fs[i], 10, 64); err != nil {
				return cpuSplit{}, fmt.Errorf("parse /proc/stat %q: %w", s.Text(), err)
			}
		}
		return cpuSplit{user: v[1] + v[2], system: v[3] + v[6], softirq: v[7], steal: v[8]}, nil
	}
	return cpuSplit{}, fmt.Errorf("read /proc/stat: no cpu line")
}

func (a cpuSplit) sub(b cpuSplit) cpuSplit {
	return cpuSplit{a.user - b.user, a.system - b.system, a.softirq - b.softirq, a.steal - b.steal}
}

func (c cpuSplit) String() string {
	return fmt.Sprintf("user %.1fs, system %.1fs, softirq %.1fs; stolen by the hypervisor %.1fs",
		float64(c.user)/clkTck, float64(c.system)/clkTck, float64(c.softirq)/clkTck, float64(c.steal)/clkTck)
}

// procTracker attributes CPU time to programs (by comm) while a case runs,
// from /proc/PID/stat scans. A process that exits between two scans loses
// the CPU it used since the last one, so figures are lower bounds.
type procTracker struct {
	base map[int]procTicks // at the first scan, for processes already running
	last map[int]procTicks
}

type procTicks struct {
	comm  string
	ticks int64 // utime + stime
}

func newProcTracker() *procTracker {
	t := &procTracker{base: map[int]procTicks{}, last: map[int]procTicks{}}
	for pid, p := range scanProcs() {
		t.base[pid] = p
		t.last[pid] = p
	}
	return t
}

func (t *procTracker) scan() {
	for pid, p := range scanProcs() {
		if old, ok := t.last[pid]; ok && old.comm != p.comm && p.ticks < old.ticks {
			delete(t.base, pid) // pid reused
		}
		t.last[pid] = p
	}
}

// byProgram is the CPU seconds per program since the tracker started,
// largest first, those under 0.5 s left out.
func (t *procTracker) byProgram() string {
	sum := map[string]int64{}
	for pid, p := range t.last {
		sum[p.comm] += p.ticks - t.base[pid].ticks
	}
	names := make([]string, 0, len(sum))
	for n, v := range sum {
		if v >= clkTck/2 {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, func(a, b string) int { return int(sum[b] - sum[a]) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.1fs", n, float64(sum[n])/clkTck)
	}
	return strings.Join(parts, ", ")
}

// scanProcs reads comm and utime+stime of every process. It lists /proc
// once and opens each PID's stat by name: filepath.Glob("/proc/[0-9]*/stat")
// also listed every /proc/PID directory, and the scan took 2% of the two
// cores that the deploy it measures was short of (perf, twelfth session).
func scanProcs() map[int]procTicks {
	out := map[int]procTicks{}
	proc, err := os.Open("/proc")
	if err != nil {
		return out
	}
	names, _ := proc.Readdirnames(-1)
	proc.Close()
	for _, name := range names {
		pid, err := strconv.Atoi(name) // the PID directories; the rest is not a process
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fs := strings.Fields(s[closing+1:]) // fs[0] is field 3 (state)
		if len(fs) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(fs[11], 10, 64)
		st, _ := strconv.ParseInt(fs[12], 10, 64)
		out[pid] = procTicks{comm: s[open+1 : closing], ticks: ut + st}
	}
	return out
}
