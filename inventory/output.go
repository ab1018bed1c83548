package inventory

import (
	"fmt"
	"sort"
	"strings"
)

// ListJSON renders the inventory as `ansible-inventory --list` prints it
// (without the trailing newline): every group reachable from "all" with its
// hosts and children, and every host's variables under _meta.hostvars.
// A non-nil hosts restricts the output to those hosts, as --limit does.
func (inv *Inventory) ListJSON(hosts []*Host) []byte {
	keep := func(*Host) bool { return true }
	if hosts != nil {
		set := map[*Host]bool{}
		for _, h := range hosts {
			set[h] = true
		}
		keep = func(h *Host) bool { return set[h] }
	}
	out := map[string]any{}
	seen := map[string]bool{}
	var format func(g *Group)
	format = func(g *Group) {
		entry := map[string]any{}
		if g.Name != "all" {
			var hs []any
			for _, h := range g.hosts {
				if keep(h) {
					hs = append(hs, h.Name)
				}
			}
			if len(hs) > 0 {
				entry["hosts"] = hs
			}
		}
		var children []any
		for _, c := range g.children {
			children = append(children, c.Name)
			if !seen[c.Name] {
				format(c)
				seen[c.Name] = true
			}
		}
		if len(children) > 0 {
			entry["children"] = children
		}
		if len(entry) > 0 {
			out[g.Name] = entry
		}
	}
	format(inv.groups["all"])
	hostvars := map[string]any{}
	for _, h := range inv.hostOrder {
		if keep(h) && len(h.Vars) > 0 {
			hostvars[h.Name] = h.Vars
		}
	}
	out["_meta"] = map[string]any{"hostvars": hostvars}
	return marshalPy(out)
}

// HostJSON renders one host's variables as `ansible-inventory --host NAME`.
func (inv *Inventory) HostJSON(name string) ([]byte, error) {
	h := inv.hosts[name]
	if h == nil {
		return nil, fmt.Errorf("host %q: %w", name, ErrNoMatch)
	}
	return marshalPy(h.Vars), nil
}

// Graph renders the group tree from group (normally "all") as
// `ansible-inventory --graph [GROUP] [--vars]` prints it.
func (inv *Inventory) Graph(group string, withVars bool) (string, error) {
	g := inv.groups[group]
	if g == nil {
		return "", fmt.Errorf("graph: pattern must be a valid group name, got %q", group)
	}
	var lines []string
	name := func(s string, depth int) string {
		if depth == 0 {
			return s
		}
		return strings.Repeat("  |", depth) + "--" + s
	}
	showVars := func(m map[string]any, depth int) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			lines = append(lines, name("{"+k+" = "+pyStr(m[k])+"}", depth))
		}
	}
	var walk func(g *Group, depth int)
	walk = func(g *Group, depth int) {
		lines = append(lines, name("@"+g.Name+":", depth))
		for _, c := range g.children {
			walk(c, depth+1)
		}
		if g.Name != "all" {
			for _, h := range g.hosts {
				lines = append(lines, name(h.Name, depth+1))
				if withVars {
					showVars(h.Vars, depth+2)
				}
			}
		}
		if withVars {
			gv := map[string]any{}
			for k, v := range g.Vars {
				gv[k] = v
			}
			if g.Priority != 1 {
				gv["ansible_group_priority"] = int64(g.Priority)
			}
			showVars(gv, depth+1)
		}
	}
	walk(g, 0)
	return strings.Join(lines, "\n"), nil
}

// pyStr renders a value as Python's str() would inside --graph --vars.
func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case yamlDate:
		return strings.Replace(string(x), "T", " ", 1)
	}
	return pyRepr(v)
}

func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		if strings.Contains(x, "'") && !strings.Contains(x, `"`) {
			return `"` + x + `"`
		}
		return "'" + strings.ReplaceAll(strings.ReplaceAll(x, `\`, `\\`), "'", `\'`) + "'"
	case float64:
		s := pyFloat(x)
		switch s {
		case "Infinity":
			return "inf"
		case "-Infinity":
			return "-inf"
		case "NaN":
			return "nan"
		}
		return s
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyRepr(k) + ": " + pyRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return string(appendValue(nil, v, "", ""))
}
