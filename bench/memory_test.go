package bench

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var memSizeMiB = flag.Int64("mem.size-mib", 1024, "file size for BenchmarkPeerMemory, in MiB")

// BenchmarkPeerMemory answers issue 3's memory question: how much private
// (anonymous, not file-backed) memory a peer holds while it downloads a
// 1 GiB file, and how many CPU seconds it spends per GiB. It runs `murderctl
// demo` (loopback hosts, in-process SSH servers, real peer processes; no
// root needed) with 3 hosts and samples every peer process's RssAnon and
// CPU time from /proc.
func BenchmarkPeerMemory(b *testing.B) {
	const hosts = 3
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bins, "murderctl"), "demo",
		"--hosts", strconv.Itoa(hosts), "--size-mib", strconv.FormatInt(*memSizeMiB, 10))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	peaks := map[int]int64{} // pid -> peak RssAnon bytes
	ticks := map[int]int64{} // pid -> last utime+stime
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var err error
loop:
	for {
		select {
		case err = <-done:
			break loop
		case <-tick.C:
			for pid, p := range scanProcs() {
				if !strings.HasPrefix(p.comm, "peer-") && p.comm != "murderctl-peer" {
					continue
				}
				ticks[pid] = p.ticks
				if rss, ok := rssAnon(pid); ok && rss > peaks[pid] {
					peaks[pid] = rss
				}
			}
		}
	}
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("murderctl demo: %v\n%s", err, tail(out.String()))
	}
	if len(peaks) < hosts {
		b.Fatalf("saw %d peer processes, want %d (is the peer named peer-*?)\n%s", len(peaks), hosts, tail(out.String()))
	}
	var peak, cpuMax, cpuSum int64
	for pid, p := range peaks {
		peak = max(peak, p)
		cpuMax = max(cpuMax, ticks[pid])
		cpuSum += ticks[pid]
	}
	gib := float64(*memSizeMiB) / 1024
	b.ReportMetric(float64(wall.Nanoseconds()), "ns/op")
	b.ReportMetric(float64(peak)/(1<<20), "peak_RssAnon_MiB")
	b.ReportMetric(float64(cpuMax)/clkTck/gib, "max_peer_cpu_s/GiB")
	b.ReportMetric(float64(cpuSum)/clkTck/gib/float64(len(peaks)), "mean_peer_cpu_s/GiB")
	b.Logf("peer memory: %d peers downloading %d MiB over loopback in %s: peak private (RssAnon) %.1f MiB; "+
		"CPU per GiB received: max %.1f s, mean %.1f s",
		len(peaks), *memSizeMiB, wall.Round(time.Millisecond), float64(peak)/(1<<20),
		float64(cpuMax)/clkTck/gib, float64(cpuSum)/clkTck/gib/float64(len(peaks)))
}

// rssAnon reads RssAnon (resident anonymous memory: heap, stacks, private
// mappings; not the page cache of the file being written) of pid.
func rssAnon(pid int) (int64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
