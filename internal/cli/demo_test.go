package cli

import (
	"regexp"
	"strings"
	"testing"
)

// The demo end to end: three loopback hosts, a real deploy, one peer
// process per host (this test binary, standing in for murderctl).
func TestDemoCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a fleet and a real deploy")
	}
	code, stdout, stderr := runRoot(t, "demo", "--hosts", "3", "--size-mib", "4")
	if code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "demo: 3 hosts on 127.0.0.11-13") {
		t.Errorf("stderr does not announce the fleet:\n%s", stderr)
	}
	for _, h := range []string{"host01", "host02", "host03"} {
		if !strings.Contains(stdout, "changed: ["+h+"]") {
			t.Errorf("%s not changed:\n%s", h, stdout)
		}
		if !regexp.MustCompile(`(?m)^` + h + ` +: ok=1 +changed=1 +unreachable=0 +failed=0 `).MatchString(stdout) {
			t.Errorf("no recap line for %s:\n%s", h, stdout)
		}
	}
	ratio := regexp.MustCompile(`(?m)^seeder sent [0-9.]+ MiB for a 4\.0 MiB file to 3 hosts: ([0-9.]+)x the file size \(a central push sends 3x\)$`)
	if !ratio.MatchString(stdout) {
		t.Errorf("no seeder ratio line:\n%s", stdout)
	}
	if !regexp.MustCompile(`(?m)^wall time [0-9.]+m?s$`).MatchString(stdout) {
		t.Errorf("no wall time line:\n%s", stdout)
	}
}
