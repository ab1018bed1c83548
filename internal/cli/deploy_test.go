package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/murderctl/murderctl/orchestrator"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestNewCmdDeployFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want DeployOptions // only the flag fields are compared
	}{
		{"defaults", []string{"-i", "hosts.ini", "big.iso"},
			DeployOptions{Source: "big.iso", Inventories: []string{"hosts.ini"}, Limit: "all"}},
		{"no inventory flag", []string{"big.iso"},
			DeployOptions{Source: "big.iso", Limit: "all"}},
		{"every flag", []string{
			"-i", "a.ini", "--inventory", "b.yml", "--limit", "web:&prod", "--dest", "/srv/", "--timeout", "10m",
			"--json", "-u", "ops", "--private-key", "~/.ssh/k", "-f", "7", "--connect-timeout", "3s",
			"--advertise-addr", "10.0.0.1", "--bind-addr", "10.0.0.2", "--peer-binary-dir", "/opt/murderctl",
			"--piece-size", "1048576", "--stall-timeout", "30s", "file"},
			DeployOptions{Source: "file", Inventories: []string{"a.ini", "b.yml"}, Limit: "web:&prod", Dest: "/srv/",
				Timeout: 10 * time.Minute, JSON: true, User: "ops", PrivateKey: "~/.ssh/k", Forks: 7,
				ConnectTimeout: 3 * time.Second, AdvertiseAddr: "10.0.0.1", BindAddr: "10.0.0.2",
				PeerBinaryDir: "/opt/murderctl", PieceSize: 1 << 20, StallTimeout: 30 * time.Second}},
		{"short limit and key-file alias", []string{"-l", "db", "--key-file", "k", "--forks=3", "f"},
			DeployOptions{Source: "f", Limit: "db", PrivateKey: "k", Forks: 3}},
		{"file before flags", []string{"f", "-i", "x"},
			DeployOptions{Source: "f", Inventories: []string{"x"}, Limit: "all"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, out, errOut := testIO()
			var got *DeployOptions
			cmd := NewCmdDeploy(ios, discardLogger, func(o *DeployOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(errOut)
			cmd.SetErr(errOut)
			if err := cmd.Execute(); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if got == nil {
				t.Fatal("run function not called")
			}
			if got.IO != ios || got.Deploy == nil || got.Env == nil || got.Logger == nil {
				t.Error("dependencies not wired")
			}
			if got.bindPeers || got.allowDynamic {
				t.Error("demo knobs set by deploy")
			}
			got.IO, got.Deploy, got.Env, got.Logger = nil, nil, nil, nil
			if tt.want.StallTimeout == 0 {
				tt.want.StallTimeout = orchestrator.DefaultStallTimeout
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("options\n got %+v\nwant %+v", *got, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("flag parsing wrote %q to stdout", out.String())
			}
		})
	}
}

// Bad command lines exit 5, as ansible-playbook does, and say what is wrong.
func TestBadOptionsExit5(t *testing.T) {
	hideAnsibleConfig(t)
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"deploy"}, "exactly one FILE, got 0"},
		{[]string{"deploy", "a", "b"}, "exactly one FILE, got 2"},
		{[]string{"deploy", "--timeout", "soon", "f"}, "invalid argument"},
		{[]string{"deploy", "--forks", "many", "f"}, "invalid argument"},
		{[]string{"deploy", "--forks", "-1", "f"}, "--forks must be positive"},
		{[]string{"deploy", "--no-such-flag", "f"}, "unknown flag"},
		{[]string{"deploy", "-i"}, "flag needs an argument"},
		{[]string{"--verbose=x"}, "invalid argument"},
		{[]string{"inventory", "-i", "x"}, "exactly one of --list, --graph or --host"},
		{[]string{"inventory", "-i", "x", "--list", "--graph"}, "exactly one of"},
		{[]string{"inventory", "-i", "x", "--list", "web"}, "GROUP argument goes with --graph only"},
		{[]string{"demo", "--hosts", "three"}, "invalid argument"},
		{[]string{"demo", "extra"}, "unknown command"},
		{[]string{"peer", "extra"}, "unknown command"},
		{[]string{"inventory", "-i", "x", "--graph", "a", "b"}, "accepts at most 1 arg"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runRoot(t, tt.args...)
			if code != ExitBadOptions {
				t.Errorf("exit %d, want %d; stderr %q", code, ExitBadOptions, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr %q does not say %q", stderr, tt.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

// Main maps errors to codes and prints them once, on stderr.
func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitFailure},
		{&ExitError{Code: ExitHostFailed}, ExitHostFailed},
		{badOptions("bad %s", "flag"), ExitBadOptions},
		{errInterrupted, ExitInterrupted},
		{errors.Join(errors.New("deploy"), errInterrupted), ExitInterrupted},
		{&ExitError{Code: 3, Err: errInterrupted}, 3},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	if code := Main([]string{"deploy", "--forks", "-1", "f"}); code != ExitBadOptions {
		t.Errorf("Main with bad options = %d, want %d", code, ExitBadOptions)
	}
}

func TestResultsExit(t *testing.T) {
	r := func(ss ...orchestrator.Status) orchestrator.Results {
		var rs orchestrator.Results
		for i, s := range ss {
			rs = append(rs, orchestrator.Result{Host: string(rune('a' + i)), Status: s})
		}
		return rs
	}
	const (
		ok, ch, fa, un = orchestrator.StatusOK, orchestrator.StatusChanged, orchestrator.StatusFailed, orchestrator.StatusUnreachable
	)
	tests := []struct {
		name string
		rs   orchestrator.Results
		want int
	}{
		{"none", nil, ExitOK},
		{"all ok", r(ok, ok), ExitOK},
		{"changed", r(ok, ch), ExitOK},
		{"one failed", r(ok, fa, ch), ExitHostFailed},
		{"only unreachable", r(ok, un), ExitUnreachable},
		{"failed and unreachable", r(un, fa), ExitHostFailed},
	}
	for _, tt := range tests {
		if got := exitCode(resultsExit(tt.rs)); got != tt.want {
			t.Errorf("%s: exit %d, want %d", tt.name, got, tt.want)
		}
	}
}

// runDeploy with the orchestrator replaced: the inventory becomes targets,
// flags and ansible.cfg reach the deploy, results are rendered.
func TestDeployRunWithFakeDeploy(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "hosts.ini", `[web]
w1 ansible_host=10.0.0.1 ansible_port=2200
w2 ansible_host=10.0.0.2 ansible_user=deployer
[db]
d1 ansible_host=10.0.0.3
`)
	cfgFile := writeFile(t, dir, "ansible.cfg", "[defaults]\nforks = 9\nremote_user = cfguser\ntimeout = 4\n")
	env := map[string]string{"ANSIBLE_CONFIG": cfgFile, "HOME": dir}

	tests := []struct {
		name     string
		args     []string
		results  func(ts []orchestrator.Target) orchestrator.Results
		wantCode int
		check    func(t *testing.T, got orchestrator.DeployOptions, stdout string)
	}{
		{"all changed, text recap", []string{"-i", inv, "--limit", "web", "--dest", "/srv/", "src.bin"},
			func(ts []orchestrator.Target) orchestrator.Results {
				var rs orchestrator.Results
				for _, tg := range ts {
					rs = append(rs, orchestrator.Result{Host: tg.Name, Status: orchestrator.StatusChanged, Dest: "/srv/src.bin"})
				}
				return rs
			}, ExitOK,
			func(t *testing.T, got orchestrator.DeployOptions, stdout string) {
				if len(got.Targets) != 2 || got.Targets[0].Name != "w1" || got.Targets[1].Name != "w2" {
					t.Fatalf("targets %+v, want w1, w2", got.Targets)
				}
				w1, w2 := got.Targets[0].SSH, got.Targets[1].SSH
				if w1.Host != "10.0.0.1" || w1.Port != 2200 || w1.User != "cfguser" || w2.User != "deployer" {
					t.Errorf("ssh configs %+v / %+v", w1, w2)
				}
				if w1.ConnectTimeout != 4*time.Second {
					t.Errorf("connect timeout %s, want ansible.cfg's 4s", w1.ConnectTimeout)
				}
				if got.Forks != 9 || got.Source != "src.bin" || got.Dest != "/srv/" || got.BindPeers {
					t.Errorf("deploy options %+v", got)
				}
				if got.Binaries == nil || got.Binaries.Dirs != nil || got.Binaries.AllowDynamic {
					t.Errorf("binaries %+v, want the default search, static only", got.Binaries)
				}
				if !strings.Contains(stdout, "changed: [w1] => {\"changed\":true,\"dest\":\"/srv/src.bin\"}\n") ||
					!strings.Contains(stdout, "PLAY RECAP") {
					t.Errorf("stdout:\n%s", stdout)
				}
			}},
		{"flags override ansible.cfg; JSON", []string{"-i", inv, "-u", "flaguser", "-f", "2", "--connect-timeout", "1s",
			"--peer-binary-dir", "/opt/bin", "--piece-size", "65536", "--timeout", "1m", "--stall-timeout", "25s", "--json", "src.bin"},
			func(ts []orchestrator.Target) orchestrator.Results {
				return orchestrator.Results{{Host: "w1", Status: orchestrator.StatusOK}, {Host: "w2", Status: orchestrator.StatusUnreachable, Reason: "refused"}}
			}, ExitUnreachable,
			func(t *testing.T, got orchestrator.DeployOptions, stdout string) {
				if len(got.Targets) != 3 || got.Targets[0].SSH.User != "flaguser" || got.Targets[1].SSH.User != "deployer" {
					t.Errorf("targets %+v", got.Targets)
				}
				if got.Targets[0].SSH.ConnectTimeout != time.Second || got.Forks != 2 || got.PieceLength != 65536 || got.StallTimeout != 25*time.Second ||
					got.Timeout != time.Minute || !reflect.DeepEqual(got.Binaries.Dirs, []string{"/opt/bin"}) {
					t.Errorf("deploy options %+v", got)
				}
				var rep struct {
					Results []struct{ Host, Status, Reason string }
				}
				if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
					t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
				}
				if len(rep.Results) != 2 || rep.Results[1].Status != "unreachable" || rep.Results[1].Reason != "refused" {
					t.Errorf("JSON results %+v", rep.Results)
				}
			}},
		{"a failed host exits 2", []string{"-i", inv, "-l", "d1", "src.bin"},
			func(ts []orchestrator.Target) orchestrator.Results {
				return orchestrator.Results{{Host: "d1", Status: orchestrator.StatusFailed, Reason: "disk full"}}
			}, ExitHostFailed,
			func(t *testing.T, got orchestrator.DeployOptions, stdout string) {
				if !strings.Contains(stdout, `fatal: [d1]: FAILED! => {"changed":false,"msg":"disk full"}`) {
					t.Errorf("stdout:\n%s", stdout)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, out, errOut := testIO()
			var got orchestrator.DeployOptions
			calls := 0
			cmd := NewCmdDeploy(ios, discardLogger, func(o *DeployOptions) error {
				o.Env = func(k string) string { return env[k] }
				o.Deploy = func(ctx context.Context, do orchestrator.DeployOptions) (*orchestrator.Report, error) {
					calls++
					got = do
					return &orchestrator.Report{Results: tt.results(do.Targets)}, nil
				}
				return deployRun(context.Background(), o)
			})
			cmd.SetArgs(tt.args)
			cmd.SetErr(errOut)
			cmd.SetOut(errOut)
			err := cmd.Execute()
			if code := exitCode(err); code != tt.wantCode {
				t.Fatalf("exit %d (%v), want %d; stderr %s", code, err, tt.wantCode, errOut)
			}
			if calls != 1 {
				t.Fatalf("Deploy called %d times", calls)
			}
			tt.check(t, got, out.String())
		})
	}
}

// Input errors are reported before any host is touched.
func TestDeployRunInputErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "hosts.ini", "[web]\nw1\n")
	jinja := writeFile(t, dir, "jinja.ini", "[web]\nw1 ansible_host=\"{{ ip }}\"\n")
	env := map[string]string{"ANSIBLE_CONFIG": "/dev/null", "HOME": dir}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no inventory", []string{"f"}, ExitBadOptions, "no inventory"},
		{"missing inventory", []string{"-i", dir + "/nope.ini", "f"}, ExitFailure, "nope.ini"},
		{"pattern matches nothing", []string{"-i", good, "-l", "db", "f"}, ExitFailure, "db"},
		{"Jinja refused", []string{"-i", jinja, "f"}, ExitFailure, "Jinja"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, out, _ := testIO()
			called := false
			cmd := NewCmdDeploy(ios, discardLogger, func(o *DeployOptions) error {
				o.Env = func(k string) string { return env[k] }
				o.Deploy = func(context.Context, orchestrator.DeployOptions) (*orchestrator.Report, error) {
					called = true
					return &orchestrator.Report{}, nil
				}
				return deployRun(context.Background(), o)
			})
			cmd.SetArgs(tt.args)
			cmd.SetOut(out)
			cmd.SetErr(out)
			err := cmd.Execute()
			if code := exitCode(err); code != tt.wantCode || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("exit %d err %v, want %d mentioning %q", code, err, tt.wantCode, tt.wantErr)
			}
			if called {
				t.Error("Deploy was called despite bad input")
			}
		})
	}
}

