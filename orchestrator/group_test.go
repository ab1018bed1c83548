package orchestrator

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGroupRun(t *testing.T) {
	hosts := startHosts(t, 3, 31)
	codes := []string{"0", "3", "0"}
	for i, h := range hosts {
		os.WriteFile(filepath.Join(h.home, "code"), []byte(codes[i]), 0o600)
	}
	targets := append(targetsOf(hosts), deadTarget(t, "dead", "127.0.0.34", hosts[0].target))
	g := &Group{Targets: targets, Forks: 2}
	defer g.Close()

	rs := g.Run(context.Background(), `echo "out $(basename "$HOME")"; echo "first err" >&2; echo "second err" >&2; exit "$(cat code)"`)
	if len(rs) != 4 {
		t.Fatalf("got %d results, want 4", len(rs))
	}
	want := []struct {
		status Status
		code   int
	}{{StatusChanged, 0}, {StatusFailed, 3}, {StatusChanged, 0}, {StatusUnreachable, 0}}
	for i, r := range rs {
		if r.Host != targets[i].Name || r.Status != want[i].status || r.ExitCode != want[i].code {
			t.Errorf("result %d = %s %s exit %d (%s), want %s %s exit %d", i, r.Host, r.Status, r.ExitCode, r.Reason,
				targets[i].Name, want[i].status, want[i].code)
		}
		if r.Duration <= 0 {
			t.Errorf("%s: no duration", r.Host)
		}
	}
	if rs[0].Stdout != "out host01\n" || rs[0].Stderr != "first err\nsecond err\n" {
		t.Errorf("host01 stdout %q stderr %q", rs[0].Stdout, rs[0].Stderr)
	}
	if rs[1].Reason != "non-zero return code 3: first err" || rs[1].Err == nil {
		t.Errorf("host02 reason %q err %v", rs[1].Reason, rs[1].Err)
	}
	if !strings.Contains(rs[3].Reason, "refused") {
		t.Errorf("dead host reason %q, want connection refused", rs[3].Reason)
	}
	ok, changed, failed, unreachable := rs.Counts()
	if ok != 2 || changed != 2 || failed != 1 || unreachable != 1 {
		t.Errorf("Counts = %d %d %d %d, want 2 2 1 1", ok, changed, failed, unreachable)
	}
	err := rs.Err()
	var he *HostError
	if !errors.As(err, &he) || !strings.Contains(err.Error(), "host02: non-zero return code 3") || !strings.Contains(err.Error(), "dead: ") {
		t.Errorf("Results.Err() = %v", err)
	}

	// Connections are reused: a second Run on the same group succeeds again
	// and sees the same server-side state.
	rs = g.Run(context.Background(), "true")
	if rs[0].Status != StatusChanged || rs[1].Status != StatusChanged || rs[3].Status != StatusUnreachable {
		t.Errorf("second run: %+v", rs)
	}
	if n := len(g.conns); n != 3 {
		t.Errorf("group caches %d connections, want 3", n)
	}
	if err := g.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if rs := g.Run(context.Background(), "true"); rs[0].Status != StatusChanged {
		t.Errorf("run after Close (redial): %s %s", rs[0].Status, rs[0].Reason)
	}
}

func TestGroupRunBadHostKey(t *testing.T) {
	hosts := startHosts(t, 1, 35)
	other := startHosts(t, 1, 36) // a different host key in its own known_hosts
	tgt := hosts[0].target
	tgt.SSH.KnownHostsFiles = other[0].target.SSH.KnownHostsFiles
	g := &Group{Targets: []Target{tgt}}
	defer g.Close()
	rs := g.Run(context.Background(), "touch ran")
	if rs[0].Status != StatusUnreachable {
		t.Fatalf("status %s (%s), want unreachable on an unknown host key", rs[0].Status, rs[0].Reason)
	}
	if _, err := os.Stat(filepath.Join(hosts[0].home, "ran")); err == nil {
		t.Fatal("the command ran on a host whose key did not check out")
	}
}

