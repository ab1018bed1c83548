package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/murderctl/murderctl/inventory"
	"github.com/murderctl/murderctl/orchestrator"
)

func TestStartValidates(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no hosts", Options{Hosts: 0, Size: 1}, "between 1 and 200"},
		{"too many hosts", Options{Hosts: 201, Size: 1}, "between 1 and 200"},
		{"empty file", Options{Hosts: 1, Size: 0}, "size must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.opts.Dir = dir
			f, err := Start(context.Background(), tt.opts)
			if err == nil {
				f.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// The fleet's inventory is a real Ansible inventory: loaded and resolved
// like an operator's, it reaches every host over SSH with host keys checked.
func TestFleetReachableThroughItsInventory(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	f, err := Start(context.Background(), Options{Hosts: 3, Size: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	dir := f.Dir
	defer func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("Close left %s behind (%v)", dir, err)
		}
	}()
	if st, err := os.Stat(f.File); err != nil || st.Size() != 1<<20 {
		t.Fatalf("payload: %v", err)
	}
	for _, name := range []string{"id_ed25519", "known_hosts", "hosts.ini"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, err %v; want 0600", name, st.Mode().Perm(), err)
		}
	}

	inv, err := inventory.Load(context.Background(), []string{f.Inventory}, inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := inv.Select("demo")
	if err != nil || len(hosts) != 3 {
		t.Fatalf("Select(demo) = %d hosts, %v", len(hosts), err)
	}
	var targets []orchestrator.Target
	for _, h := range hosts {
		tg, err := orchestrator.TargetFromHost(h, inventory.ConnDefaults{HostKeyChecking: true}, orchestrator.TargetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tg.SSH.InsecureIgnoreHostKey || len(tg.SSH.KnownHostsFiles) != 1 {
			t.Errorf("%s: host keys not checked against the fleet's known_hosts: %+v", tg.Name, tg.SSH)
		}
		targets = append(targets, tg)
	}
	if targets[0].SSH.Host != "127.0.0.11" || targets[2].SSH.Host != "127.0.0.13" {
		t.Errorf("addresses %s..%s, want 127.0.0.11..13", targets[0].SSH.Host, targets[2].SSH.Host)
	}
	g := orchestrator.NewGroup(targets)
	defer g.Close()
	rs := g.Run(context.Background(), `printf %s "$HOME"`)
	for i, r := range rs {
		if r.Status != orchestrator.StatusChanged || r.Stdout != f.HostDirs[i] {
			t.Errorf("%s: %s %q stdout %q, want its own home %s", r.Host, r.Status, r.Reason, r.Stdout, f.HostDirs[i])
		}
	}
}

// A Start that fails after creating its work directory removes it (and
// stops any server it started).
func TestFailedStartCleansUp(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	if _, err := Start(context.Background(), Options{Hosts: 2, Size: -1}); err == nil {
		t.Fatal("Start succeeded")
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("failed Start left %d entries in TMPDIR", len(ents))
	}
}

func TestKeepAndOwnDir(t *testing.T) {
	own := t.TempDir()
	f, err := Start(context.Background(), Options{Hosts: 1, Size: 10, Dir: own})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(f.Inventory); err != nil {
		t.Errorf("Close removed a directory the caller gave: %v", err)
	}

	f, err = Start(context.Background(), Options{Hosts: 1, Size: 10, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(f.Dir)
	f.Close()
	if _, err := os.Stat(f.Inventory); err != nil {
		t.Errorf("Keep: the work directory is gone: %v", err)
	}
}

// Two demos can run at once: they share addresses but not ports.
func TestTwoFleetsCoexist(t *testing.T) {
	a, err := Start(context.Background(), Options{Hosts: 1, Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Start(context.Background(), Options{Hosts: 1, Size: 10})
	if err != nil {
		t.Fatalf("second fleet: %v", err)
	}
	b.Close()
}
