package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/murderctl/murderctl/testfleet"
)

// TestBadInput is issue 4's bad-input list on a fresh fleet: every refused
// deploy says why in one line, exits with the right code, prints no stack
// trace and changes nothing on any host (not even ~/.cache/murderctl).
// Hostile file and destination names, last, are deployed under their
// literal names and never run as shell.
func TestBadInput(t *testing.T) {
	needRoot(t)
	const hosts = 3
	f := testfleet.Start(t, testfleet.Options{N: hosts, Name: "bad"})
	dir := t.TempDir()
	inv := filepath.Join(dir, "hosts.ini")
	if err := f.WriteInventory(inv, testfleet.InventoryOptions{}); err != nil {
		t.Fatal(err)
	}
	src, _ := randomFile(t, "pkg.bin", 1<<20)
	// Fixtures on the hosts, made before the baseline: a read-only
	// directory on h01 and a plain file where a directory is expected.
	hostSh(t, f, 0, `mkdir -p /srv/ro && mount -t tmpfs -o ro,size=1m tmpfs /srv/ro`)
	for _, h := range f.Hosts {
		if err := os.WriteFile(h.Path("/srv/afile"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, f)
	unchanged := func(t *testing.T) {
		t.Helper()
		if d := diffSnapshots(before, snapshot(t, f)); d != "" {
			t.Errorf("the refused deploy changed the hosts:\n%s", d)
		}
		assertNoLeftovers(t, f)
	}
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty.bin", "", 0o644)
	unreadable := write("secret.bin", "not for you", 0o000)
	badINI := write("bad.ini", "[web\nh1 ansible_host=10.0.0.1\n", 0o644)
	badYAML := write("bad.yml", "---\nall: [1, 2\n", 0o644)

	// Errors of the operator's input, before any host is touched.
	local := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"missing file", []string{"deploy", "-i", inv, filepath.Join(dir, "nope.bin"), "--dest", "/srv/"}, 1, []string{"nope.bin", "no such file"}},
		{"empty file", []string{"deploy", "-i", inv, empty, "--dest", "/srv/"}, 1, []string{empty, "empty"}},
		{"directory as file", []string{"deploy", "-i", inv, dir, "--dest", "/srv/"}, 1, []string{dir, "directory"}},
		{"missing inventory", []string{"deploy", "-i", filepath.Join(dir, "nope.ini"), src, "--dest", "/srv/"}, 1, []string{"nope.ini", "no such file"}},
		{"malformed INI inventory", []string{"deploy", "-i", badINI, src, "--dest", "/srv/"}, 1, []string{badINI + ":1"}},
		{"malformed YAML inventory", []string{"deploy", "-i", badYAML, src, "--dest", "/srv/"}, 1, []string{badYAML}},
		{"pattern matches no host", []string{"deploy", "-i", inv, "-l", "nosuchhost", src, "--dest", "/srv/"}, 1, []string{"nosuchhost"}},
		{"no file argument", []string{"deploy", "-i", inv, "--dest", "/srv/"}, 5, []string{"FILE"}},
		{"unknown flag", []string{"deploy", "-i", inv, src, "--no-such-flag"}, 5, []string{"--no-such-flag"}},
	}
	for _, tc := range local {
		t.Run(tc.name, func(t *testing.T) {
			r := runMurderctl(t, f, time.Minute, tc.args...)
			assertCleanError(t, r, tc.code, tc.want...)
			unchanged(t)
		})
	}

	t.Run("unreadable file", func(t *testing.T) {
		// Root reads anything; drop the capabilities that let it, so the
		// file's 0000 mode applies as it would to any other user.
		args := append([]string{"--bounding-set", "-dac_override,-dac_read_search", "--", murderctl()},
			"deploy", "-i", inv, unreadable, "--dest", "/srv/")
		r := runControl(t, f, time.Minute, "setpriv", args...)
		assertCleanError(t, r, 1, unreadable, "permission denied")
		unchanged(t)
	})

	// Errors found on the hosts: the recap names each host and the reason.
	hostErr := func(t *testing.T, r run, code int, status string, hostsWant []int, want ...string) {
		t.Helper()
		if r.Code != code {
			t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, code, r.Stdout, r.Stderr)
		}
		if strings.Contains(r.Stderr, "goroutine ") || strings.Contains(r.Stderr, "panic:") {
			t.Errorf("stack trace on stderr:\n%s", r.Stderr)
		}
		for _, i := range hostsWant {
			name := f.Hosts[i].Name
			line := hostLine(r.Stdout, name)
			if !strings.HasPrefix(line, "fatal: ["+name+"]: "+status) {
				t.Errorf("%s: recap line %q, want fatal ... %s", name, line, status)
			}
			for _, w := range want {
				if !strings.Contains(line, w) {
					t.Errorf("%s: recap line %q does not say %q", name, line, w)
				}
			}
		}
		t.Logf("recap: %s", hostLine(r.Stdout, f.Hosts[hostsWant[0]].Name))
	}

	t.Run("wrong key", func(t *testing.T) {
		key := filepath.Join(dir, "wrong_key")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		inv2 := writeInventory(t, dir, "wrongkey.ini", f, "ansible_user=root ansible_ssh_private_key_file="+key)
		r := runMurderctl(t, f, 2*time.Minute, "deploy", "-i", inv2, src, "--dest", "/srv/")
		hostErr(t, r, 4, "UNREACHABLE!", allBut(hosts, -1), "auth")
		unchanged(t)
	})

	t.Run("wrong user", func(t *testing.T) {
		inv2 := writeInventory(t, dir, "wronguser.ini", f, "ansible_user=nosuchuser ansible_ssh_private_key_file="+f.KeyFile())
		r := runMurderctl(t, f, 2*time.Minute, "deploy", "-i", inv2, src, "--dest", "/srv/")
		hostErr(t, r, 4, "UNREACHABLE!", allBut(hosts, -1), "nosuchuser", "auth")
		unchanged(t)
	})

	t.Run("changed host key", func(t *testing.T) {
		kh := filepath.Join(f.ControlHome(), ".ssh", "known_hosts")
		orig, err := os.ReadFile(kh)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(kh, orig, 0o644)
		// Line 2 (h02) gets h01's key: h02 now "offers a different key".
		lines := strings.Split(string(orig), "\n")
		k0 := strings.SplitN(lines[0], " ", 2)[1]
		if !strings.HasPrefix(lines[1], f.Hosts[1].IP.String()+" ") {
			t.Fatalf("known_hosts line 2 is %q, want h02's", lines[1])
		}
		lines[1] = f.Hosts[1].IP.String() + " " + k0
		if err := os.WriteFile(kh, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runMurderctl(t, f, 2*time.Minute, "deploy", "-i", inv, "-l", "h02", src, "--dest", "/srv/")
		hostErr(t, r, 4, "UNREACHABLE!", []int{1}, "CHANGED", f.Hosts[1].IP.String(), kh+":2")
		unchanged(t)
	})

	t.Run("destination parent missing", func(t *testing.T) {
		r := runMurderctl(t, f, 2*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/nope/pkg.bin")
		hostErr(t, r, 2, "FAILED!", allBut(hosts, -1), "/srv/nope does not exist")
		unchanged(t)
	})

	t.Run("destination parent is a file", func(t *testing.T) {
		r := runMurderctl(t, f, 2*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/afile/pkg.bin")
		hostErr(t, r, 2, "FAILED!", allBut(hosts, -1), "destination parent /srv/afile is not a directory")
		unchanged(t)
	})

	t.Run("destination not writable", func(t *testing.T) {
		r := runMurderctl(t, f, 2*time.Minute, "deploy", "-i", inv, "-l", "h01", src, "--dest", "/srv/ro/")
		hostErr(t, r, 2, "FAILED!", []int{0}, "/srv/ro is not writable")
		if ls := lsHost(t, f, 0, "/srv/ro"); ls != "" {
			t.Errorf("read-only destination holds %q", ls)
		}
		unchanged(t)
	})

	t.Run("hostile names", func(t *testing.T) { testHostileNames(t, f, inv) })
}

// testHostileNames deploys a file whose name and destination hold spaces,
// quotes, $(...), ; and a leading -: each lands under its literal name and
// nothing is run as shell.
func testHostileNames(t *testing.T, f *testfleet.Fleet, inv string) {
	const evil = ` 'q" $(touch pwned) ;x`
	name := "-we ird" + evil + "`touch pwned`.bin"
	src := filepath.Join(t.TempDir(), name)
	content, sum := randomFile(t, "content.bin", 1<<20)
	copyFile(t, content, src)
	destDir := "/srv/d ir" + evil + " -y"
	for _, h := range f.Hosts {
		if err := os.MkdirAll(h.Path(destDir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cwd, _ := os.Getwd()
	cases := []struct{ dest, want string }{
		{destDir + "/", filepath.Join(destDir, name)},
		{destDir, filepath.Join(destDir, name)},
		{"-dash" + evil + ".bin", "/root/-dash" + evil + ".bin"},
	}
	for _, c := range cases {
		r := runMurderctl(t, f, 2*time.Minute, "deploy", "-i", inv, "--dest="+c.dest, "--json", "--", src)
		if r.Code != 0 {
			t.Errorf("--dest %q: exit %d, want 0\nstdout: %s\nstderr: %s", c.dest, r.Code, r.Stdout, r.Stderr)
			continue
		}
		for i, h := range f.Hosts {
			if got := fileSHA256(t, h.Path(c.want)); got != sum {
				t.Errorf("%s: --dest %q: %q has sha256 %s, want %s", h.Name, c.dest, c.want, got, sum)
			}
			if res := r.Report.Results[i]; res.Dest != c.want {
				t.Errorf("%s: report dest %q, want %q", h.Name, res.Dest, c.want)
			}
		}
	}
	for k := range snapshot(t, f) {
		if strings.HasSuffix(k, "/pwned") {
			t.Errorf("a name was run as shell: %s exists", k)
		}
	}
	for _, p := range []string{filepath.Join(cwd, "pwned"), "/pwned", "/tmp/pwned"} {
		if _, err := os.Stat(p); err == nil {
			os.Remove(p)
			t.Errorf("a name was run as shell on the control node: %s exists", p)
		}
	}
	assertNoLeftovers(t, f)
}

// writeInventory writes an INI inventory of every fleet host with the given
// host variables (instead of WriteInventory's root and fleet key).
func writeInventory(t *testing.T, dir, name string, f *testfleet.Fleet, vars string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("[fleet]\n")
	for _, h := range f.Hosts {
		fmt.Fprintf(&b, "%s ansible_host=%s %s\n", h.Name, h.IP, vars)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