// An interrupt during a deploy exits 99 even when every host settled.
func TestDeployRunInterrupted(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "hosts.ini", "w1\n")
	ctx, cancel := context.WithCancelCause(context.Background())
	ios, _, _ := testIO()
	opts := &DeployOptions{IO: ios, Logger: discardLogger, Env: func(k string) string {
		return map[string]string{"ANSIBLE_CONFIG": "/dev/null", "HOME": dir}[k]
	}, Inventories: []string{inv}, Source: "f",
		Deploy: func(context.Context, orchestrator.DeployOptions) (*orchestrator.Report, error) {
			cancel(errInterrupted)
			return &orchestrator.Report{Results: orchestrator.Results{{Host: "w1", Status: orchestrator.StatusFailed, Reason: "interrupted"}}}, nil
		}}
	if code := exitCode(deployRun(ctx, opts)); code != ExitInterrupted {
		t.Errorf("exit %d, want %d", code, ExitInterrupted)
	}
}

// -K asks once for the become password and gives it to every host that
// becomes without one of its own (ansible_become_password wins, as in
// Ansible). It is never echoed or printed.
func TestAskBecomePass(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "hosts.ini", `w1 ansible_become=true
w2 ansible_become=true ansible_become_user=app ansible_become_password=own
w3
`)
	env := map[string]string{"ANSIBLE_CONFIG": "/dev/null", "HOME": dir}
	run := func(stdin string, args ...string) (orchestrator.DeployOptions, int, string) {
		ios, out, errOut := testIO()
		ios.In = strings.NewReader(stdin)
		var got orchestrator.DeployOptions
		cmd := NewCmdDeploy(ios, discardLogger, func(o *DeployOptions) error {
			o.Env = func(k string) string { return env[k] }
			o.Deploy = func(ctx context.Context, do orchestrator.DeployOptions) (*orchestrator.Report, error) {
				got = do
				var rs orchestrator.Results
				for _, tg := range do.Targets {
					rs = append(rs, orchestrator.Result{Host: tg.Name, Status: orchestrator.StatusOK})
				}
				return &orchestrator.Report{Results: rs}, nil
			}
			return deployRun(context.Background(), o)
		})
		cmd.SetArgs(args)
		cmd.SetOut(errOut)
		cmd.SetErr(errOut)
		err := cmd.Execute()
		return got, exitCode(err), out.String() + errOut.String() + fmt.Sprint(err)
	}
	got, code, output := run("typed secret\n", "-i", inv, "-K", "f")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, output)
	}
	pw := map[string]string{}
	for _, tg := range got.Targets {
		pw[tg.Name] = tg.BecomePassword
	}
	if pw["w1"] != "typed secret" || pw["w2"] != "own" || pw["w3"] != "" {
		t.Errorf("become passwords %q, want w1 from -K, w2 its own, w3 none", pw)
	}
	if !strings.Contains(output, "BECOME password: ") || strings.Contains(output, "typed secret") {
		t.Errorf("output %q: want the prompt and never the password", output)
	}
	// Without -K nothing is read; with -K and no password, a clear refusal.
	if got, _, _ := run("typed secret\n", "-i", inv, "f"); got.Targets[0].BecomePassword != "" {
		t.Error("a password was read without -K")
	}
	if _, code, output := run("", "-i", inv, "--ask-become-pass", "f"); code != ExitBadOptions || !strings.Contains(output, "no password") {
		t.Errorf("-K with empty stdin: exit %d %q, want %d saying no password", code, output, ExitBadOptions)
	}
}
