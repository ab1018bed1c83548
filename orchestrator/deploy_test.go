package orchestrator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/murderctl/murderctl/swarm"
)

// payload writes size random bytes and returns the path and content.
func payload(t *testing.T, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	p := filepath.Join(t.TempDir(), "payload.bin")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// deployOpts is a deploy to the in-process fleet with the test's peer build.
func deployOpts(t *testing.T, src string, targets []Target) DeployOptions {
	return DeployOptions{
		Source: src, Targets: targets, BindPeers: true, Timeout: 2 * time.Minute,
		Binaries: &BinarySet{Dirs: []string{peerBinDir(t)}},
	}
}

func TestDeploy(t *testing.T) {
	hosts := startHosts(t, 5, 51)
	src, content := payload(t, 6<<20)
	sum := sha256.Sum256(content)
	targets := append(targetsOf(hosts), deadTarget(t, "dead", "127.0.0.57", hosts[0].target))

	opts := deployOpts(t, src, targets)
	var events atomic.Int64
	opts.OnEvent = func(host string, ev swarm.Event) { events.Add(1) }
	rep, err := Deploy(context.Background(), opts)
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if rep.SHA256 != hex.EncodeToString(sum[:]) || rep.Size != int64(len(content)) {
		t.Errorf("report sha %s size %d", rep.SHA256, rep.Size)
	}
	if len(rep.Results) != 6 {
		t.Fatalf("%d results", len(rep.Results))
	}
	for i, r := range rep.Results[:5] {
		if r.Host != hosts[i].target.Name || r.Status != StatusChanged {
			t.Errorf("%s: %s (%s) stderr %q, want changed", r.Host, r.Status, r.Reason, r.Stderr)
			continue
		}
		want := filepath.Join(hosts[i].home, "payload.bin")
		if r.Dest != want {
			t.Errorf("%s: Dest %s, want %s", r.Host, r.Dest, want)
		}
		got, err := os.ReadFile(want)
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("%s: file content differs (err %v)", r.Host, err)
		}
		// 6 MiB in 64 KiB pieces is six SHA-256 chain segments: a chain
		// that does not fit the file would fall back to a full hash, and
		// say so.
		if strings.Contains(r.Stderr, "sha256 chain") {
			t.Errorf("%s: the SHA-256 chain was refused: %s", r.Host, r.Stderr)
		}
	}
	dead := rep.Results[5]
	if dead.Host != "dead" || dead.Status != StatusUnreachable || !strings.Contains(dead.Reason, "refused") {
		t.Errorf("dead host: %s %s %q, want unreachable, refused", dead.Host, dead.Status, dead.Reason)
	}
	if events.Load() < 10 {
		t.Errorf("OnEvent saw %d events", events.Load())
	}
	if rep.SeederUploaded <= 0 {
		t.Errorf("seeder uploaded %d", rep.SeederUploaded)
	}
	for _, h := range hosts {
		if l := leftovers(t, h.home); len(l) > 0 {
			t.Errorf("%s: leftovers %v", h.target.Name, l)
		}
		// The cache keeps the content-addressed peer binary, its archive
		// (served to other hosts) and its verification stamp only: the peer
		// removes its torrent when done.
		ents, _ := os.ReadDir(filepath.Join(h.home, remoteDir))
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if len(names) != 3 || !cacheEntry.MatchString(names[0]) || names[1] != names[0]+".gz" || names[2] != names[0]+".ok" {
			t.Errorf("%s: cache holds %v, want only peer-<sha256>, its .gz archive and its .ok stamp", h.target.Name, names)
		}
		if st, err := os.Stat(filepath.Join(h.home, remoteDir)); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: cache dir mode %v, want 0700", h.target.Name, st.Mode().Perm())
		}
	}

	// Again, reachable hosts only: nothing to change, nothing downloaded.
	// The binary is cached, so one session probes and launches each peer.
	for _, h := range hosts {
		if n := h.execs.Load(); n < 2 {
			t.Errorf("%s: first contact ran %d commands, want the probe, the push and the launch", h.target.Name, n)
		}
		h.execs.Store(0)
	}
	opts = deployOpts(t, src, targetsOf(hosts))
	rep, err = Deploy(context.Background(), opts)
	if err != nil {
		t.Fatalf("second Deploy: %v", err)
	}
	for _, r := range rep.Results {
		if r.Status != StatusOK || r.Downloaded != 0 {
			t.Errorf("second run %s: %s downloaded %d (%s), want ok and 0", r.Host, r.Status, r.Downloaded, r.Reason)
		}
	}
	if rep.SeederUploaded != 0 {
		t.Errorf("second run: seeder uploaded %d, want 0", rep.SeederUploaded)
	}
	for _, h := range hosts {
		if n := h.execs.Load(); n != 1 {
			t.Errorf("%s: a deploy with the binary cached ran %d commands, want 1 (probe and launch)", h.target.Name, n)
		}
	}
	for _, h := range hosts {
		noProcessesUnder(t, h.home)
	}

	// A cached peer binary that no longer matches its name is not run; it
	// is removed, and the deploy after pushes it again.
	bins, _ := filepath.Glob(filepath.Join(hosts[0].home, remoteDir, "peer-*[0-9a-f]"))
	if len(bins) != 1 {
		t.Fatalf("host01 cache: %v", bins)
	}
	if err := os.WriteFile(bins[0], []byte("#!/bin/sh\necho tampered\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(hosts[0].home, "payload.bin"))
	rep, err = Deploy(context.Background(), deployOpts(t, src, targetsOf(hosts[:2])))
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Status != StatusFailed || !strings.Contains(r.Reason, "SHA-256 check") {
		t.Errorf("tampered binary: %s %q, want failed on its SHA-256 check", r.Status, r.Reason)
	}
	if _, err := os.Stat(filepath.Join(hosts[0].home, "payload.bin")); err == nil {
		t.Error("the payload arrived although the peer must not have run")
	}
	if _, err := os.Stat(bins[0]); err == nil {
		t.Error("the tampered binary is still cached")
	}
	rep, err = Deploy(context.Background(), deployOpts(t, src, targetsOf(hosts[:1])))
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Status != StatusChanged {
		t.Errorf("after the tampered binary was removed: %s %q, want changed", r.Status, r.Reason)
	}
	for _, h := range hosts {
		noProcessesUnder(t, h.home)
	}
}

// The destination's directory exists on some hosts only: those change, the
// others fail with the peer's reason, and the swarm still completes.
func TestDeployDestParentMissing(t *testing.T) {
	hosts := startHosts(t, 3, 61)
	for _, h := range hosts[:2] {
		os.Mkdir(filepath.Join(h.home, "srv"), 0o700)
	}
	src, content := payload(t, 4<<20)
	opts := deployOpts(t, src, targetsOf(hosts))
	opts.Dest = "srv/app.bin"
	rep, err := Deploy(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rep.Results[:2] {
		got, _ := os.ReadFile(filepath.Join(hosts[i].home, "srv", "app.bin"))
		if r.Status != StatusChanged || !bytes.Equal(got, content) {
			t.Errorf("%s: %s (%s), want changed with the file in place", r.Host, r.Status, r.Reason)
		}
	}
	r := rep.Results[2]
	if r.Status != StatusFailed || !strings.Contains(r.Reason, "srv") || !strings.Contains(r.Reason, "does not exist") {
		t.Errorf("%s: %s %q, want failed: destination directory srv does not exist", r.Host, r.Status, r.Reason)
	}
	for _, h := range hosts {
		if l := leftovers(t, h.home); len(l) > 0 {
			t.Errorf("%s: leftovers %v", h.target.Name, l)
		}
		noProcessesUnder(t, h.home)
	}
}

func TestDeployRefusesBadSource(t *testing.T) {
	hosts := startHosts(t, 1, 65)
	for name, src := range map[string]string{"missing": filepath.Join(t.TempDir(), "nope"), "directory": t.TempDir()} {
		if _, err := Deploy(context.Background(), DeployOptions{Source: src, Targets: targetsOf(hosts)}); err == nil {
			t.Errorf("%s source: Deploy succeeded", name)
		}
	}
	if _, err := Deploy(context.Background(), DeployOptions{Source: "x"}); err == nil || !strings.Contains(err.Error(), "no hosts") {
		t.Errorf("no targets: err = %v", err)
	}
}

// onlyPrivateParts checks that an interrupted deploy left no temporary file
// on h but private partial downloads, which the next run resumes from.
func onlyPrivateParts(t *testing.T, h *testHost) {
	t.Helper()
	for _, l := range leftovers(t, h.home) {
		if !strings.HasSuffix(l, ".part") {
			t.Errorf("%s: leftover %s", h.target.Name, l)
		} else if st, err := os.Stat(l); err == nil && st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: partial file %s has mode %v, want private", h.target.Name, l, st.Mode().Perm())
		}
	}
}

// A deploy that runs out of time fails its unfinished hosts, saying so, and
// leaves no peer and no temporary file behind (but resumable parts).
func TestDeployTimeout(t *testing.T) {
	hosts := startHosts(t, 4, 71)
	src, _ := payload(t, 4<<20)
	for _, timeout := range []time.Duration{time.Millisecond, 400 * time.Millisecond} {
		t.Run(timeout.String(), func(t *testing.T) {
			opts := deployOpts(t, src, targetsOf(hosts))
			opts.Timeout = timeout
			start := time.Now()
			rep, err := Deploy(context.Background(), opts)
			if d := time.Since(start); d > timeout+15*time.Second {
				t.Errorf("Deploy took %s with a %s timeout", d, timeout)
			}
			if err != nil {
				// Out of time before any host was contacted (verifying the
				// source for the seeder): the deploy did not start.
				if !strings.Contains(err.Error(), "deploy timed out after "+timeout.String()) {
					t.Fatalf("Deploy: %v, want it to say it timed out", err)
				}
				rep = &Report{}
			}
			t.Logf("Deploy returned after %s", time.Since(start))
			for _, r := range rep.Results {
				t.Logf("%s: %s %q", r.Host, r.Status, r.Reason)
			}
			failed := 0
			for _, r := range rep.Results {
				switch r.Status {
				case StatusChanged, StatusOK:
				case StatusFailed:
					failed++
					if !strings.Contains(r.Reason, "timed out") {
						t.Errorf("%s: failed with %q, want it to say the deploy timed out", r.Host, r.Reason)
					}
				default:
					t.Errorf("%s: %s %q, want failed (timed out)", r.Host, r.Status, r.Reason)
				}
			}
			if timeout == time.Millisecond && err == nil && failed != len(hosts) {
				t.Errorf("%d of %d hosts failed after a 1ms timeout", failed, len(hosts))
			}
			for _, h := range hosts {
				noProcessesUnder(t, h.home)
				onlyPrivateParts(t, h)
			}
		})
	}
}

// Cancelling mid-transfer stops every peer and leaves nothing running. A
// peer may keep its private partial file (resume); the next deploy uses it
// and leaves no temporary file at all.
func TestDeployCancelMidTransfer(t *testing.T) {
	hosts := startHosts(t, 4, 81)
	src, content := payload(t, 8<<20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := deployOpts(t, src, targetsOf(hosts))
	var started, running atomic.Int64
	fleetDir := filepath.Dir(hosts[0].home)
	opts.OnEvent = func(host string, ev swarm.Event) {
		if ev.Event == swarm.EventStarted && started.Add(1) == 2 {
			// The check for leftover processes below can see peers.
			running.Store(int64(len(processesUnder(fleetDir))))
			cancel()
		}
	}
	rep, err := Deploy(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if started.Load() < 2 || running.Load() < 2 {
		t.Fatalf("%d peers started, %d seen running, before the deploy ended; want 2", started.Load(), running.Load())
	}
	for _, r := range rep.Results {
		if r.Status == StatusUnreachable {
			t.Errorf("%s: unreachable (%s) after a cancel; want failed or done", r.Host, r.Reason)
		}
		if r.Status == StatusFailed && !strings.Contains(r.Reason, "context canceled") {
			t.Errorf("%s: reason %q, want the cancel", r.Host, r.Reason)
		}
	}
	for _, h := range hosts {
		noProcessesUnder(t, h.home)
		onlyPrivateParts(t, h)
	}

	rep, err = Deploy(context.Background(), deployOpts(t, src, targetsOf(hosts)))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rep.Results {
		got, _ := os.ReadFile(filepath.Join(hosts[i].home, "payload.bin"))
		if r.Failed() || !bytes.Equal(got, content) {
			t.Errorf("rerun %s: %s %q, want the file in place", r.Host, r.Status, r.Reason)
		}
	}
	for _, h := range hosts {
		noProcessesUnder(t, h.home)
		if l := leftovers(t, h.home); len(l) > 0 {
			t.Errorf("%s: leftovers after the rerun: %v", h.target.Name, l)
		}
	}
}

// A .torrent too big to travel inline is pushed as a file, and the peer
// deletes it when it exits.
func TestDeployTorrentAsFile(t *testing.T) {
	defer func(old int) { maxInlineTorrent = old }(maxInlineTorrent)
	maxInlineTorrent = 0
	hosts := startHosts(t, 2, 71)
	src, content := payload(t, 1<<20)
	rep, err := Deploy(context.Background(), deployOpts(t, src, targetsOf(hosts)))
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	for i, r := range rep.Results {
		if r.Status != StatusChanged {
			t.Errorf("%s: %s (%s), want changed", r.Host, r.Status, r.Reason)
			continue
		}
		if got, err := os.ReadFile(filepath.Join(hosts[i].home, "payload.bin")); err != nil || !bytes.Equal(got, content) {
			t.Errorf("%s: file content differs (err %v)", r.Host, err)
		}
		torrents, _ := filepath.Glob(filepath.Join(hosts[i].home, remoteDir, "*.torrent"))
		if len(torrents) != 0 {
			t.Errorf("%s: pushed torrent left behind: %v", r.Host, torrents)
		}
	}
}
