package orchestrator

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/murderctl/murderctl/sshx"
)

// The launch line runs under the host's /bin/sh: check it there, with a
// script standing in for the peer binary.
func TestLaunchLineVerifiesOnceThenTrustsTheStamp(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "peer bin") // a space, to exercise the quoting
	body := []byte("#!/bin/sh\necho ran \"$1\"\n")
	if err := os.WriteFile(bin, body, 0o700); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	line := launchLine(bin, hex.EncodeToString(sum[:]), sshx.QuoteCommand(bin, "peer"))
	run := func() (string, int) {
		out, err := exec.Command("/bin/sh", "-c", line).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	for i := range 2 {
		if out, code := run(); out != "ran peer\n" || code != 0 {
			t.Fatalf("run %d: %q, exit %d", i, out, code)
		}
		if _, err := os.Stat(bin + ".ok"); err != nil {
			t.Fatalf("run %d: no stamp: %v", i, err)
		}
	}
	// With size, mtime and inode as stamped, the hash is not computed
	// again: a same-size edit with its mtime put back still runs.
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	same := []byte("#!/bin/sh\necho RAN \"$1\"\n")
	if err := os.WriteFile(bin, same, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(bin, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if out, code := run(); out != "RAN peer\n" || code != 0 {
		t.Fatalf("stamped binary re-hashed: %q, exit %d", out, code)
	}
	// A changed binary no longer matches its stamp, fails its hash, and is
	// removed with the stamp.
	if err := os.WriteFile(bin, append(body, '#'), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, code := run(); code != exitBinaryMismatch {
		t.Fatalf("tampered binary: %q, exit %d, want %d", out, code, exitBinaryMismatch)
	}
	for _, p := range []string{bin, bin + ".ok"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
}
