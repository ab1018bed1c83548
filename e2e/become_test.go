package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/murderctl/murderctl/testfleet"
)

// TestBecome is issue 5's last piece on the real fleet: ansible_become to an
// unprivileged user (the peer runs as it, from its own private copy), sudo
// passwords (prompted for and answered, or not asked at all), a wrong
// password failing its host fast, and the stall kill as the become user.
//
// The test users are machine-wide (the hosts share /etc/passwd) with
// unlikely names, removed in cleanup; their homes and the sudoers rule that
// asks for a password are private to each host: homes under the host's
// /var/tmp, and a sudoers file bind-mounted over /etc/sudoers inside the
// host's own mount namespace (gone with the fleet).
func TestBecome(t *testing.T) {
	needRoot(t)
	for _, tool := range []string{"sudo", "useradd", "userdel", "chpasswd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (scripts/test-deps installs it): %v", tool, err)
		}
	}
	const hosts = 5
	f := testfleet.Start(t, testfleet.Options{N: hosts, RateMbit: 20, Name: "bec"})
	defer assertNoLeftovers(t, f)

	// unpriv is the become user; login logs in over SSH and needs its
	// password for sudo.
	unpriv := testUser(t)
	login := testUser(t)
	password := "Pa$$ w0rd;`x` " + randHex(6)
	chpasswd(t, login.Username, password)
	uid, gid := ids(t, unpriv)
	pub, err := os.ReadFile(f.KeyFile() + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	sudoers := "Defaults env_reset\nDefaults !fqdn\nDefaults !lecture\nDefaults use_pty\n" +
		"Defaults secure_path=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\n" +
		"root ALL=(ALL:ALL) ALL\n" + login.Username + " ALL=(ALL:ALL) ALL\n"
	for i, h := range f.Hosts {
		// login's home, private to the host, with the fleet key.
		home := h.Path(login.HomeDir)
		if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, ".ssh", "authorized_keys"), pub, 0o600); err != nil {
			t.Fatal(err)
		}
		lu, lg := ids(t, login)
		chownR(t, home, lu, lg)
		if err := os.WriteFile(h.Path("/etc/ssh/murderctl-e2e-sudoers"), []byte(sudoers), 0o440); err != nil {
			t.Fatal(err)
		}
		hostSh(t, f, i, `mount --bind /etc/ssh/murderctl-e2e-sudoers /etc/sudoers`)
	}
	// On h01 the become user has a home of its own, so its private copy of
	// the peer goes there; elsewhere it has none and the copy goes to /tmp.
	uhome := f.Hosts[0].Path(unpriv.HomeDir)
	if err := os.MkdirAll(uhome, 0o700); err != nil {
		t.Fatal(err)
	}
	chownR(t, uhome, uid, gid)
	// ownedDir makes /srv/<name> on host i, mode 0700, owned by uid.
	ownedDir := func(i int, name string, uid, gid int) {
		p := f.Hosts[i].Path("/srv/" + name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	checkOwned := func(i int, path string, sum string, uid int) {
		t.Helper()
		h := f.Hosts[i]
		if got := fileSHA256(t, h.Path(path)); got != sum {
			t.Errorf("%s: %s sha256 %s, want %s", h.Name, path, got, sum)
			return
		}
		st, err := os.Stat(h.Path(path))
		if err != nil {
			t.Fatal(err)
		}
		if owner := int(st.Sys().(*syscall.Stat_t).Uid); owner != uid {
			t.Errorf("%s: %s is owned by uid %d, want %d", h.Name, path, owner, uid)
		}
	}
	noStaged := func() {
		t.Helper()
		for i, h := range f.Hosts {
			for _, dir := range []string{"/tmp", unpriv.HomeDir + "/.cache/murderctl"} {
				if out := hostSh(t, f, i, `ls -d "$1"/murderctl-run.* 2>/dev/null || true`, dir); strings.TrimSpace(out) != "" {
					t.Errorf("%s: staged peer directories left behind: %s", h.Name, out)
				}
			}
		}
	}
	noSecret := func(r run) {
		t.Helper()
		if strings.Contains(r.Stdout, password) || strings.Contains(r.Stderr, password) {
			t.Errorf("the become password appears in murderctl's output")
		}
	}

	t.Run("unprivileged become user", func(t *testing.T) {
		for i := range 2 {
			ownedDir(i, "u-only", uid, gid)
		}
		inv := filepath.Join(t.TempDir(), "hosts.ini")
		if err := f.WriteInventory(inv, testfleet.InventoryOptions{Hosts: []int{0, 1}, Vars: map[string]string{
			"ansible_become": "true", "ansible_become_user": unpriv.Username}}); err != nil {
			t.Fatal(err)
		}
		src, sum := randomFile(t, "u.bin", 4<<20)
		r := runMurderctl(t, f, 3*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/u-only/", "--json")
		if r.Code != 0 {
			t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		assertStatuses(t, r.Report, 2, "changed")
		for i := range 2 {
			checkOwned(i, "/srv/u-only/u.bin", sum, uid)
		}
		// The copy under the become user's own home is private to it.
		if st, err := os.Stat(filepath.Join(uhome, ".cache", "murderctl")); err != nil {
			t.Errorf("h01: the become user's cache was not used: %v", err)
		} else if st.Mode().Perm() != 0o700 || int(st.Sys().(*syscall.Stat_t).Uid) != uid {
			t.Errorf("h01: the become user's cache is %v uid %d, want 0700 and its own", st.Mode(), st.Sys().(*syscall.Stat_t).Uid)
		}
		noStaged()
		assertNoLeftovers(t, f)

		// A deploy as root into the same directory would work; as a user who
		// cannot write there it fails before anything is put on the host.
		r = runMurderctl(t, f, 3*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/", "--json")
		if r.Code != 2 {
			t.Fatalf("deploy into root's /srv as %s: exit %d, want 2\nstdout: %s\nstderr: %s", unpriv.Username, r.Code, r.Stdout, r.Stderr)
		}
		for _, res := range r.Report.Results {
			if res.Status != "failed" || !strings.Contains(res.Reason, "not writable") {
				t.Errorf("%s: %s %q, want failed: not writable", res.Host, res.Status, res.Reason)
			}
		}
		noStaged()
	})

	// Per host: who logs in, whom it becomes, with which password.
	type hostCase struct {
		login, become, password string
		owner                   int
		want                    string
	}
	cases := []hostCase{
		{login.Username, "root", password, 0, "changed"},             // h01: sudo asks; right password
		{login.Username, unpriv.Username, password, uid, "changed"},  // h02: asks, to an unprivileged user
		{login.Username, "root", "wrong " + randHex(4), 0, "failed"}, // h03: wrong password
		{"root", "root", password, 0, "changed"},                     // h04: sudo asks nothing (root)
		{"root", unpriv.Username, password, uid, "changed"},          // h05: asks nothing, unprivileged
	}
	writeInv := func(t *testing.T, idx []int) string {
		var b strings.Builder
		b.WriteString("[fleet]\n")
		for _, i := range idx {
			c := cases[i]
			fmt.Fprintf(&b, "%s ansible_host=%s ansible_user=%s ansible_ssh_private_key_file=%s ansible_become=true ansible_become_user=%s ansible_become_password=%q\n",
				f.Hosts[i].Name, f.Hosts[i].IP, c.login, f.KeyFile(), c.become, c.password)
		}
		p := filepath.Join(t.TempDir(), "hosts.ini")
		if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("become password", func(t *testing.T) {
		for i, c := range cases {
			ownedDir(i, "pw", c.owner, c.owner)
		}
		inv := writeInv(t, []int{0, 1, 2, 3, 4})
		src, sum := randomFile(t, "pw.bin", 4<<20)
		r := runMurderctl(t, f, 3*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/pw/", "--json")
		if r.Code != 2 {
			t.Errorf("exit %d, want 2 (one host failed)\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		noSecret(r)
		for i, c := range cases {
			res := resultFor(t, r.Report, f.Hosts[i].Name)
			if res.Status != c.want {
				t.Errorf("%s (%s -> %s): %s %q, want %s\nstderr: %s", res.Host, c.login, c.become, res.Status, res.Reason, c.want, res.Stderr)
				continue
			}
			if c.want == "changed" {
				checkOwned(i, "/srv/pw/pw.bin", sum, c.owner)
			}
		}
		bad := resultFor(t, r.Report, f.Hosts[2].Name)
		if !strings.Contains(bad.Reason, "incorrect sudo password") {
			t.Errorf("wrong password: reason %q, want it to say incorrect sudo password", bad.Reason)
		}
		if _, err := os.Stat(f.Hosts[2].Path("/srv/pw/pw.bin")); err == nil {
			t.Errorf("%s: the file was written despite the wrong password", f.Hosts[2].Name)
		}
		// Fast: sudo's second prompt ends it, not its third try nor a timeout.
		var durations struct {
			Results []struct {
				Host     string `json:"host"`
				Duration int64  `json:"duration_ns"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &durations); err != nil {
			t.Fatal(err)
		}
		for _, res := range durations.Results {
			if d := time.Duration(res.Duration); res.Host == bad.Host && d > 20*time.Second {
				t.Errorf("%s took %s to fail on a wrong password, want it fast", res.Host, d)
			}
		}
		t.Logf("deploy with become passwords: %s", r.Duration.Round(time.Millisecond))
		noStaged()
		assertNoLeftovers(t, f)
	})

	t.Run("stalled peer killed as the become user", func(t *testing.T) {
		// h02's peer runs as the unprivileged user through sudo with a
		// password; frozen, it must be killed the same way.
		frozen := 1
		inv := writeInv(t, []int{1, 4})
		src, _ := randomFile(t, "stall.bin", 24<<20)
		bg := startMurderctl(t, f, 4*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/pw/", "--json",
			"--timeout", "3m", "--stall-timeout", "15s")
		pid := waitPeer(t, f, frozen, bg)
		if st, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil && int(st.Sys().(*syscall.Stat_t).Uid) != uid {
			t.Errorf("the peer runs as uid %d, want the become user's %d", st.Sys().(*syscall.Stat_t).Uid, uid)
		}
		time.Sleep(time.Second)
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		r := bg.wait(t)
		noSecret(r)
		res := resultFor(t, r.Report, f.Hosts[frozen].Name)
		if res.Status != "failed" || !strings.Contains(res.Reason, "stalled") {
			t.Errorf("%s (frozen): %s %q, want failed: stalled", res.Host, res.Status, res.Reason)
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("the frozen peer (pid %d) is still alive after the deploy: %s", pid, b)
		}
		noStaged()
		assertNoLeftovers(t, f)
	})
}

// testUser creates a machine-wide user with an unlikely name and no home
// on the machine (its home, under /var/tmp, exists only where a test makes
// it), and removes it, its group and sudo's state for it in cleanup.
func testUser(t *testing.T) *user.User {
	t.Helper()
	name := "mctl-e2e-" + randHex(4)
	home := "/var/tmp/" + name
	t.Cleanup(func() {
		// Even when useradd failed half-way; errors only logged.
		if out, err := exec.Command("userdel", "-f", name).CombinedOutput(); err != nil && !strings.Contains(string(out), "does not exist") {
			t.Logf("userdel %s: %v: %s", name, err, out)
		}
		if exec.Command("getent", "group", name).Run() == nil {
			exec.Command("groupdel", name).Run()
		}
		for _, p := range []string{"/run/sudo/ts/" + name, "/var/lib/sudo/lectured/" + name, "/var/mail/" + name} {
			os.RemoveAll(p)
		}
	})
	if out, err := exec.Command("useradd", "-M", "-U", "-d", home, "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func chpasswd(t *testing.T, name, password string) {
	t.Helper()
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd %s: %v: %s", name, err, out)
	}
}

func ids(t *testing.T, u *user.User) (int, int) {
	t.Helper()
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		t.Fatalf("user %s: uid %q gid %q", u.Username, u.Uid, u.Gid)
	}
	return uid, gid
}

func chownR(t *testing.T, dir string, uid, gid int) {
	t.Helper()
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
