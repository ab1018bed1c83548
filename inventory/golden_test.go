package inventory

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestGoldenCorpus loads every inventory under testdata/corpus and compares
// the result with what ansible-inventory printed for it (testdata/regen.sh).
// Cases Ansible refuses (golden/error) must fail to load here too; cases
// with a DIVERGES file are ones murderctl refuses on purpose.
func TestGoldenCorpus(t *testing.T) {
	dirs, err := filepath.Glob("testdata/corpus/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 60 {
		t.Fatalf("corpus has %d cases, want at least 60", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			srcText, err := os.ReadFile(filepath.Join(dir, "SOURCES"))
			if err != nil {
				t.Fatal(err)
			}
			var sources []string
			for _, s := range strings.Split(strings.TrimSpace(string(srcText)), "\n") {
				if strings.Contains(s, ",") {
					sources = append(sources, s)
				} else {
					sources = append(sources, filepath.Join(dir, s))
				}
			}
			inv, err := Load(context.Background(), sources, Options{})
			_, wantErr := os.Stat(filepath.Join(dir, "golden", "error"))
			_, diverges := os.Stat(filepath.Join(dir, "DIVERGES"))
			if wantErr == nil || diverges == nil {
				if err == nil {
					t.Fatalf("Load succeeded; Ansible (or murderctl by design) refuses this inventory")
				}
				t.Logf("refused as expected: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want, err := os.ReadFile(filepath.Join(dir, "golden", "list.json"))
			if err != nil {
				t.Fatal(err)
			}
			compareListJSON(t, inv.ListJSON(nil), want)
			wantGraph, err := os.ReadFile(filepath.Join(dir, "golden", "graph.txt"))
			if err != nil {
				t.Fatal(err)
			}
			gotGraph, err := inv.Graph("all", false)
			if err != nil {
				t.Fatal(err)
			}
			if gotGraph != strings.TrimRight(string(wantGraph), "\n") {
				t.Errorf("--graph differs\ngot:\n%s\nwant:\n%s", gotGraph, wantGraph)
			}
			comparePatterns(t, inv, dir)
		})
	}
}

// compareListJSON wants byte-identical output; when it differs it reports
// the structural difference, treating host lists as sets (Ansible's order
// there comes from Python sets in places).
func compareListJSON(t *testing.T, got, want []byte) {
	t.Helper()
	if string(got) == strings.TrimRight(string(want), "\n") {
		return
	}
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("our --list is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	normalizeHostLists(g)
	normalizeHostLists(w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("--list differs\ngot:\n%s\nwant:\n%s", got, want)
		return
	}
	// Same content: the difference is formatting, which must match too.
	t.Errorf("--list formatting differs\ngot:\n%s\nwant:\n%s", got, want)
}

func normalizeHostLists(m map[string]any) {
	for k, v := range m {
		if k == "_meta" {
			continue
		}
		if g, ok := v.(map[string]any); ok {
			if hs, ok := g["hosts"].([]any); ok {
				sort.Slice(hs, func(i, j int) bool { return hs[i].(string) < hs[j].(string) })
			}
		}
	}
}

func comparePatterns(t *testing.T, inv *Inventory, dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "golden", "patterns.json"))
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]string
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for pattern, hosts := range want {
		got, err := inv.Select(pattern)
		if len(hosts) == 0 {
			if err == nil {
				t.Errorf("Select(%q) = %v, Ansible matched nothing", pattern, names(got))
			}
			continue
		}
		if err != nil {
			t.Errorf("Select(%q): %v; Ansible matched %v", pattern, err, hosts)
			continue
		}
		g := names(got)
		sort.Strings(g)
		w := append([]string(nil), hosts...)
		sort.Strings(w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("Select(%q) = %v, Ansible: %v", pattern, g, w)
		}
	}
}
