package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/murderctl/murderctl/testfleet"
)

// TestAnsiblePlaybook runs the real ansible-playbook with
// playbooks/deploy.yml and the murderctl_deploy module against a fleet:
// a deploy with a relative src (changed), the same deploy again (not
// changed, module found through playbooks/ansible.cfg this time), check
// mode with --limit (no host touched), and a deploy with one host's sshd
// down (the playbook fails and names that host; the module alone, run
// ad hoc, fails with rc 4).
func TestAnsiblePlaybook(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ansible-playbook not found (.ci/run installs ansible-core): %v", err)
		}
		t.Skip("skipping: ansible-playbook not installed (apt-get install ansible-core)")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	playbook := filepath.Join(repo, "playbooks", "deploy.yml")

	const hosts, size = 4, 8 << 20
	f := testfleet.Start(t, testfleet.Options{N: hosts, RateMbit: 100, Name: "ans"})
	inv := filepath.Join(t.TempDir(), "hosts.ini")
	// The fleet's known_hosts through ansible_ssh_common_args, as an operator
	// would write it. (InventoryOptions.KnownHosts also adds
	// GlobalKnownHostsFile=/dev/null, which murderctl rejects today.)
	sshArgs := "'-o UserKnownHostsFile=" + f.KnownHostsFile() + "'"
	if err := f.WriteInventory(inv, testfleet.InventoryOptions{Vars: map[string]string{"ansible_ssh_common_args": sshArgs}}); err != nil {
		t.Fatal(err)
	}
	src, sum := randomFile(t, "pkg.bin", size)
	vars := func(src, dest string) string {
		b, _ := json.Marshal(map[string]string{"src": src, "dest": dest})
		return string(b)
	}
	withLibrary := playbookRun{dir: t.TempDir(), library: filepath.Join(repo, "ansible", "modules")}

	// src relative to where ansible-playbook starts, as an operator types it.
	fromSrcDir := playbookRun{dir: filepath.Dir(src), library: withLibrary.library}
	first := fromSrcDir.run(t, f, "-i", inv, playbook, "-e", vars(filepath.Base(src), "/srv/"))
	if first.code != 0 {
		t.Fatalf("first run: ansible-playbook exit %d, want 0\n%s", first.code, first.out)
	}
	for i, h := range f.Hosts {
		if got := fileSHA256(t, h.Path("/srv/pkg.bin")); got != sum {
			t.Errorf("host %d (%s): /srv/pkg.bin sha256 %s, want %s", i, h.Name, got, sum)
		}
	}
	res := first.moduleResult(t)
	if res.Status != "changed" || !res.Changed || len(res.ChangedHosts) != hosts || res.SHA256 != sum {
		t.Errorf("first run: module said %s, changed=%v, changed_hosts=%v, sha256=%s; want changed for all %d hosts, sha256 %s\n%s",
			res.Status, res.Changed, res.ChangedHosts, res.SHA256, hosts, sum, first.out)
	}
	t.Logf("first run: murderctl deploy took %.1fs", res.Duration)
	// h01 also carries the run_once module task, itself changed.
	first.wantRecap(t, f, func(i int, r recapLine) bool { return r.changed == 1+btoi(i == 0) && r.failed == 0 },
		"changed=1 (2 on h01, which ran the module) failed=0")

	// Again, from playbooks/ so that its ansible.cfg supplies the library.
	again := playbookRun{dir: filepath.Join(repo, "playbooks")}.run(t, f, "-i", inv, "deploy.yml", "-e", vars(src, "/srv/"))
	if again.code != 0 {
		t.Fatalf("second run: ansible-playbook exit %d, want 0\n%s", again.code, again.out)
	}
	res = again.moduleResult(t)
	if res.Status != "ok" || res.Changed || len(res.OKHosts) != hosts {
		t.Errorf("second run: module said %s, changed=%v, ok_hosts=%v; want ok (changed=false) for all %d hosts\n%s",
			res.Status, res.Changed, res.OKHosts, hosts, again.out)
	}
	t.Logf("second run: murderctl deploy took %.1fs", res.Duration)
	again.wantRecap(t, f, func(i int, r recapLine) bool { return r.changed == 0 && r.failed == 0 }, "changed=0 failed=0")

	t.Run("check mode", func(t *testing.T) {
		src2, _ := randomFile(t, "check.bin", 1<<20)
		r := withLibrary.run(t, f, "-i", inv, playbook, "--check", "-l", "h01:h03", "-e", vars(src2, "/srv/"))
		if r.code != 0 {
			t.Fatalf("ansible-playbook --check exit %d, want 0\n%s", r.code, r.out)
		}
		res := r.moduleResult(t)
		if res.Status != "skipping" || !slices.Equal(res.Targets, []string{"h01", "h03"}) {
			t.Errorf("check mode: module said %s with targets %v, want skipping with targets [h01 h03]\n%s", res.Status, res.Targets, r.out)
		}
		for _, h := range f.Hosts {
			if _, err := os.Stat(h.Path("/srv/check.bin")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("check mode touched %s: stat /srv/check.bin: %v", h.Name, err)
			}
		}
	})

	t.Run("host down", func(t *testing.T) {
		const down = 2
		if err := f.StopSSHD(down); err != nil {
			t.Fatal(err)
		}
		defer f.StartSSHD(t.Context(), down)
		src3, sum3 := randomFile(t, "next.bin", size)
		r := withLibrary.run(t, f, "-i", inv, playbook, "-e", vars(src3, "/srv/next.bin"))
		if r.code == 0 {
			t.Fatalf("ansible-playbook exit 0 with %s's sshd down, want a failure\n%s", f.Hosts[down].Name, r.out)
		}
		name := f.Hosts[down].Name
		if !strings.Contains(r.out, "fatal: ["+name+"]") {
			t.Errorf("output does not name %s as fatal:\n%s", name, r.out)
		}
		res := r.moduleResult(t)
		if !slices.Equal(res.UnreachableHosts, []string{name}) || len(res.ChangedHosts) != hosts-1 || res.RC != 4 {
			t.Errorf("module said unreachable=%v changed=%v rc=%d; want unreachable [%s], %d changed, rc 4\n%s",
				res.UnreachableHosts, res.ChangedHosts, res.RC, name, hosts-1, r.out)
		}
		r.wantRecap(t, f, func(i int, l recapLine) bool { return (l.failed == 1) == (i == down) }, "failed=1 on the down host only")
		if !strings.Contains(res.Msg, name+" unreachable") {
			t.Errorf("module msg %q does not name %s as unreachable", res.Msg, name)
		}

		// The module alone (no failed_when): it fails, with rc and the host.
		args, _ := json.Marshal(map[string]any{"src": src3, "dest": "/srv/next.bin", "inventory": []string{inv}, "timeout": "2m", "forks": 2})
		adhoc := withLibrary.exec(t, f, "ansible", "localhost", "-i", "localhost,", "-c", "local",
			"-e", "ansible_python_interpreter=/usr/bin/python3", "-m", "murderctl_deploy", "-a", string(args))
		_, body, ok := strings.Cut(adhoc.out, "localhost | FAILED! => ")
		var failed struct {
			Msg              string   `json:"msg"`
			RC               int      `json:"rc"`
			OKHosts          []string `json:"ok_hosts"`
			UnreachableHosts []string `json:"unreachable_hosts"`
		}
		if ok {
			ok = json.NewDecoder(strings.NewReader(body)).Decode(&failed) == nil
		}
		if adhoc.code == 0 || !ok || failed.RC != 4 || !strings.Contains(failed.Msg, name) ||
			len(failed.OKHosts) != hosts-1 || !slices.Equal(failed.UnreachableHosts, []string{name}) {
			t.Errorf("ad-hoc murderctl_deploy: exit %d, want a failure with rc 4 naming %s, %d hosts ok\n%s",
				adhoc.code, name, hosts-1, adhoc.out)
		}
		for i, h := range f.Hosts {
			if i != down {
				if got := fileSHA256(t, h.Path("/srv/next.bin")); got != sum3 {
					t.Errorf("%s: /srv/next.bin sha256 %s, want %s", h.Name, got, sum3)
				}
			}
		}
	})
}

