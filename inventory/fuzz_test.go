package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

// corpusSeeds adds every corpus file with one of exts as a fuzz seed.
func corpusSeeds(f *testing.F, exts ...string) {
	files, _ := filepath.Glob("testdata/corpus/*/inv*")
	for _, p := range files {
		ext := filepath.Ext(p)
		for _, e := range exts {
			if ext == e {
				if data, err := os.ReadFile(p); err == nil {
					f.Add(data)
				}
			}
		}
	}
}

// FuzzParseINI: the INI parser never panics or hangs, and what it accepts
// renders to output.
func FuzzParseINI(f *testing.F) {
	corpusSeeds(f, "", ".ini")
	for _, s := range []string{"[g]\nh[1:3] a=010 b='x'\n", "[a:children]\nb\n[b]\nh\n", "h:22\n[::1]:2\n", "[g:vars]\nx=[1,{'a':(1,2)}]\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv := newInventory()
		if err := parseINI(inv, "fuzz.ini", string(data)); err != nil {
			return
		}
		inv.reconcile()
		if err := inv.resolveVars(); err != nil {
			return
		}
		_ = inv.ListJSON(nil)
		if _, err := inv.Graph("all", true); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseYAML: the YAML inventory parser and YAML 1.1 typing never panic
// or hang.
func FuzzParseYAML(f *testing.F) {
	corpusSeeds(f, ".yml", ".yaml", ".json")
	for _, s := range []string{"all:\n  hosts:\n    h: {a: 010, b: 1:30, c: yes}\n", "a: &x {b: *x}\n", "g:\n  <<: {hosts: {h: }}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv := newInventory()
		if err := parseYAMLInventory(inv, "fuzz.yml", data); err != nil {
			return
		}
		inv.reconcile()
		if err := inv.resolveVars(); err != nil {
			return
		}
		_ = inv.ListJSON(nil)
	})
}
