package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/murderctl/murderctl/testfleet"
)

// TestDeployThroughProxyJump is issue 5's jump-host case: hosts the control
// node cannot route to at all are reached through h01, set as ProxyJump in
// ansible_ssh_common_args, and still get the file peer-to-peer.
func TestDeployThroughProxyJump(t *testing.T) {
	needRoot(t)
	f := testfleet.Start(t, testfleet.Options{N: 4, RateMbit: 100, Name: "jmp"})
	jump := f.Hosts[0]
	// Cut the control node off from h02..h04: only h01 is reachable.
	for _, h := range f.Hosts[1:] {
		out, err := exec.Command("ip", "netns", "exec", f.ControlNetns(), "ip", "route", "add", "blackhole", h.IP.String()+"/32").CombinedOutput()
		if err != nil {
			t.Fatalf("blackhole %s: %v: %s", h.IP, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.SSH(ctx, 2, "true").Run(); err == nil {
		t.Fatal("control node still reaches h03 directly; the test would prove nothing")
	}

	inv := filepath.Join(t.TempDir(), "hosts.ini")
	if err := f.WriteInventory(inv, testfleet.InventoryOptions{
		Group: "behind", Hosts: []int{1, 2, 3},
		Vars: map[string]string{"ansible_ssh_common_args": fmt.Sprintf("'-o ProxyJump=root@%s'", jump.IP)},
	}); err != nil {
		t.Fatal(err)
	}
	src, sum := randomFile(t, "jumped.bin", 8<<20)
	r := runMurderctl(t, f, 3*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/", "--json")
	if r.Code != 0 {
		t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	assertStatuses(t, r.Report, 3, "changed")
	for _, i := range []int{1, 2, 3} {
		h := f.Hosts[i]
		if got := fileSHA256(t, h.Path("/srv/jumped.bin")); got != sum {
			t.Errorf("%s: sha256 %s, want %s", h.Name, got, sum)
		}
		log, _ := os.ReadFile(f.SSHDLog(i))
		if !strings.Contains(string(log), "from "+jump.IP.String()) {
			t.Errorf("%s: sshd log shows no login from the jump host %s:\n%s", h.Name, jump.IP, log)
		}
	}
}
