package ansiblecfg

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	const full = `# comment
[defaults]
inventory = hosts, ~/more ,/abs/inv
remote_user = deploy ; inline comment
private_key_file: ~/.ssh/fleet
forks = 20
host_key_checking = False
timeout = 30

[privilege_escalation]
become = true
`
	tests := []struct {
		name    string
		cfgs    map[string]string // relative to a temp root: cwd/, home/, other/
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults when nothing is found", want: Config{Forks: 5, HostKeyChecking: true, Timeout: 10 * time.Second}},
		{name: "cwd file", cfgs: map[string]string{"cwd/ansible.cfg": full}, want: Config{
			Path: "cwd/ansible.cfg", Inventory: []string{"cwd/hosts", "home/more", "/abs/inv"}, RemoteUser: "deploy",
			PrivateKeyFile: "home/.ssh/fleet", Forks: 20, HostKeyChecking: false, Timeout: 30 * time.Second}},
		{name: "home file when cwd has none", cfgs: map[string]string{"home/.ansible.cfg": "[defaults]\nremote_user=h\n"},
			want: Config{Path: "home/.ansible.cfg", RemoteUser: "h", Forks: 5, HostKeyChecking: true, Timeout: 10 * time.Second}},
		{name: "cwd beats home", cfgs: map[string]string{"home/.ansible.cfg": "[defaults]\nremote_user=h\n", "cwd/ansible.cfg": "[defaults]\nremote_user=c\n"},
			want: Config{Path: "cwd/ansible.cfg", RemoteUser: "c", Forks: 5, HostKeyChecking: true, Timeout: 10 * time.Second}},
		{name: "ANSIBLE_CONFIG directory beats cwd", cfgs: map[string]string{"other/ansible.cfg": "[defaults]\nforks=7\n", "cwd/ansible.cfg": "[defaults]\nforks=9\n"},
			env:  map[string]string{"ANSIBLE_CONFIG": "@/other"},
			want: Config{Path: "other/ansible.cfg", Forks: 7, HostKeyChecking: true, Timeout: 10 * time.Second}},
		{name: "env overrides file", cfgs: map[string]string{"cwd/ansible.cfg": full},
			env: map[string]string{"ANSIBLE_INVENTORY": "a.ini,b", "ANSIBLE_REMOTE_USER": "envu", "ANSIBLE_PRIVATE_KEY_FILE": "k",
				"ANSIBLE_FORKS": "3", "ANSIBLE_HOST_KEY_CHECKING": "yes", "ANSIBLE_TIMEOUT": "4"},
			want: Config{Path: "cwd/ansible.cfg", Inventory: []string{"cwd/a.ini", "cwd/b"}, RemoteUser: "envu",
				PrivateKeyFile: "cwd/k", Forks: 3, HostKeyChecking: true, Timeout: 4 * time.Second}},
		{name: "host_key_checking off via env", env: map[string]string{"ANSIBLE_HOST_KEY_CHECKING": "False"},
			want: Config{Forks: 5, HostKeyChecking: false, Timeout: 10 * time.Second}},
		{name: "bad forks", env: map[string]string{"ANSIBLE_FORKS": "many"}, wantErr: "ANSIBLE_FORKS: forks must be a positive integer"},
		{name: "bad timeout in file", cfgs: map[string]string{"cwd/ansible.cfg": "[defaults]\ntimeout=soon\n"}, wantErr: "ansible.cfg [defaults] timeout"},
		{name: "duplicate option", cfgs: map[string]string{"cwd/ansible.cfg": "[defaults]\nforks=1\nforks=2\n"}, wantErr: "ansible.cfg:3: option \"forks\""},
		{name: "garbage line", cfgs: map[string]string{"cwd/ansible.cfg": "[defaults]\njunk\n"}, wantErr: "ansible.cfg:2: expected key = value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range []string{"cwd", "home"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for p, text := range tt.cfgs {
				write(t, filepath.Join(root, p), text)
			}
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = strings.ReplaceAll(v, "@", root)
			}
			got, err := LoadWith(envOf(env), Options{Cwd: filepath.Join(root, "cwd"), Home: filepath.Join(root, "home")})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			abs := func(p string) string {
				if p == "" || filepath.IsAbs(p) {
					return p
				}
				return filepath.Join(root, p)
			}
			want.Path = abs(want.Path)
			want.PrivateKeyFile = abs(want.PrivateKeyFile)
			var inv []string
			for _, p := range want.Inventory {
				inv = append(inv, abs(p))
			}
			want.Inventory = inv
			if got.Path == "/etc/ansible/ansible.cfg" {
				t.Skip("this machine has /etc/ansible/ansible.cfg")
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
		})
	}
}

func TestWorldWritableCwdIsSkipped(t *testing.T) {
	root := t.TempDir()
	cwd := filepath.Join(root, "cwd")
	write(t, filepath.Join(cwd, "ansible.cfg"), "[defaults]\nforks=9\n")
	if err := os.Chmod(cwd, 0o777); err != nil {
		t.Fatal(err)
	}
	got, err := LoadWith(envOf(nil), Options{Cwd: cwd, Home: filepath.Join(root, "home")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Forks != 5 || len(got.Warnings) != 1 {
		t.Errorf("forks=%d warnings=%q, want the world-writable cwd config ignored with a warning", got.Forks, got.Warnings)
	}
}

func TestBoolean(t *testing.T) {
	for in, want := range map[string]bool{"True": true, " yes ": true, "on": true, "1": true, "t": true, "Y": true,
		"False": false, "no": false, "off": false, "0": false, "": false, "maybe": false} {
		t.Run(in, func(t *testing.T) {
			if got := Boolean(in); got != want {
				t.Errorf("Boolean(%q) = %v, want %v", in, got, want)
			}
		})
	}
}
