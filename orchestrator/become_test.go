package orchestrator

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/murderctl/murderctl/inventory"
)

func TestBecomeMapping(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(p, []byte(`plain
root ansible_become=true
rootsudo ansible_become=yes ansible_become_method=sudo ansible_become_user=root
su ansible_become=true ansible_become_method=su
other ansible_become=true ansible_become_user=www-data
withpw ansible_become=true ansible_become_password=hunter2
off ansible_become=false ansible_become_method=su
`), 0o600)
	inv, err := inventory.Load(context.Background(), []string{p}, inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ host, user, wantErr string }{
		{"plain", "", ""},
		{"root", "root", ""},
		{"rootsudo", "root", ""},
		{"off", "", ""}, // become off: its method is never used
		{"su", "", "ansible_become_method=su is not supported"},
		{"other", "", "ansible_become_user=www-data is not supported"},
		{"withpw", "", "ansible_become_password is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			tg, err := TargetFromHost(inv.Host(tt.host), inventory.ConnDefaults{HostKeyChecking: true}, TargetOptions{Home: "/h"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.host) {
					t.Fatalf("err = %v, want it to name %s and say %q", err, tt.host, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tg.BecomeUser != tt.user {
				t.Errorf("BecomeUser = %q, want %q", tg.BecomeUser, tt.user)
			}
		})
	}
}

// A deploy with become runs the destination check and the peer through
// sudo: here to root, as root, which sudo allows without a password.
func TestDeployWithBecome(t *testing.T) {
	if _, err := exec.LookPath("sudo"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and sudo (CI installs sudo)")
	}
	hosts := startHosts(t, 2, 71)
	src, _ := payload(t, 2<<20)
	targets := targetsOf(hosts)
	for i := range targets {
		targets[i].BecomeUser = "root"
	}
	rep, err := Deploy(context.Background(), deployOpts(t, src, targets))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Status != StatusChanged {
			t.Errorf("%s: %s (%s) stderr %q", r.Host, r.Status, r.Reason, r.Stderr)
		}
	}
	// A become user sudo refuses fails the host at the probe, before any change.
	targets = targetsOf(hosts[:1])
	targets[0].BecomeUser = "no-such-user-murderctl"
	rep, err = Deploy(context.Background(), deployOpts(t, src, targets))
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Status != StatusFailed || !strings.Contains(r.Reason, "no-such-user-murderctl") {
		t.Errorf("unknown become user: %s %q, want failed naming the user", r.Status, r.Reason)
	}
}
