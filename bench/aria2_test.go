package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/murderctl/murderctl/swarm"
	"github.com/murderctl/murderctl/testfleet"
)

const trackerPort = 6969

var aria2Piece = flag.Int64("aria2.piece", 256<<10, "piece size of the aria2 swarm's .torrent (default: mktorrent's 256 KiB)")

// aria2Common are the aria2c options every swarm member uses: BitTorrent
// defaults, minus DHT and local peer discovery (the fleet has only its
// tracker), without preallocation, seeding until killed.
var aria2Common = []string{"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
	"--file-allocation=none", "--seed-ratio=0", "--summary-interval=0", "--console-log-level=warn",
	"--auto-save-interval=0"}

// doneHook runs on each host when aria2 has the whole file (before
// seeding): it stamps the time, so completion is measured to the clock's
// precision however often the bench polls.
const doneHook = "#!/bin/sh\ndate +%s.%N > /root/aria2-done.tmp && mv /root/aria2-done.tmp /root/aria2-done\n"

// BenchmarkAria2Swarm is the reference swarm of an existing client: Debian's
// opentracker and aria2c, started by hand on 50 hosts at once. The control
// node runs the tracker and a seeding aria2c; every host runs aria2c with
// the same .torrent (pieces of -aria2.piece bytes, mktorrent's default,
// and opentracker's announce URL)
// and keeps seeding until every host is done, then everything is killed.
func BenchmarkAria2Swarm(b *testing.B) {
	needRoot(b)
	for _, p := range []string{"aria2c", "opentracker"} {
		if _, err := exec.LookPath(p); err != nil {
			b.Skipf("skipping: %s not installed (apt-get install aria2 opentracker)", p)
		}
	}
	const n, mbit = 50, 10
	size := *sizeFlag
	f := testfleet.Start(b, testfleet.Options{N: n, RateMbit: mbit, Name: "bt"})
	src, sum := randomFile(b, "payload.bin", size)
	T := measureT(b, f, src)

	dir := b.TempDir()
	os.Chmod(dir, 0o755) // opentracker chroots here as nobody
	torrent, infoHash := writeTorrent(b, f, src, filepath.Join(dir, "payload.torrent"))
	if err := os.WriteFile(filepath.Join(dir, "whitelist"), []byte(infoHash+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	// Debian's opentracker only tracks whitelisted torrents; the path is
	// inside its chroot (-d).
	tracker := startBackground(b, f.ControlCommand(b.Context(), "opentracker", "-i", f.ControlIP.String(),
		"-p", strconv.Itoa(trackerPort), "-P", strconv.Itoa(trackerPort), "-d", dir, "-w", "/whitelist"),
		filepath.Join(dir, "opentracker.log"))
	defer stopBackground(tracker)
	seeder := startBackground(b, f.ControlCommand(b.Context(), "aria2c", append(slices.Clone(aria2Common),
		"--bt-seed-unverified=true", "--dir="+filepath.Dir(src), torrent)...), filepath.Join(dir, "seeder.log"))
	defer stopBackground(seeder)
	waitSeeder(b, f, infoHash, filepath.Join(dir, "seeder.log"))

	for i, h := range f.Hosts {
		if err := os.WriteFile(h.Path("/root/aria2-done.sh"), []byte(doneHook), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := copyFile(torrent, h.Path("/root/payload.torrent")); err != nil {
			b.Fatalf("host %d: %v", i, err)
		}
	}

	r := row{Case: "aria2 + opentracker", N: n, Size: size, Mbit: mbit, T: T}
	m := startMeter(b, f)
	var clients []*exec.Cmd
	defer func() {
		for _, c := range clients {
			stopBackground(c)
		}
	}()
	for i, h := range f.Hosts {
		c := f.HostCommand(b.Context(), i, "aria2c", append(slices.Clone(aria2Common),
			"--dir=/srv", "--on-bt-download-complete=/root/aria2-done.sh", "/root/payload.torrent")...)
		clients = append(clients, startBackground(b, c, filepath.Join(h.Dir, "aria2.log")))
	}
	r.AllRunning = time.Since(m.start) // every client process started

	limit := time.Now().Add(deadline(T, 40))
	doneAt := map[int]time.Duration{}
	for len(doneAt) < n && time.Now().Before(limit) && b.Context().Err() == nil {
		for i, h := range f.Hosts {
			if _, ok := doneAt[i]; ok {
				continue
			}
			if t, ok := readStamp(h.Path("/root/aria2-done")); ok {
				doneAt[i] = t.Sub(m.start)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.Wall, r.CtlTx, r.CPU = m.finish()
	var done []time.Duration
	for _, d := range doneAt {
		done = append(done, d)
	}
	if len(done) == n {
		r.Result = "ok"
		r.Wall = slices.Max(done) // the last host done, not the poll that saw it
		r.P50, r.P99 = percentile(done, 0.5), percentile(done, 0.99)
	} else {
		r.Result = fmt.Sprintf("timeout, %d/%d done", len(done), n)
	}
	for _, c := range clients {
		stopBackground(c)
	}
	if bad := badHosts(f, allHosts(n), "/srv/payload.bin", sum); len(bad) > 0 {
		r.Result += fmt.Sprintf(", %d/%d wrong or missing", len(bad), n)
	}
	record(b, r)
	slices.Sort(done)
	b.Logf("per-host completion (s): %s\ncontrol tx and CPU per second:\n%s", secondsList(done), m.timeline(size))
	if r.Result != "ok" {
		b.Errorf("aria2 swarm: %s", r.Result)
	}
}

// writeTorrent builds the .torrent of src with -aria2.piece pieces and
// opentracker's announce URL, and returns its path and hex info hash.
func writeTorrent(b *testing.B, f *testfleet.Fleet, src, path string) (string, string) {
	b.Helper()
	built, err := swarm.Build(b.Context(), src, *aria2Piece)
	if err != nil {
		b.Fatal(err)
	}
	mi := built.MetaInfo
	mi.Announce = fmt.Sprintf("http://%s:%d/announce", f.ControlIP, trackerPort)
	w, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := mi.Write(w); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return path, mi.HashInfoBytes().HexString()
}

// waitSeeder waits until the tracker counts the control node's aria2c as
// a seed (scrape "complete" >= 1).
func waitSeeder(b *testing.B, f *testfleet.Fleet, infoHash, seederLog string) {
	b.Helper()
	raw, err := hexBytes(infoHash)
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return f.ControlDial(ctx, network, addr)
		},
	}}
	u := fmt.Sprintf("http://%s:%d/scrape?info_hash=%s", f.ControlIP, trackerPort, url.QueryEscape(string(raw)))
	limit := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(limit) {
		if resp, err := client.Get(u); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(body)
			if strings.Contains(last, "8:completei") && !strings.Contains(last, "8:completei0e") {
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	log, _ := os.ReadFile(seederLog)
	b.Fatalf("the seeding aria2c never showed up as a seed on the tracker; last scrape: %q\nseeder log: %s", last, tail(string(log)))
}

func hexBytes(h string) ([]byte, error) {
	out := make([]byte, len(h)/2)
	for i := range out {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("info hash %q: %w", h, err)
		}
		out[i] = byte(v)
	}
	return out, nil
}

// startBackground starts cmd with its output in logPath; stopBackground
// ends it.
func startBackground(b *testing.B, cmd *exec.Cmd, logPath string) *exec.Cmd {
	b.Helper()
	lf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	if err := cmd.Start(); err != nil {
		lf.Close()
		b.Fatalf("start %v: %v", cmd.Args, err)
	}
	lf.Close()
	return cmd
}

// stopBackground kills cmd (SIGKILL: aria2 would otherwise linger to send
// "stopped" to the tracker) and reaps it. Safe to call twice.
func stopBackground(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil || cmd.ProcessState != nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// readStamp reads a `date +%s.%N` stamp.
func readStamp(path string) (time.Time, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, false
	}
	sec, frac, _ := strings.Cut(strings.TrimSpace(string(b)), ".")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	ns, err2 := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, false
	}
	return time.Unix(s, ns), true
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		return fmt.Errorf("copy to %s: %w", to, err)
	}
	return nil
}
