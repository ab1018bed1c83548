package orchestrator

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/murderctl/murderctl/inventory"
	"github.com/murderctl/murderctl/sshx"
)

const targetsINI = `[web]
plain
full ansible_host=10.0.0.1 ansible_port=2222 ansible_user=deploy ansible_ssh_private_key_file=~/.ssh/deploy_key
ssh_user ansible_user=a ansible_ssh_user=b
templated ansible_host="{{ lookup('env', 'WEB') }}"
local ansible_connection=local
docker ansible_connection=docker
smart ansible_connection=smart
nocheck ansible_host_key_checking=false
proxy ansible_ssh_common_args='-o ProxyCommand="ssh -W %h:%p jumper@bastion -p 2200"'
jumps ansible_ssh_common_args='-J j1,j2:2022' ansible_ssh_extra_args='-o StrictHostKeyChecking=no'
unknownopt ansible_ssh_common_args='-o RemoteCommand=id'
acceptnew ansible_ssh_common_args='-o StrictHostKeyChecking=accept-new'
badport ansible_port=99999
khfile ansible_ssh_common_args='-o UserKnownHostsFile=~/kh'
`

func loadTargetsInventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hosts.ini")
	if err := os.WriteFile(p, []byte(targetsINI), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(context.Background(), []string{p}, inventory.Options{})
	if err != nil {
		t.Fatalf("inventory.Load: %v", err)
	}
	return inv
}

func TestTargetFromHost(t *testing.T) {
	inv := loadTargetsInventory(t)
	const home = "/home/op"
	defaults := inventory.ConnDefaults{RemoteUser: "ops", PrivateKeyFile: "~/.ssh/id_default", HostKeyChecking: true, Home: home}
	opts := TargetOptions{ConnectTimeout: 4 * time.Second, KnownHostsFiles: []string{"/etc/kh"}, Home: home}
	base := func(host string) sshx.Config {
		return sshx.Config{Host: host, Port: 22, User: "ops", UseAgent: true, KeyFiles: []string{home + "/.ssh/id_default"},
			KnownHostsFiles: []string{"/etc/kh"}, ConnectTimeout: 4 * time.Second}
	}
	tests := []struct {
		host string
		want func(c *sshx.Config)
	}{
		{"plain", func(c *sshx.Config) {}},
		{"full", func(c *sshx.Config) {
			c.Host, c.Port, c.User, c.KeyFiles = "10.0.0.1", 2222, "deploy", []string{home + "/.ssh/deploy_key"}
		}},
		{"ssh_user", func(c *sshx.Config) { c.User = "b" }},
		{"smart", func(c *sshx.Config) {}},
		{"nocheck", func(c *sshx.Config) { c.InsecureIgnoreHostKey = true }},
		{"proxy", func(c *sshx.Config) {
			j := base("bastion")
			j.Port, j.User = 2200, "jumper"
			c.Jump = &j
		}},
		{"jumps", func(c *sshx.Config) {
			j1, j2 := base("j1"), base("j2")
			j1.Port, j2.Port = 0, 2022
			j2.Jump = &j1
			c.Jump = &j2
			// extra args come after common args: the jumps keep checking host keys
			c.InsecureIgnoreHostKey = true
		}},
		{"khfile", func(c *sshx.Config) { c.KnownHostsFiles = []string{home + "/kh"} }},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			h := inv.Host(tt.host)
			if h == nil {
				t.Fatalf("host %s not in inventory", tt.host)
			}
			got, err := TargetFromHost(h, defaults, opts)
			if err != nil {
				t.Fatalf("TargetFromHost: %v", err)
			}
			want := base(tt.host)
			tt.want(&want)
			if got.Name != tt.host || !reflect.DeepEqual(got.SSH, want) {
				t.Errorf("TargetFromHost(%s)\n got %s %s\nwant %s", tt.host, got.Name, describe(&got.SSH), describe(&want))
			}
			if got.Vars == nil {
				t.Error("Vars not carried")
			}
		})
	}
}

func TestTargetFromHostRefuses(t *testing.T) {
	inv := loadTargetsInventory(t)
	tests := []struct{ host, wantErr string }{
		{"templated", "Jinja template"},
		{"local", "ansible_connection=local is not supported"},
		{"docker", "ansible_connection=docker is not supported"},
		{"unknownopt", `unsupported ssh option "RemoteCommand=id"`},
		{"acceptnew", "accept-new is not supported"},
		{"badport", "not a valid port"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			_, err := TargetFromHost(inv.Host(tt.host), inventory.ConnDefaults{HostKeyChecking: true}, TargetOptions{Home: "/h"})
			if err == nil {
				t.Fatal("TargetFromHost succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.host) {
				t.Errorf("err = %v, want it to name host %s and say %q", err, tt.host, tt.wantErr)
			}
		})
	}
}

// Ansible's host_key_checking=False in the defaults turns checking off for
// every host; a host variable turns it back on.
func TestTargetHostKeyCheckingDefaults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(p, []byte("a\nb ansible_ssh_host_key_checking=yes\n"), 0o600)
	inv, err := inventory.Load(context.Background(), []string{p}, inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host      string
		defaultOn bool
		insecure  bool
	}{
		{"a", true, false}, {"a", false, true}, {"b", false, false},
	} {
		got, err := TargetFromHost(inv.Host(tc.host), inventory.ConnDefaults{HostKeyChecking: tc.defaultOn}, TargetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.SSH.InsecureIgnoreHostKey != tc.insecure {
			t.Errorf("host %s, default checking %v: InsecureIgnoreHostKey = %v, want %v", tc.host, tc.defaultOn, got.SSH.InsecureIgnoreHostKey, tc.insecure)
		}
	}
}
