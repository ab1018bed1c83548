package inventory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadText(t *testing.T, name, text string) *Inventory {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := Load(context.Background(), []string{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func names(hs []*Host) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Name)
	}
	return out
}

const patternINI = `
lone
[web]
web[1:3].example.com
[db]
db1 ansible_host=10.0.0.5
db2
[prod:children]
web
db
[stage]
web1.example.com
`

func TestSelect(t *testing.T) {
	inv := loadText(t, "hosts", patternINI)
	tests := []struct {
		pattern string
		want    []string
		wantErr bool
	}{
		{"all", []string{"lone", "web1.example.com", "web2.example.com", "web3.example.com", "db1", "db2"}, false},
		{"*", []string{"lone", "web1.example.com", "web2.example.com", "web3.example.com", "db1", "db2"}, false},
		{"web", []string{"web1.example.com", "web2.example.com", "web3.example.com"}, false},
		{"db:lone", []string{"db1", "db2", "lone"}, false},
		{"db,lone", []string{"db1", "db2", "lone"}, false},
		{"prod:&stage", []string{"web1.example.com"}, false},
		{"prod:!web", []string{"db1", "db2"}, false},
		{"!db", []string{"lone", "web1.example.com", "web2.example.com", "web3.example.com"}, false},
		{"db*", []string{"db1", "db2"}, false},
		{"~web[12]", []string{"web1.example.com", "web2.example.com"}, false},
		{"web[0]", []string{"web1.example.com"}, false},
		{"web[-1]", []string{"web3.example.com"}, false},
		{"web[1:]", []string{"web2.example.com", "web3.example.com"}, false},
		{"web[0:1]", []string{"web1.example.com", "web2.example.com"}, false},
		{"ungrouped", []string{"lone"}, false},
		{"nosuch", nil, true},
		{"web[9]", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			got, err := inv.Select(tt.pattern)
			if tt.wantErr {
				if !errors.Is(err, ErrNoMatch) {
					t.Fatalf("Select(%q) error = %v, want ErrNoMatch", tt.pattern, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(names(got), tt.want) {
				t.Errorf("Select(%q) = %v, want %v", tt.pattern, names(got), tt.want)
			}
		})
	}
}

func TestConnection(t *testing.T) {
	inv := loadText(t, "hosts.yml", `
all:
  vars:
    ansible_user: fleet
  children:
    web:
      hosts:
        w1:
          ansible_host: 10.1.0.1
          ansible_port: 2222
          ansible_ssh_private_key_file: ~/.ssh/w
          ansible_ssh_common_args: -o ProxyJump=jump@bastion
          ansible_become: yes
        w2:
          ansible_ssh_host: 10.1.0.2
          ansible_ssh_port: "2200"
          ansible_ssh_user: other
          ansible_password: s3cret
        w3:
          ansible_host: "{{ lookup('env', 'X') }}"
        w4:
          ansible_port: twenty
`)
	d := ConnDefaults{RemoteUser: "cfguser", PrivateKeyFile: "/keys/default", HostKeyChecking: true, Home: "/home/op"}
	tests := []struct {
		host    string
		want    Connection
		wantErr string
	}{
		{host: "w1", want: Connection{Host: "w1", Address: "10.1.0.1", Port: 2222, User: "fleet", PrivateKeyFile: "/home/op/.ssh/w",
			SSHCommonArgs: "-o ProxyJump=jump@bastion", HostKeyChecking: true, Become: true, BecomeUser: "root", BecomeMethod: "sudo"}},
		{host: "w2", want: Connection{Host: "w2", Address: "10.1.0.2", Port: 2200, User: "other", PrivateKeyFile: "/keys/default",
			Password: "s3cret", HostKeyChecking: true, BecomeUser: "root", BecomeMethod: "sudo"}},
		{host: "w3", want: Connection{Host: "w3", Address: "{{ lookup('env', 'X') }}", Port: 22, User: "fleet", PrivateKeyFile: "/keys/default",
			HostKeyChecking: true, BecomeUser: "root", BecomeMethod: "sudo", Templated: []string{"ansible_host"}}},
		{host: "w4", wantErr: `host w4: ansible_port "twenty" is not a valid port`},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got, err := inv.Host(tt.host).Connection(d)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestMalformedNamesFileAndLine(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"bad.ini", "[web]\nh1\n[web:bogus]\n", "bad.ini:3: Section [web:bogus] has unknown type: bogus"},
		{"bad.ini", "[web]\nh1 novalue\n", "bad.ini:2: Expected key=value host variable assignment, got: novalue"},
		{"bad.ini", "[a:children]\nmissing\n", "bad.ini:2: Section [a:children] includes undefined group: missing"},
		{"bad.ini", "[g:vars]\nx=1\n", "bad.ini:1: Section [g:vars] not valid for undefined group: g"},
		{"bad.ini", "[web]\nh1 a=\"unterminated\n", "bad.ini:2: Error parsing host definition"},
		{"bad.yml", "all:\n  hosts: [a, b]\n", "bad.yml:2: Invalid \"hosts\" entry for \"all\" group"},
		{"bad.yml", "all:\n  hosts:\n    a: {x: 1\n", "bad.yml"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tt.name)
			if err := os.WriteFile(p, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(context.Background(), []string{p}, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestMissingSource(t *testing.T) {
	_, err := Load(context.Background(), []string{"/nonexistent/inventory"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/inventory") {
		t.Fatalf("error = %v", err)
	}
	if _, err := Load(context.Background(), nil, Options{}); !errors.Is(err, ErrNoSources) {
		t.Fatalf("error = %v, want ErrNoSources", err)
	}
}

func TestStricterThanAnsible(t *testing.T) {
	inv := loadText(t, "hosts", patternINI)
	// Ansible warns and carries on with "web"; murderctl refuses a pattern
	// part that matches nothing, so a typo never shrinks a deploy silently.
	if _, err := inv.Select("web:nosuch"); !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("Select(web:nosuch) error = %v, want ErrNoMatch naming nosuch", err)
	}
	hosts, err := inv.Select("all")
	if err != nil {
		t.Fatal(err)
	}
	limited, err := inv.Limit(hosts, "db")
	if err != nil || !reflect.DeepEqual(names(limited), []string{"db1", "db2"}) {
		t.Fatalf("Limit(all, db) = %v, %v", names(limited), err)
	}
	out := string(inv.ListJSON(limited))
	if strings.Contains(out, "web1") || !strings.Contains(out, `"ansible_host": "10.0.0.5"`) {
		t.Errorf("ListJSON(limited) = %s", out)
	}
}