// playbookRun says how to start ansible-playbook: in dir, with
// ANSIBLE_LIBRARY=library when set.
type playbookRun struct{ dir, library string }

type playbookOut struct {
	code int
	out  string
}

// run starts ansible-playbook -v in the control namespace, with murderctl
// on PATH, in its own process group, and checks that nothing it started
// is left running.
func (p playbookRun) run(t *testing.T, f *testfleet.Fleet, args ...string) playbookOut {
	t.Helper()
	return p.exec(t, f, "ansible-playbook", append([]string{"-v"}, args...)...)
}

// exec runs an Ansible program (ansible-playbook, ansible) as run does.
func (p playbookRun) exec(t *testing.T, f *testfleet.Fleet, prog string, args ...string) playbookOut {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := f.ControlCommand(ctx, prog, args...)
	cmd.Dir = p.dir
	for _, kv := range f.ControlEnv() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "ANSIBLE_") && k != "PATH" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+filepath.Dir(murderctl())+":"+os.Getenv("PATH"),
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=false", "ANSIBLE_STDOUT_CALLBACK=default")
	if p.library != "" {
		cmd.Env = append(cmd.Env, "ANSIBLE_LIBRARY="+p.library)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	pgid := cmd.Process.Pid
	if syscall.Kill(-pgid, 0) == nil {
		syscall.Kill(-pgid, syscall.SIGKILL)
		t.Errorf("%s left processes running in group %d (killed)", prog, pgid)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not finish within 2m\n%s", prog, args, out.String())
	}
	r := playbookOut{out: out.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", prog, args, err)
	}
	t.Logf("%s ... %s: exit %d in %s", prog, strings.Join(args[max(0, len(args)-3):], " "), r.code, time.Since(start).Round(time.Millisecond))
	return r
}

