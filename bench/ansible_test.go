package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/murderctl/murderctl/testfleet"
)

// BenchmarkAnsibleCopy is the reference from one control node: the real
// ansible-playbook with one copy task to 10 hosts (forks 10), each host's
// completion taken from the ctime of its file (the copy module renames the
// file into place when it is complete).
func BenchmarkAnsibleCopy(b *testing.B) {
	needRoot(b)
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		b.Skip("skipping: ansible-playbook not installed (apt-get install ansible-core)")
	}
	const n, mbit = 10, 10
	size := *sizeFlag
	f := testfleet.Start(b, testfleet.Options{N: n, RateMbit: mbit, Name: "ba"})
	dir := b.TempDir()
	inv := filepath.Join(dir, "hosts.ini")
	err := f.WriteInventory(inv, testfleet.InventoryOptions{KnownHosts: true,
		Vars: map[string]string{"ansible_python_interpreter": "/usr/bin/python3"}})
	if err != nil {
		b.Fatal(err)
	}
	src, sum := randomFile(b, "payload.bin", size)
	play := filepath.Join(dir, "copy.yml")
	yml := fmt.Sprintf("- hosts: fleet\n  gather_facts: false\n  tasks:\n    - name: copy the payload\n"+
		"      copy: {src: %q, dest: /srv/payload.bin, mode: \"0644\"}\n", src)
	if err := os.WriteFile(play, []byte(yml), 0o644); err != nil {
		b.Fatal(err)
	}
	T := measureT(b, f, src)

	ctx, cancel := context.WithTimeout(b.Context(), deadline(T, 3*n))
	defer cancel()
	cmd := f.ControlCommand(ctx, "ansible-playbook", "-i", inv, "-f", fmt.Sprint(n), play)
	cmd.Dir = dir
	for _, kv := range f.ControlEnv() {
		if !strings.HasPrefix(kv, "ANSIBLE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=false", "ANSIBLE_STDOUT_CALLBACK=default")
	r := row{Case: "ansible copy", N: n, Size: size, Mbit: mbit, T: T}
	m := startMeter(b, f)
	start := m.start
	out, err := cmd.CombinedOutput()
	r.Wall, r.CtlTx, r.CPU = m.finish()
	switch {
	case ctx.Err() != nil:
		r.Result = "timeout"
	case err != nil:
		r.Result = fmt.Sprintf("failed: %v", err)
	default:
		r.Result = "ok"
	}
	var done []time.Duration
	for _, h := range f.Hosts {
		var st syscall.Stat_t
		if err := syscall.Stat(h.Path("/srv/payload.bin"), &st); err == nil {
			done = append(done, time.Unix(st.Ctim.Sec, st.Ctim.Nsec).Sub(start))
		}
	}
	if len(done) == n {
		r.P50, r.P99 = percentile(done, 0.5), percentile(done, 0.99)
	}
	if bad := badHosts(f, allHosts(n), "/srv/payload.bin", sum); len(bad) > 0 {
		r.Result += fmt.Sprintf(", %d/%d wrong or missing", len(bad), n)
	}
	record(b, r)
	slices.Sort(done)
	b.Logf("per-host completion (s): %v\ncontrol tx and CPU per second:\n%s", secondsList(done), m.timeline(size))
	if r.Result != "ok" {
		b.Errorf("ansible-playbook copy: %s\n%s", r.Result, tail(string(out)))
	}
}

func secondsList(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmt.Sprintf("%.1f", d.Seconds())
	}
	return strings.Join(s, " ")
}