func TestGroupRunCancelled(t *testing.T) {
	hosts := startHosts(t, 2, 37)
	g := &Group{Targets: targetsOf(hosts)}
	defer g.Close()

	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("operator gave up"))
	for _, r := range g.Run(ctx, "touch ran") {
		if r.Status != StatusFailed || !strings.Contains(r.Reason, "not started: operator gave up") {
			t.Errorf("%s: %s %q, want failed, not started", r.Host, r.Status, r.Reason)
		}
	}

	// Cancelling a running command stops it, and Run returns promptly.
	ctx, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	start := time.Now()
	rs := g.Run(ctx, "sleep 30; touch ran")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancelled Run took %s", d)
	}
	for _, r := range rs {
		if r.Status != StatusFailed || !strings.Contains(r.Reason, "deadline exceeded") {
			t.Errorf("%s: %s %q after the deadline, want failed (a deadline is not the host's fault)", r.Host, r.Status, r.Reason)
		}
	}
	for _, h := range hosts {
		if _, err := os.Stat(filepath.Join(h.home, "ran")); err == nil {
			t.Errorf("%s: command ran on", h.target.Name)
		}
	}
}

func TestGroupPut(t *testing.T) {
	hosts := startHosts(t, 3, 41)
	os.Mkdir(filepath.Join(hosts[0].home, "dir"), 0o700)
	os.Mkdir(filepath.Join(hosts[1].home, "dir"), 0o700)
	// host03 has no dir/: its Put fails.
	src := filepath.Join(t.TempDir(), "payload")
	content := make([]byte, 3<<20+17)
	rand.Read(content)
	os.WriteFile(src, content, 0o600)

	targets := append(targetsOf(hosts), deadTarget(t, "dead", "127.0.0.44", hosts[0].target))
	g := &Group{Targets: targets}
	defer g.Close()
	rs := g.Put(context.Background(), src, "dir/payload.bin", 0o640)
	want := []Status{StatusChanged, StatusChanged, StatusFailed, StatusUnreachable}
	for i, r := range rs {
		if r.Status != want[i] {
			t.Errorf("%s: %s (%s), want %s", r.Host, r.Status, r.Reason, want[i])
		}
	}
	for _, h := range hosts[:2] {
		p := filepath.Join(h.home, "dir", "payload.bin")
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("%s: content differs (err %v)", h.target.Name, err)
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", h.target.Name, st.Mode().Perm())
		}
		if rs[0].Dest != "dir/payload.bin" {
			t.Errorf("Dest %q", rs[0].Dest)
		}
	}
	if !strings.Contains(rs[2].Reason, "put dir/payload.bin") {
		t.Errorf("host03 reason %q, want it to name the path", rs[2].Reason)
	}
	for _, h := range hosts {
		if l := leftovers(t, h.home); len(l) > 0 {
			t.Errorf("%s: temporary files left: %v", h.target.Name, l)
		}
	}

	// A missing local file fails every reachable host, naming the file.
	rs = g.Put(context.Background(), filepath.Join(t.TempDir(), "nope"), "x", 0o600)
	if rs[0].Status != StatusFailed || !strings.Contains(rs[0].Reason, "nope") {
		t.Errorf("missing source: %s %q", rs[0].Status, rs[0].Reason)
	}
}

// Readers of the remote path see the old content or the new, never a mix
// or a prefix.
func TestGroupPutAtomic(t *testing.T) {
	hosts := startHosts(t, 1, 45)
	dir := t.TempDir()
	old, new := bytes.Repeat([]byte("o"), 4<<20), bytes.Repeat([]byte("n"), 4<<20)
	remote := filepath.Join(hosts[0].home, "f")
	os.WriteFile(remote, old, 0o600)
	src := filepath.Join(dir, "new")
	os.WriteFile(src, new, 0o600)

	var stop atomic.Bool
	var reads, bad atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			got, err := os.ReadFile(remote)
			reads.Add(1)
			if err != nil || !(bytes.Equal(got, old) || bytes.Equal(got, new)) {
				bad.Add(1)
			}
		}
	}()
	g := &Group{Targets: targetsOf(hosts)}
	defer g.Close()
	rs := g.Put(context.Background(), src, "f", 0o600)
	stop.Store(true)
	wg.Wait()
	if rs[0].Status != StatusChanged {
		t.Fatalf("Put: %s %s", rs[0].Status, rs[0].Reason)
	}
	if bad.Load() > 0 {
		t.Errorf("%d of %d reads saw neither the old nor the new content", bad.Load(), reads.Load())
	}
	if got, _ := os.ReadFile(remote); !bytes.Equal(got, new) {
		t.Error("final content is not the new file")
	}
}
