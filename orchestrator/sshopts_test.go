package orchestrator

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/murderctl/murderctl/sshx"
)

func TestApplySSHArgs(t *testing.T) {
	const home = "/home/op"
	base := sshx.Config{Host: "10.0.0.5", Port: 22, User: "deploy", KeyFiles: []string{"/k/id"}, KnownHostsFiles: []string{"/kh"}}
	hop := func(user, host string, port int, jump *sshx.Config) *sshx.Config {
		return &sshx.Config{User: user, Host: host, Port: port, Jump: jump, KeyFiles: []string{"/k/id"}, KnownHostsFiles: []string{"/kh"}}
	}
	tests := []struct {
		name string
		args string
		want func(c *sshx.Config) // edits a copy of base into the expected result
	}{
		{"ProxyJump one hop", "-o ProxyJump=bastion", func(c *sshx.Config) {
			c.Jump = hop("deploy", "bastion", 0, nil)
		}},
		{"ProxyJump user and port", "-o ProxyJump=ops@bastion:2200", func(c *sshx.Config) {
			c.Jump = hop("ops", "bastion", 2200, nil)
		}},
		{"ProxyJump ssh URL", "-o ProxyJump=ssh://ops@bastion:2200", func(c *sshx.Config) {
			c.Jump = hop("ops", "bastion", 2200, nil)
		}},
		{"ProxyJump IPv6 with port", "-o ProxyJump=[fd00::1]:2222", func(c *sshx.Config) {
			c.Jump = hop("deploy", "fd00::1", 2222, nil)
		}},
		{"ProxyJump bare IPv6", "-o ProxyJump=fd00::1", func(c *sshx.Config) {
			c.Jump = hop("deploy", "fd00::1", 0, nil)
		}},
		{"ProxyJump chain: first hop dialled first", "-o ProxyJump=a@first,second:2022", func(c *sshx.Config) {
			c.Jump = hop("deploy", "second", 2022, hop("a", "first", 0, nil))
		}},
		{"-J chain of three", "-J one,two,three", func(c *sshx.Config) {
			c.Jump = hop("deploy", "three", 0, hop("deploy", "two", 0, hop("deploy", "one", 0, nil)))
		}},
		{"ProxyJump none clears", "-J bastion -o ProxyJump=none", func(c *sshx.Config) {}},
		{"ProxyJump with space form", "-o 'ProxyJump bastion'", func(c *sshx.Config) {
			c.Jump = hop("deploy", "bastion", 0, nil)
		}},
		{"ProxyCommand ssh -W with -p", `-o ProxyCommand="ssh -W %h:%p user@jump -p 2222"`, func(c *sshx.Config) {
			c.Jump = hop("user", "jump", 2222, nil)
		}},
		{"ProxyCommand ssh -W with -l and -q", `-o 'ProxyCommand=/usr/bin/ssh -q -l ops -W %h:%p jump'`, func(c *sshx.Config) {
			c.Jump = hop("ops", "jump", 0, nil)
		}},
		{"UserKnownHostsFile with ~ and two files", `-o "UserKnownHostsFile=~/.ssh/kh /etc/ssh/kh2"`, func(c *sshx.Config) {
			c.KnownHostsFiles = []string{home + "/.ssh/kh", "/etc/ssh/kh2"}
		}},
		{"UserKnownHostsFile joined -o", "-oUserKnownHostsFile=~", func(c *sshx.Config) {
			c.KnownHostsFiles = []string{home}
		}},
		{"GlobalKnownHostsFile adds to the user's files", "-o GlobalKnownHostsFile=/etc/ssh/ssh_known_hosts", func(c *sshx.Config) {
			c.KnownHostsFiles = []string{"/kh", "/etc/ssh/ssh_known_hosts"}
		}},
		{"GlobalKnownHostsFile /dev/null ignored", "-o GlobalKnownHostsFile=/dev/null", func(c *sshx.Config) {}},
		{"StrictHostKeyChecking no", "-o StrictHostKeyChecking=no", func(c *sshx.Config) {
			c.InsecureIgnoreHostKey = true
		}},
		{"StrictHostKeyChecking yes after no", "-o StrictHostKeyChecking=no -o stricthostkeychecking=YES", func(c *sshx.Config) {}},
		{"Port, User, IdentityFile flags", "-p 2200 -l admin -i ~/id2", func(c *sshx.Config) {
			c.Port, c.User, c.KeyFiles = 2200, "admin", []string{home + "/id2", "/k/id"}
		}},
		{"Port option", "-o Port=65535", func(c *sshx.Config) { c.Port = 65535 }},
		{"ConnectTimeout", "-o ConnectTimeout=7", func(c *sshx.Config) { c.ConnectTimeout = 7 * time.Second }},
		{"ignored options and flags", "-C -q -T -o ControlMaster=auto -o ControlPersist=60s -o ServerAliveInterval=30 -o ForwardAgent=yes", func(c *sshx.Config) {}},
		{"empty", "", func(c *sshx.Config) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := base
			if err := applySSHArgs(&got, tt.args, home); err != nil {
				t.Fatalf("applySSHArgs(%q): %v", tt.args, err)
			}
			want := base
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("applySSHArgs(%q)\n got %s\nwant %s", tt.args, describe(&got), describe(&want))
			}
		})
	}
}

