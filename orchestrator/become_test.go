package orchestrator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/murderctl/murderctl/inventory"
)

func TestBecomeMapping(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(p, []byte(`plain
root ansible_become=true
rootsudo ansible_become=yes ansible_become_method=sudo ansible_become_user=root
su ansible_become=true ansible_become_method=su
doas ansible_become=true ansible_become_method=doas ansible_become_password=hunter2
other ansible_become=true ansible_become_user=www-data
withpw ansible_become=true ansible_become_password=hunter2
withpass ansible_become=true ansible_become_user=app ansible_become_pass=hunter2
emptyuser ansible_become=true ansible_become_user=""
off ansible_become=false ansible_become_method=su ansible_become_password=hunter2
`), 0o600)
	inv, err := inventory.Load(context.Background(), []string{p}, inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ host, user, password, wantErr string }{
		{"plain", "", "", ""},
		{"root", "root", "", ""},
		{"rootsudo", "root", "", ""},
		{"off", "", "", ""}, // become off: its method and password are never used
		{"other", "www-data", "", ""},
		{"withpw", "root", "hunter2", ""},
		{"withpass", "app", "hunter2", ""},
		{"su", "", "", "ansible_become_method=su is not supported: murderctl becomes with sudo only"},
		{"doas", "", "", "ansible_become_method=doas is not supported"},
		{"emptyuser", "", "", "ansible_become_user is empty"},
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
			if tg.BecomeUser != tt.user || tg.BecomePassword != tt.password {
				t.Errorf("become %q password %q, want %q %q", tg.BecomeUser, tg.BecomePassword, tt.user, tt.password)
			}
			if s := fmt.Sprintf("%v %+v %#v %s", tg, tg, tg, tg); strings.Contains(s, "hunter2") {
				t.Errorf("printing the target leaks the password: %s", s)
			}
			if b, _ := json.Marshal(tg); strings.Contains(string(b), `"BecomePassword"`) {
				t.Errorf("the target's JSON carries the password: %s", b)
			}
		})
	}
	// sudo reads the password as one line.
	for _, pw := range []string{"a\nb", "a\rb", "a\x00b"} {
		err := checkBecome(inventory.Connection{BecomeMethod: "sudo", BecomeUser: "root", BecomePassword: pw})
		if err == nil || strings.Contains(err.Error(), pw) {
			t.Errorf("password %q: err %v, want a refusal that does not quote it", pw, err)
		}
	}
}

// fakeSudo is a sudo stand-in for runBecome's prompt handling, driven by
// FAKE_SUDO: ask (prompt until the password matches FAKE_SUDO_PW, three
// tries, like sudo -S), nopass (run at once, as with NOPASSWD or cached
// credentials) or silent (wait without a prompt, like an unexpected PAM
// question).
const fakeSudo = `#!/bin/sh
prompt=Password:
while [ $# -gt 0 ]; do case $1 in -S|-n|-H) shift;; -p) prompt=$2; shift 2;; -u) shift 2;; --) shift; break;; *) break;; esac; done
case $FAKE_SUDO in
ask) n=0; while :; do printf '%s' "$prompt" >&2; IFS= read -r pw || { echo "sudo: no password was provided" >&2; exit 1; }
	[ "$pw" = "$FAKE_SUDO_PW" ] && break; echo "Sorry, try again." >&2; n=$((n+1)); [ $n -ge 3 ] && exit 1; done;;
silent) read -r x; exit 1;;
esac
exec "$@"
`

// shConn runs commands with the local sh, with a fake sudo first in PATH.
type shConn struct {
	env []string
}

func (c shConn) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	x := exec.CommandContext(ctx, "sh", "-c", cmd)
	x.Env = append(os.Environ(), c.env...)
	x.Stdout, x.Stderr = stdout, stderr
	x.WaitDelay = time.Second
	// Like sshx: stdin is copied by a goroutine nobody waits for, so a
	// Read blocked on our side cannot hold Run.
	pipe, err := x.StdinPipe()
	if err != nil {
		return -1, err
	}
	if err := x.Start(); err != nil {
		return -1, err
	}
	go func() {
		if stdin != nil {
			io.Copy(pipe, stdin)
		}
		pipe.Close()
	}()
	err = x.Wait()
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}
func (shConn) Upload(context.Context, io.Reader, int64, string, os.FileMode) error { return nil }
func (shConn) LocalAddr() net.Addr                                                 { return nil }
func (shConn) Close() error                                                        { return nil }

