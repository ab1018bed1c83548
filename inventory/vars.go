package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

var varsExts = []string{"", ".yml", ".yaml", ".json"}

// varsFiles finds group_vars/NAME or host_vars/NAME as Ansible's
// host_group_vars plugin does: the first of NAME (file or directory),
// NAME.yml, NAME.yaml, NAME.json; a directory is read recursively in sorted
// order, skipping hidden files, backups (~) and other extensions.
func varsFiles(dir, sub, name string) ([]string, error) {
	if strings.HasPrefix(name, "/") {
		return nil, nil
	}
	base, err := filepath.EvalSymlinks(filepath.Join(dir, sub))
	if err != nil {
		return nil, nil
	}
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		return nil, nil
	}
	for _, ext := range varsExts {
		p := filepath.Join(base, name) + ext
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if !st.IsDir() {
			return []string{p}, nil
		}
		return dirVarsFiles(p)
	}
	return nil, nil
}

func dirVarsFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read vars directory %s: %w", dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, ".") || strings.HasSuffix(n, "~") {
			continue
		}
		p := filepath.Join(dir, n)
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		ext := filepath.Ext(n)
		if st.IsDir() && ext == "" {
			sub, err := dirVarsFiles(p)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		} else if st.Mode().IsRegular() && (ext == "" || ext == ".yml" || ext == ".yaml" || ext == ".json") {
			out = append(out, p)
		}
	}
	return out, nil
}

type varsCache map[string]map[string]any

// entityVars merges the group_vars or host_vars of one entity across every
// source directory, in source order.
func (inv *Inventory) entityVars(cache varsCache, sub, name string) (map[string]any, error) {
	out := map[string]any{}
	for _, dir := range inv.varsDirs {
		files, err := varsFiles(dir, sub, name)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			m, ok := cache[f]
			if !ok {
				data, err := os.ReadFile(f)
				if err != nil {
					return nil, fmt.Errorf("read vars file %s: %w", f, err)
				}
				v, err := decodeData(data)
				if err != nil {
					return nil, &ParseError{File: f, Msg: err.Error()}
				}
				if v != nil {
					if m, ok = v.(map[string]any); !ok {
						return nil, &ParseError{File: f, Msg: fmt.Sprintf("vars file must hold a dictionary, got %T", v)}
					}
				}
				cache[f] = m
			}
			for k, v := range m {
				out[k] = v
			}
		}
	}
	return out, nil
}

// sortGroups orders groups as Ansible's sort_groups: depth, priority, name.
func sortGroups(gs []*Group) []*Group {
	out := append([]*Group(nil), gs...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Depth != b.Depth {
			return a.Depth < b.Depth
		}
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		return a.Name < b.Name
	})
	return out
}

// resolveVars computes every host's Vars and Groups in Ansible's
// precedence, lowest first: inline all; inline groups sorted by depth,
// priority and name; group_vars/all; group_vars/<group> (per source, groups
// sorted); inline host vars; host_vars/<host>.
func (inv *Inventory) resolveVars() error {
	cache := varsCache{}
	all := inv.groups["all"]
	allFiles, err := inv.entityVars(cache, "group_vars", "all")
	if err != nil {
		return err
	}
	groupFiles := map[string]map[string]any{}
	for _, h := range inv.hostOrder {
		var gs []*Group
		h.Groups = nil
		for _, g := range h.groups {
			if g != all {
				gs = append(gs, g)
				h.Groups = append(h.Groups, g.Name)
			}
		}
		sort.Strings(h.Groups)
		gs = sortGroups(gs)
		vars := map[string]any{}
		merge := func(m map[string]any) {
			for k, v := range m {
				vars[k] = v
			}
		}
		merge(all.Vars)
		for _, g := range gs {
			merge(g.Vars)
		}
		merge(allFiles)
		// group_vars per source directory, then per group within it.
		for _, dir := range inv.varsDirs {
			for _, g := range gs {
				key := dir + "\x00" + g.Name
				m, ok := groupFiles[key]
				if !ok {
					sub := &Inventory{varsDirs: []string{dir}}
					if m, err = sub.entityVars(cache, "group_vars", g.Name); err != nil {
						return err
					}
					groupFiles[key] = m
				}
				merge(m)
			}
		}
		merge(h.own)
		hv, err := inv.entityVars(cache, "host_vars", h.Name)
		if err != nil {
			return err
		}
		merge(hv)
		for _, internal := range internalVars {
			delete(vars, internal)
		}
		h.Vars = vars
	}
	return nil
}

// internalVars are the names ansible-inventory strips from its output.
var internalVars = []string{"ansible_diff_mode", "ansible_config_file", "ansible_facts", "ansible_forks",
	"ansible_inventory_sources", "ansible_limit", "ansible_playbook_python", "ansible_run_tags",
	"ansible_skip_tags", "ansible_verbosity", "ansible_version", "inventory_dir", "inventory_file",
	"inventory_hostname", "inventory_hostname_short", "groups", "group_names", "omit", "playbook_dir"}
