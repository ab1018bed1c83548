package testfleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// nsPrefix starts every namespace and directory name the package creates:
// mf-<name>-<pid>x<seq>-<role>.
const nsPrefix = "mf-"

// ErrNotRoot is returned by New when the process is not root.
var ErrNotRoot = errors.New("testfleet: needs root (network namespaces, bind mounts, tc); run the tests as root, as CI does")

var ownedRE = regexp.MustCompile(`^mf-[a-z0-9]+-(\d+)x\d+-`)

func checkTools() error {
	for _, t := range []string{"ip", "tc", "nsenter", "unshare", "sleep", "mount", sshdPath} {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("testfleet: %s not found (install iproute2, util-linux, openssh-server): %w", t, err)
		}
	}
	return nil
}

// Start builds a fleet for a test and closes it in t.Cleanup. It skips the
// test when not run as root, and fails it if the fleet cannot be built. It
// also installs HandleSignals, so Ctrl-C tears the fleet down.
func Start(t testing.TB, opts Options) *Fleet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(ErrNotRoot.Error())
	}
	HandleSignals()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	f, err := New(t.Context(), opts)
	if err != nil {
		t.Fatalf("start test fleet: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close test fleet: %v", err)
		}
	})
	return f
}

var live struct {
	sync.Mutex
	m map[*Fleet]struct{}
}

func register(f *Fleet) {
	live.Lock()
	defer live.Unlock()
	if live.m == nil {
		live.m = map[*Fleet]struct{}{}
	}
	live.m[f] = struct{}{}
}

func unregister(f *Fleet) {
	live.Lock()
	defer live.Unlock()
	delete(live.m, f)
}

var signalOnce sync.Once

// HandleSignals makes SIGINT and SIGTERM close every live fleet of this
// process, then re-raise the signal so the process dies as it would have.
// Benchmarks and tools that build fleets should call it too.
func HandleSignals() {
	signalOnce.Do(func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		go func() {
			s := <-c
			live.Lock()
			fleets := make([]*Fleet, 0, len(live.m))
			for f := range live.m {
				fleets = append(fleets, f)
			}
			live.Unlock()
			for _, f := range fleets {
				f.cancelBuild()
				<-f.built
				_ = f.Close()
			}
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			_ = syscall.Kill(os.Getpid(), s.(syscall.Signal))
		}()
	})
}

// Sweep removes what crashed runs left behind: namespaces named mf-...
// whose owning process is gone (their processes are killed first), and
// their directories in os.TempDir(). Fleets of live processes are left alone.
func Sweep(ctx context.Context, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names, _ := listNetns()
	for _, ns := range names {
		if ownerGone(ns) {
			err := removeNetns(ctx, ns)
			log.Info("swept leftover namespace", "netns", ns, "err", err)
		}
	}
	ents, _ := os.ReadDir(os.TempDir())
	for _, e := range ents {
		if e.IsDir() && ownerGone(e.Name()) {
			p := filepath.Join(os.TempDir(), e.Name())
			log.Info("swept leftover dir", "dir", p, "err", os.RemoveAll(p))
		}
	}
}

func ownerGone(name string) bool {
	m := ownedRE.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil {
		return false
	}
	return pid != os.Getpid() && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func listNetns() ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("testfleet: list namespaces: %w", err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), nsPrefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// killNetns SIGKILLs every process in namespace ns until none is left.
func killNetns(ctx context.Context, ns string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output()
		if err != nil {
			return fmt.Errorf("testfleet: list processes in %s: %w", ns, err)
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testfleet: processes %v in %s survive SIGKILL", pids, ns)
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// removeNetns kills the namespace's processes and deletes it; its links go
// with it.
func removeNetns(ctx context.Context, ns string) error {
	kerr := killNetns(ctx, ns)
	if err := run(ctx, "ip", "netns", "del", ns); err != nil {
		return errors.Join(kerr, fmt.Errorf("testfleet: delete namespace: %w", err))
	}
	return kerr
}