// runBecome answers sudo's prompt only when it appears: the command's
// stdin gets exactly its data whether sudo asked or not, a wrong password
// fails fast with a clear error, a sudo that never asks times out, and the
// password is never in the output.
func TestRunBecomePrompt(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte(fakeSudo), 0o755); err != nil {
		t.Fatal(err)
	}
	const secret = "s3cret pa$$ 'x'"
	old := becomeTimeout
	becomeTimeout = 3 * time.Second
	defer func() { becomeTimeout = old }()
	tests := []struct {
		mode, password string
		framed         bool
		wantOut        string
		wantErr        string
	}{
		{"ask", secret, false, "config\n", ""},
		{"nopass", secret, false, "config\n", ""},
		{"ask", secret, true, "file bytes", ""},
		{"nopass", secret, true, "file bytes", ""},
		{"ask", "wrong", false, "", "incorrect sudo password"},
		{"ask", "wrong", true, "", "incorrect sudo password"},
		{"silent", secret, false, "", "neither asked"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/framed=%v/%s", tt.mode, tt.framed, tt.password), func(t *testing.T) {
			conn := shConn{env: []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "FAKE_SUDO=" + tt.mode, "FAKE_SUDO_PW=" + secret}}
			h := &hostRun{d: &deploy{log: slog.New(slog.DiscardHandler)}, t: Target{Name: "h", BecomeUser: "app", BecomePassword: tt.password}, conn: conn}
			cmd := h.becomeSh(false, `cat; echo "to stderr" >&2`)
			var in io.Reader = strings.NewReader("config\n")
			if tt.framed {
				cmd = h.becomeFrom(`printf 'file bytes'`, h.becomeSh(true, `cat; echo "to stderr" >&2`))
				in = nil
			}
			var out, errb bytes.Buffer
			start := time.Now()
			code, err := h.runBecome(context.Background(), cmd, tt.framed, in, &out, &errb)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, errBecome) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("code %d err %v, want a become error saying %q", code, err, tt.wantErr)
				}
				if d := time.Since(start); d > becomeTimeout+2*time.Second {
					t.Errorf("took %s", d)
				}
			} else {
				if err != nil || code != 0 {
					t.Fatalf("code %d err %v; stderr %q", code, err, errb.String())
				}
				if out.String() != tt.wantOut {
					t.Errorf("the command read %q, want %q", out.String(), tt.wantOut)
				}
				if errb.String() != "to stderr\n" {
					t.Errorf("stderr %q, want the command's own line without sudo's prompt or the marker", errb.String())
				}
			}
			if strings.Contains(out.String()+errb.String()+fmt.Sprint(err), secret) || strings.Contains(cmd, secret) {
				t.Errorf("the password leaked: cmd %q out %q stderr %q err %v", cmd, out.String(), errb.String(), err)
			}
		})
	}
}

// The stderr filter finds the markers however the writes split them.
func TestSudoWatch(t *testing.T) {
	prompt, ok := "[p] password: ", "OK-123"
	stream := "lecture\n" + prompt + "Sorry, try again.\n" + prompt + ok + "\nafter " + prompt + "\n"
	for chunk := 1; chunk <= len(stream); chunk++ {
		var out bytes.Buffer
		w := &sudoWatch{prompt: []byte(prompt), ok: []byte(ok + "\n"), out: &out, events: make(chan bool, 8)}
		for i := 0; i < len(stream); i += chunk {
			w.Write([]byte(stream[i:min(i+chunk, len(stream))]))
		}
		w.flush()
		close(w.events)
		var evs []bool
		for e := range w.events {
			evs = append(evs, e)
		}
		if want := "lecture\nSorry, try again.\nafter " + prompt + "\n"; out.String() != want {
			t.Fatalf("chunk %d: out %q, want %q", chunk, out.String(), want)
		}
		if fmt.Sprint(evs) != "[false false true]" {
			t.Fatalf("chunk %d: events %v, want prompt, prompt, started", chunk, evs)
		}
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