// moduleJSON is the part of murderctl_deploy's result the test reads.
type moduleJSON struct {
	Status           string   `json:"-"` // the callback's word: ok, changed, skipping, fatal
	Changed          bool     `json:"changed"`
	RC               int      `json:"rc"`
	SHA256           string   `json:"sha256"`
	OKHosts          []string `json:"ok_hosts"`
	ChangedHosts     []string `json:"changed_hosts"`
	UnreachableHosts []string `json:"unreachable_hosts"`
	Targets          []string `json:"targets"`
	Duration         float64  `json:"duration"`
	Msg              string   `json:"msg"`
}

// moduleResult finds the murderctl_deploy task's result in the -v output
// of the default callback: "changed: [h01 -> localhost] => {...}".
func (r playbookOut) moduleResult(t *testing.T) moduleJSON {
	t.Helper()
	_, task, ok := strings.Cut(r.out, "TASK [Deploy ")
	if !ok {
		t.Fatalf("no murderctl_deploy task in the output:\n%s", r.out)
	}
	m := regexp.MustCompile(`(?m)^(\w+): \[[^\]]+\] => `).FindStringSubmatchIndex(task)
	if m == nil {
		t.Fatalf("no result line for the murderctl_deploy task:\n%s", r.out)
	}
	var res moduleJSON
	if err := json.NewDecoder(strings.NewReader(task[m[1]:])).Decode(&res); err != nil {
		t.Fatalf("murderctl_deploy result is not JSON: %v\n%s", err, r.out)
	}
	res.Status = task[m[2]:m[3]]
	return res
}

type recapLine struct{ ok, changed, unreachable, failed int }

var recapRE = regexp.MustCompile(`(?m)^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// wantRecap checks every fleet host's PLAY RECAP line with good.
func (r playbookOut) wantRecap(t *testing.T, f *testfleet.Fleet, good func(int, recapLine) bool, want string) {
	t.Helper()
	_, recap, _ := strings.Cut(r.out, "PLAY RECAP")
	lines := map[string]recapLine{}
	for _, m := range recapRE.FindAllStringSubmatch(recap, -1) {
		var l recapLine
		for i, p := range []*int{&l.ok, &l.changed, &l.unreachable, &l.failed} {
			*p, _ = strconv.Atoi(m[i+2])
		}
		lines[m[1]] = l
	}
	for i, h := range f.Hosts {
		l, ok := lines[h.Name]
		if !ok || !good(i, l) {
			t.Errorf("PLAY RECAP for %s: %+v (present %v), want %s\n%s", h.Name, l, ok, want, recap)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
