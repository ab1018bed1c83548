package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// corpusArgs turns a corpus case's SOURCES file into -i flags, or reports
// that the case is not one the CLI should print (Ansible refuses it, or
// murderctl diverges on purpose).
func corpusArgs(t *testing.T, dir string) ([]string, bool) {
	t.Helper()
	for _, marker := range []string{"golden/error", "DIVERGES"} {
		if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
			return nil, false
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "golden", "list.json")); err != nil {
		return nil, false
	}
	src, err := os.ReadFile(filepath.Join(dir, "SOURCES"))
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, s := range strings.Split(strings.TrimSpace(string(src)), "\n") {
		if !strings.Contains(s, ",") {
			s = filepath.Join(dir, s)
		}
		args = append(args, "-i", s)
	}
	return args, true
}

// normalizeList decodes ansible-inventory --list output with host lists
// sorted: Ansible's order there comes from Python sets in places.
func normalizeList(t *testing.T, b []byte) any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	for name, g := range v {
		if m, ok := g.(map[string]any); ok && name != "_meta" {
			if hosts, ok := m["hosts"].([]any); ok {
				sort.Slice(hosts, func(i, j int) bool { return hosts[i].(string) < hosts[j].(string) })
			}
		}
	}
	return v
}

// `murderctl inventory --list` and `--graph` print what ansible-inventory
// printed for every corpus inventory it accepts.
func TestInventoryCommandMatchesAnsible(t *testing.T) {
	hideAnsibleConfig(t)
	dirs, err := filepath.Glob("../../inventory/testdata/corpus/*")
	if err != nil || len(dirs) < 40 {
		t.Fatalf("corpus: %d cases, %v", len(dirs), err)
	}
	ran := 0
	for _, dir := range dirs {
		args, ok := corpusArgs(t, dir)
		if !ok {
			continue
		}
		ran++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			code, stdout, stderr := runRoot(t, append([]string{"inventory", "--list"}, args...)...)
			if code != 0 {
				t.Fatalf("--list exit %d: %s", code, stderr)
			}
			want, _ := os.ReadFile(filepath.Join(dir, "golden", "list.json"))
			if stdout != string(want) && !reflect.DeepEqual(normalizeList(t, []byte(stdout)), normalizeList(t, want)) {
				t.Errorf("--list differs\ngot:\n%s\nwant:\n%s", stdout, want)
			}
			code, stdout, stderr = runRoot(t, append([]string{"inventory", "--graph"}, args...)...)
			if code != 0 {
				t.Fatalf("--graph exit %d: %s", code, stderr)
			}
			wantGraph, _ := os.ReadFile(filepath.Join(dir, "golden", "graph.txt"))
			if strings.TrimRight(stdout, "\n") != strings.TrimRight(string(wantGraph), "\n") {
				t.Errorf("--graph differs\ngot:\n%s\nwant:\n%s", stdout, wantGraph)
			}
		})
	}
	if ran < 30 {
		t.Errorf("only %d corpus cases ran", ran)
	}
}

func TestInventoryCommandModes(t *testing.T) {
	hideAnsibleConfig(t)
	inv := writeFile(t, t.TempDir(), "hosts.ini", `[web]
w1 ansible_host=10.0.0.1 http_port=8080
w2
[db]
d1
[prod:children]
web
`)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		check    func(t *testing.T, stdout string)
	}{
		{"host vars", []string{"--host", "w1"}, 0, func(t *testing.T, out string) {
			var v map[string]any
			if err := json.Unmarshal([]byte(out), &v); err != nil || v["ansible_host"] != "10.0.0.1" || v["http_port"] != float64(8080) {
				t.Errorf("--host w1: %v %s", err, out)
			}
		}},
		{"graph of a group", []string{"--graph", "prod"}, 0, func(t *testing.T, out string) {
			want := "@prod:\n  |--@web:\n  |  |--w1\n  |  |--w2\n"
			if out != want {
				t.Errorf("--graph prod\ngot:\n%s\nwant:\n%s", out, want)
			}
		}},
		{"list limited", []string{"--list", "--limit", "db"}, 0, func(t *testing.T, out string) {
			if !strings.Contains(out, `"d1"`) || strings.Contains(out, `"w1"`) {
				t.Errorf("--list --limit db:\n%s", out)
			}
		}},
		{"unknown host", []string{"--host", "nope"}, ExitFailure, nil},
		{"unknown group", []string{"--graph", "nope"}, ExitFailure, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runRoot(t, append([]string{"inventory", "-i", inv}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.wantCode, stderr)
			}
			if tt.check != nil {
				tt.check(t, stdout)
			}
		})
	}
}