// describe prints a config and its jump chain readably.
func describe(c *sshx.Config) string {
	var parts []string
	for ; c != nil; c = c.Jump {
		cc := *c
		cc.Jump = nil
		parts = append(parts, fmt.Sprintf("%+v", cc))
	}
	return strings.Join(parts, " via ")
}

func TestApplySSHArgsRefused(t *testing.T) {
	tests := []struct {
		name, args, wantErr string
	}{
		{"accept-new refused", "-o StrictHostKeyChecking=accept-new", "StrictHostKeyChecking=accept-new is not supported"},
		{"unknown option", "-o RemoteCommand=id", "unsupported ssh option"},
		{"unknown flag", "-X", `unsupported ssh argument "-X"`},
		{"dynamic forward", "-D 1080", `unsupported ssh argument "-D"`},
		{"option without value", "-o Port", "has no value"},
		{"-o at the end", "-C -o", "-o needs a value"},
		{"-J at the end", "-J", "-J needs a value"},
		{"-p at the end", "-p", "-p needs a value"},
		{"port zero", "-p 0", "is not a port number"},
		{"port too big", "-o Port=65536", "is not a port number"},
		{"port not a number", "-o Port=ssh", "is not a port number"},
		{"negative connect timeout", "-o ConnectTimeout=-1", "not a number of seconds"},
		{"ProxyJump bad port", "-J bastion:70000", "bad port"},
		{"ProxyJump port not a number", "-J bastion:ssh", "bad port"},
		{"ProxyJump no host", "-J user@", "names no host"},
		{"ProxyJump empty hop in chain", "-J a,,b", "names no host"},
		{"ProxyCommand netcat", `-o "ProxyCommand=nc %h %p"`, "ProxyCommand"},
		{"ProxyCommand without -W", `-o "ProxyCommand=ssh jump"`, "only `ssh -W %h:%p"},
		{"ProxyCommand other -W target", `-o "ProxyCommand=ssh -W other:22 jump"`, "unsupported ssh argument"},
		{"ProxyCommand extra option", `-o "ProxyCommand=ssh -o Foo=bar -W %h:%p jump"`, "unsupported"},
		{"ProxyCommand two hosts", `-o "ProxyCommand=ssh -W %h:%p jump other"`, "more than one host"},
		{"ProxyCommand bad port", `-o "ProxyCommand=ssh -W %h:%p jump -p 0"`, "bad port"},
		{"unbalanced quote", `-o "ProxyJump=a`, "cannot split"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sshx.Config{Host: "h"}
			err := applySSHArgs(&cfg, tt.args, "/home/op")
			if err == nil {
				t.Fatalf("applySSHArgs(%q) succeeded: %+v", tt.args, cfg)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("applySSHArgs(%q) = %v, want it to mention %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

// A jump host inherits the target's keys and host-key policy as set by the
// inventory (which applySSHArgs runs after).
func TestJumpInheritsKeysAndPolicy(t *testing.T) {
	cfg := sshx.Config{Host: "t", User: "u", KeyFiles: []string{"/k"}, UseAgent: true,
		InsecureIgnoreHostKey: true, ConnectTimeout: 3 * time.Second}
	if err := applySSHArgs(&cfg, "-J j", ""); err != nil {
		t.Fatal(err)
	}
	j := cfg.Jump
	if j == nil || j.Host != "j" || j.User != "u" || !reflect.DeepEqual(j.KeyFiles, []string{"/k"}) ||
		!j.UseAgent || !j.InsecureIgnoreHostKey || j.ConnectTimeout != 3*time.Second {
		t.Fatalf("jump = %+v, want host j inheriting user, keys, agent, host-key policy and timeout", j)
	}
}

// With no known_hosts files configured, a global file comes after the
// user's default one rather than replacing it.
func TestGlobalKnownHostsKeepsUserDefault(t *testing.T) {
	var cfg sshx.Config
	if err := applySSHArgs(&cfg, "-o GlobalKnownHostsFile=~/g", "/home/op"); err != nil {
		t.Fatal(err)
	}
	want := []string{"/home/op/.ssh/known_hosts", "/home/op/g"}
	if !reflect.DeepEqual(cfg.KnownHostsFiles, want) {
		t.Errorf("KnownHostsFiles = %v, want %v", cfg.KnownHostsFiles, want)
	}
}

// The order of the two options does not matter: a UserKnownHostsFile read
// after a GlobalKnownHostsFile replaces the user's files only.
func TestGlobalKnownHostsSurvivesLaterUserFile(t *testing.T) {
	for _, args := range []string{
		"-o GlobalKnownHostsFile=/g -o UserKnownHostsFile=/u",
		"-o UserKnownHostsFile=/u -o GlobalKnownHostsFile=/g",
	} {
		var cfg sshx.Config
		if err := applySSHArgs(&cfg, args, "/home/op"); err != nil {
			t.Fatal(err)
		}
		if want := []string{"/u", "/g"}; !reflect.DeepEqual(cfg.KnownHostsFiles, want) {
			t.Errorf("%s: KnownHostsFiles = %v, want %v", args, cfg.KnownHostsFiles, want)
		}
	}
}
