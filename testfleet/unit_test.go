package testfleet

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHostPath(t *testing.T) {
	h := &Host{Dir: "/fleet/h01"}
	tests := []struct{ in, want string }{
		{"/root/pkg.tar.gz", "/fleet/h01/root/pkg.tar.gz"},
		{"pkg.tar.gz", "/fleet/h01/root/pkg.tar.gz"},
		{"/srv/a/b", "/fleet/h01/srv/a/b"},
		{"/srv", "/fleet/h01/srv"},
		{"/var/tmp/x", "/fleet/h01/var-tmp/x"},
		{"/var/log/x", ""},
		{"/tmp/../srv/x", "/fleet/h01/srv/x"},
		{"/etc/ssh/sshd_config", "/fleet/h01/etc-ssh/sshd_config"},
		{"/srvx/a", ""},
		{"/etc/passwd", ""},
		{"/root/../etc/passwd", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := h.Path(tt.in); got != tt.want {
				t.Errorf("Path(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"zero hosts", Options{}, "N=0"},
		{"too many hosts", Options{N: MaxHosts + 1}, "N=241"},
		{"negative rate", Options{N: 1, RateMbit: -1}, "negative"},
		{"ipv6 subnet", Options{N: 1, Subnet: netip.MustParsePrefix("fd00::/64")}, "IPv4"},
		{"subnet too small", Options{N: 1, Subnet: netip.MustParsePrefix("10.1.2.0/28")}, "/24"},
		{"ok", Options{N: 3, RateMbit: 10}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			err := o.applyDefaults("x-1x1")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if o.ControlRateMbit != o.RateMbit || !o.Subnet.Addr().Is4() || o.Subnet.Bits() != 24 || o.Logger == nil {
					t.Errorf("defaults not applied: %+v", o)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestTBFArgs(t *testing.T) {
	tests := []struct {
		mbit      float64
		rate      string
		minBurst  int64
		minLimitB int64
	}{
		{10, "10000000bit", 64 << 10, 64<<10 + 125000},
		{1000, "1000000000bit", 2500000, 2500000 + 12500000},
		{0.5, "500000bit", 64 << 10, 64 << 10},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatFloat(tt.mbit, 'f', -1, 64), func(t *testing.T) {
			a := tbfArgs(tt.mbit)
			if a[0] != "tbf" || a[1] != "rate" || a[2] != tt.rate {
				t.Fatalf("tbfArgs(%v) = %v", tt.mbit, a)
			}
			burst, _ := strconv.ParseInt(a[4], 10, 64)
			limit, _ := strconv.ParseInt(a[6], 10, 64)
			if burst < tt.minBurst || limit < tt.minLimitB {
				t.Errorf("tbfArgs(%v): burst %d limit %d, want >= %d, %d", tt.mbit, burst, limit, tt.minBurst, tt.minLimitB)
			}
		})
	}
}

func TestOwnerGone(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := strconv.Itoa(dead.Process.Pid)
	tests := []struct {
		name string
		want bool
	}{
		{"mf-e2e-" + deadPid + "x1-h01", true},
		{"mf-e2e-" + strconv.Itoa(os.Getpid()) + "x1-h01", false},
		{"mf-e2e-1x1-sw", false}, // pid 1 is alive
		{"other-" + deadPid + "x1-sw", false},
		{"mf-E2E-" + deadPid + "x1-sw", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ownerGone(tt.name); got != tt.want {
				t.Errorf("ownerGone(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestWriteInventory(t *testing.T) {
	f := &Fleet{keyFile: "/k/id_ed25519", Hosts: []*Host{
		{Name: "h01", IP: netip.MustParseAddr("10.9.9.11")},
		{Name: "h02", IP: netip.MustParseAddr("10.9.9.12")},
	}}
	p := filepath.Join(t.TempDir(), "hosts")
	err := f.WriteInventory(p, InventoryOptions{Group: "web", Hosts: []int{1}, Vars: map[string]string{"b": "2", "a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := "[web]\nh02 ansible_host=10.9.9.12 ansible_user=root ansible_ssh_private_key_file=/k/id_ed25519\n\n[web:vars]\na=1\nb=2\n"
	if string(b) != want {
		t.Errorf("inventory:\n%s\nwant:\n%s", b, want)
	}
	f.khFile = "/k/known_hosts"
	if err := f.WriteInventory(p, InventoryOptions{KnownHosts: true}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(p)
	if want := "\n[fleet:vars]\nansible_ssh_common_args='-o UserKnownHostsFile=/k/known_hosts -o GlobalKnownHostsFile=/dev/null'\n"; !strings.HasSuffix(string(b), want) {
		t.Errorf("inventory with KnownHosts:\n%s\nwant suffix:\n%s", b, want)
	}
	if err := f.WriteInventory(p, InventoryOptions{Hosts: []int{2}}); err == nil {
		t.Error("out-of-range host index accepted")
	}
	if err := f.WriteInventory(p, InventoryOptions{Group: "a b"}); err == nil {
		t.Error("bad group name accepted")
	}
}

func TestSweepRemovesLeftovers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip(ErrNotRoot.Error())
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	ns := "mf-sweep-" + strconv.Itoa(dead.Process.Pid) + "x1-h01"
	if err := run(t.Context(), "ip", "netns", "add", ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = removeNetns(t.Context(), ns) })
	// A process left running in it, as after a crash.
	orphan := exec.Command("ip", "netns", "exec", ns, "sleep", "60")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { orphan.Process.Kill() })
	done := make(chan error, 1)
	go func() { done <- orphan.Wait() }()
	// Sweep finds processes by namespace: wait until the orphan is in it
	// (ip netns exec has to enter it first).
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		if len(strings.TrimSpace(string(out))) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the orphan never entered its namespace")
		}
		time.Sleep(20 * time.Millisecond)
	}
	dir := filepath.Join(os.TempDir(), ns+"-leftover")
	if err := os.MkdirAll(filepath.Join(dir, "h01/root"), 0o700); err != nil {
		t.Fatal(err)
	}
	Sweep(t.Context(), nil)
	if _, err := os.Stat(filepath.Join(netnsDir, ns)); !os.IsNotExist(err) {
		t.Errorf("namespace %s survived Sweep: %v", ns, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dir %s survived Sweep: %v", dir, err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("process in the leftover namespace survived Sweep")
	}
}
