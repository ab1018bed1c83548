package e2e

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/murderctl/murderctl/testfleet"
)

// TestFaults is issue 4's fault list on one shared fleet of five OpenSSH
// hosts on 20 Mbit/s links: the seeder leaving, a lying peer, Ctrl-C and
// resume, a stalled peer, a full disk, and (last, it kills a host) a host
// dying mid-transfer.
func TestFaults(t *testing.T) {
	needRoot(t)
	const hosts = 5
	f := testfleet.Start(t, testfleet.Options{N: hosts, RateMbit: 20, Name: "flt"})
	inv := filepath.Join(t.TempDir(), "hosts.ini")
	if err := f.WriteInventory(inv, testfleet.InventoryOptions{}); err != nil {
		t.Fatal(err)
	}
	// Every subtest must leave the hosts without a murderctl process.
	defer assertNoLeftovers(t, f)

	t.Run("seeder leaves once every piece is out", func(t *testing.T) {
		const size = 16 << 20
		src, sum := randomFile(t, "leave.bin", size)
		r := runMurderctl(t, f, 3*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/", "--json",
			"--timeout", "150s", "--fault-origin-leaves")
		if r.Code != 0 {
			t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		assertStatuses(t, r.Report, hosts, "changed")
		assertFile(t, f, "/srv/leave.bin", sum, allBut(hosts, -1)...)
		// The origin sent each piece once at most: the rest came from hosts.
		t.Logf("origin left: deploy took %s, origin sent %.2fx the file size; the fleet traded the rest", r.Duration.Round(time.Millisecond), float64(r.Report.SeederUploaded)/size)
		if r.Report.SeederUploaded > size+size/16 {
			t.Errorf("origin sent %d bytes for a %d-byte file: it did not leave after one handout", r.Report.SeederUploaded, size)
		}
		assertNoLeftovers(t, f)
	})

	t.Run("corrupt peer is named and its pieces refetched", func(t *testing.T) {
		const size = 16 << 20
		src, sum := randomFile(t, "liar.bin", size)
		liar := 0
		copyFile(t, src, f.Hosts[liar].Path("/srv/liar.bin"))
		r := runMurderctl(t, f, 3*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/", "--json",
			"--timeout", "150s", "--fault-corrupt-host", f.Hosts[liar].Name)
		if r.Code != 0 {
			t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		assertFile(t, f, "/srv/liar.bin", sum, allBut(hosts, -1)...)
		liarIP := f.Hosts[liar].IP.String()
		var namers []string
		for _, res := range r.Report.Results {
			if res.Host == f.Hosts[liar].Name {
				if res.Status != "ok" {
					t.Errorf("%s (the liar, already holding the file): status %q, want ok", res.Host, res.Status)
				}
				continue
			}
			if res.Status != "changed" {
				t.Errorf("%s: status %q (%s), want changed", res.Host, res.Status, res.Reason)
			}
			if slices.Contains(res.BadPeers, liarIP) {
				namers = append(namers, res.Host)
			}
			for _, bp := range res.BadPeers {
				if bp != liarIP {
					t.Errorf("%s names %s as a bad peer; only %s lied", res.Host, bp, liarIP)
				}
			}
		}
		if len(namers) == 0 {
			t.Errorf("no host named the lying peer %s in bad_peers: %+v", liarIP, r.Report.Results)
		}
		t.Logf("corrupt peer: deploy took %s; hosts that caught %s lying: %v", r.Duration.Round(time.Millisecond), liarIP, namers)
		assertNoLeftovers(t, f)
	})

	t.Run("ctrl-c then resume", func(t *testing.T) { testInterruptResume(t, f, inv) })
	t.Run("stalled peer", func(t *testing.T) { testStalledPeer(t, f, inv) })
	t.Run("full disk", func(t *testing.T) { testFullDisk(t, f, inv) })
	t.Run("host dies mid-transfer", func(t *testing.T) { testHostDies(t, f, inv) })
}

// testInterruptResume presses Ctrl-C mid-transfer, checks nothing is left
// running or half-written, then runs again and measures the resume.
func testInterruptResume(t *testing.T, f *testfleet.Fleet, inv string) {
	const size = 48 << 20
	n := len(f.Hosts)
	src, sum := randomFile(t, "resume.bin", size)
	// h01 holds an older version: an interrupt must leave it untouched.
	oldSrc, oldSum := randomFile(t, "old.bin", 1<<20)
	copyFile(t, oldSrc, f.Hosts[0].Path("/srv/resume.bin"))

	rx0 := make([]int64, n)
	for i := range f.Hosts {
		rx0[i], _ = f.HostRxBytes(i)
	}
	args := []string{"deploy", "-i", inv, src, "--dest", "/srv/", "--json", "--timeout", "3m"}
	bg := startMurderctl(t, f, 4*time.Minute, args...)
	// Wait until every host has received half the file.
	mid := waitFor(90*time.Second, func() bool {
		for i := range f.Hosts {
			rx, _ := f.HostRxBytes(i)
			if rx-rx0[i] < size/2 {
				return false
			}
		}
		return true
	})
	if !mid || bg.exited() {
		t.Fatalf("the hosts never got half the file each (exited: %v)\nstderr: %s", bg.exited(), bg.stderr.String())
	}
	if err := bg.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	clean := waitFor(5*time.Second, func() bool { return leftovers(t, f) == "" })
	cleanAfter := time.Since(sent)
	r := bg.wait(t)
	t.Logf("SIGINT: murderctl exited %d after %s; hosts clean after %s", r.Code, time.Since(sent).Round(time.Millisecond), cleanAfter.Round(time.Millisecond))
	if !clean {
		t.Errorf("5s after SIGINT, murderctl processes remain:\n%s", leftovers(t, f))
	}
	if r.Code != 99 {
		t.Errorf("exit %d after SIGINT, want 99\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Stderr, "goroutine ") {
		t.Errorf("stack trace on stderr:\n%s", r.Stderr)
	}
	var kept int
	for i, h := range f.Hosts {
		got := fileSHA256(t, h.Path("/srv/resume.bin"))
		switch {
		case i == 0 && got != oldSum:
			t.Errorf("%s: /srv/resume.bin changed by an interrupted deploy: sha256 %s, want the old %s", h.Name, got, oldSum)
		case i != 0 && !strings.HasPrefix(got, "missing"):
			t.Errorf("%s: an interrupted deploy left /srv/resume.bin (sha256 %s)", h.Name, got)
		}
		parts, _ := filepath.Glob(h.Path("/srv/.resume.bin.murderctl-*.part"))
		for _, p := range parts {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s: resume file %s has mode %v, want 0600", h.Name, filepath.Base(p), st.Mode().Perm())
			}
			kept++
		}
		entries, _ := os.ReadDir(h.Path("/srv"))
		for _, e := range entries {
			if name := e.Name(); name != "resume.bin" && !strings.HasPrefix(name, ".resume.bin.murderctl-") &&
				!strings.HasSuffix(name, ".bin") {
				t.Errorf("%s: unexpected file /srv/%s after the interrupt", h.Name, name)
			}
		}
		torrents, _ := filepath.Glob(h.Path("/root/.cache/murderctl/*.torrent"))
		if len(torrents) > 0 {
			t.Errorf("%s: per-run torrent left after the interrupt: %v", h.Name, torrents)
		}
	}
	t.Logf("%d of %d hosts kept a private .part file to resume from", kept, n)

	tx0, _ := f.ControlTxBytes()
	again := runMurderctl(t, f, 4*time.Minute, args...)
	tx1, _ := f.ControlTxBytes()
	if again.Code != 0 {
		t.Fatalf("rerun after the interrupt: exit %d, want 0\nstdout: %s\nstderr: %s", again.Code, again.Stdout, again.Stderr)
	}
	assertStatuses(t, again.Report, n, "changed")
	assertFile(t, f, "/srv/resume.bin", sum, allBut(n, -1)...)
	var total int64
	for _, res := range again.Report.Results {
		total += res.Downloaded
	}
	full := int64(n) * size
	t.Logf("RESUME FIGURE: after Ctrl-C, the rerun transferred %d bytes to %d hosts = %.2f file sizes (%.0f%% of the %d a fresh deploy needs); control node sent %.2f file sizes",
		total, n, float64(total)/size, 100*float64(total)/float64(full), n, float64(tx1-tx0)/size)
	if total <= 0 || total > full*3/4 {
		t.Errorf("the rerun downloaded %d bytes, want clearly less than %d (N*S): nothing was resumed", total, full)
	}
	for i, h := range f.Hosts {
		if parts, _ := filepath.Glob(h.Path("/srv/.resume.bin.murderctl-*.part")); len(parts) > 0 {
			t.Errorf("host %d (%s): .part left after a completed deploy: %v", i, h.Name, parts)
		}
	}
	assertNoLeftovers(t, f)
}

// testStalledPeer freezes one host's peer with SIGSTOP mid-transfer.
func testStalledPeer(t *testing.T, f *testfleet.Fleet, inv string) {
	const size = 24 << 20
	n, frozen := len(f.Hosts), 2
	src, sum := randomFile(t, "stall.bin", size)
	bg := startMurderctl(t, f, 4*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/", "--json",
		"--timeout", "3m", "--stall-timeout", "15s")
	pid := waitPeer(t, f, frozen, bg)
	time.Sleep(time.Second)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	r := bg.wait(t)
	t.Logf("stalled peer: deploy ended %s after the SIGSTOP (total %s)", time.Since(stopped).Round(time.Millisecond), r.Duration.Round(time.Millisecond))
	if r.Code != 2 {
		t.Errorf("exit %d, want 2 (a host failed)\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	for i, h := range f.Hosts {
		res := resultFor(t, r.Report, h.Name)
		if i == frozen {
			if res.Status != "failed" || !strings.Contains(res.Reason, "stalled") {
				t.Errorf("%s (frozen): status %q reason %q, want failed, stalled", h.Name, res.Status, res.Reason)
			}
			continue
		}
		if res.Status != "changed" {
			t.Errorf("%s: status %q (%s), want changed", h.Name, res.Status, res.Reason)
		}
	}
	assertFile(t, f, "/srv/stall.bin", sum, allBut(n, frozen)...)
	if got := fileSHA256(t, f.Hosts[frozen].Path("/srv/stall.bin")); !strings.HasPrefix(got, "missing") {
		t.Errorf("%s: the frozen peer's destination exists (sha256 %s)", f.Hosts[frozen].Name, got)
	}
	if syscall.Kill(pid, 0) == nil {
		if b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("the stopped peer (pid %d) is still alive after the deploy: %s", pid, b)
		}
	}
	assertNoLeftovers(t, f)
}

// testFullDisk gives one host a destination smaller than the file.
func testFullDisk(t *testing.T, f *testfleet.Fleet, inv string) {
	const size = 8 << 20
	n, full := len(f.Hosts), 3
	src, sum := randomFile(t, "big.bin", size)
	for i, h := range f.Hosts {
		if i != full {
			if err := os.MkdirAll(h.Path("/srv/small"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.MountTmpfs(t.Context(), full, "/srv/small", 2<<20); err != nil {
		t.Fatal(err)
	}
	r := runMurderctl(t, f, 3*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/small/", "--json", "--timeout", "2m")
	if r.Code != 2 {
		t.Errorf("exit %d, want 2\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	res := resultFor(t, r.Report, f.Hosts[full].Name)
	if res.Status != "failed" || !strings.Contains(res.Reason, "no space left") {
		t.Errorf("%s (full disk): status %q reason %q, want failed, no space left", res.Host, res.Status, res.Reason)
	}
	if ls := lsHost(t, f, full, "/srv/small"); ls != "" {
		t.Errorf("%s: the full destination holds %q, want nothing", f.Hosts[full].Name, ls)
	}
	for i, h := range f.Hosts {
		if i != full {
			if got := resultFor(t, r.Report, h.Name); got.Status != "changed" {
				t.Errorf("%s: status %q (%s), want changed", h.Name, got.Status, got.Reason)
			}
		}
	}
	assertFile(t, f, "/srv/small/big.bin", sum, allBut(n, full)...)
	assertNoLeftovers(t, f)
}

// testHostDies cuts a host's link and kills everything on it mid-transfer.
func testHostDies(t *testing.T, f *testfleet.Fleet, inv string) {
	const size = 24 << 20
	n, dead := len(f.Hosts), 4
	src, sum := randomFile(t, "dies.bin", size)
	const timeout = 100 * time.Second
	// The stall timeout must exceed the peers' own origin fallback (10s):
	// the live hosts wait that long for the pieces only the dead one held.
	bg := startMurderctl(t, f, 3*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/", "--json",
		"--timeout", timeout.String(), "--stall-timeout", "20s")
	rx0, _ := f.HostRxBytes(dead)
	if !waitFor(60*time.Second, func() bool {
		rx, _ := f.HostRxBytes(dead)
		return len(peerProcs(t, f, dead)) == 1 && rx-rx0 > size/8
	}) {
		t.Fatalf("%s never got going\nstderr: %s", f.Hosts[dead].Name, bg.stderr.String())
	}
	if err := f.LinkDown(dead); err != nil {
		t.Fatal(err)
	}
	if err := f.KillAll(dead); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.LinkUp(dead)
		f.StartSSHD(t.Context(), dead)
	})
	r := bg.wait(t)
	t.Logf("host died: deploy ended after %s (--timeout %s), exit %d", r.Duration.Round(time.Millisecond), timeout, r.Code)
	if r.Duration > timeout+5*time.Second {
		t.Errorf("the deploy took %s, past its --timeout %s", r.Duration, timeout)
	}
	if r.Code != 2 && r.Code != 4 {
		t.Errorf("exit %d, want 2 or 4\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	res := resultFor(t, r.Report, f.Hosts[dead].Name)
	if (res.Status != "unreachable" && res.Status != "failed") || res.Reason == "" {
		t.Errorf("%s (dead): status %q reason %q, want unreachable or failed with a reason", res.Host, res.Status, res.Reason)
	}
	t.Logf("dead host reported %s: %s", res.Status, res.Reason)
	for i, h := range f.Hosts {
		if i != dead {
			if got := resultFor(t, r.Report, h.Name); got.Status != "changed" {
				t.Errorf("%s: status %q (%s), want changed", h.Name, got.Status, got.Reason)
			}
		}
	}
	assertFile(t, f, "/srv/dies.bin", sum, allBut(n, dead)...)
}

// assertFile checks path's SHA-256 on the given hosts.
func assertFile(t *testing.T, f *testfleet.Fleet, path, sum string, hosts ...int) {
	t.Helper()
	for _, i := range hosts {
		if got := fileSHA256(t, f.Hosts[i].Path(path)); got != sum {
			t.Errorf("%s: %s sha256 %s, want %s", f.Hosts[i].Name, path, got, sum)
		}
	}
}

// allBut lists host indexes 0..n-1 except skip.
func allBut(n, skip int) []int {
	var out []int
	for i := range n {
		if i != skip {
			out = append(out, i)
		}
	}
	return out
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
