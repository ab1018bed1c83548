package inventory

import (
	"fmt"
	"regexp"
	"strings"
)

// The INI grammar of Ansible's ini inventory plugin.
var (
	reINISection   = regexp.MustCompile(`^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$`)
	reINIGroupName = regexp.MustCompile(`^([^:\]\s]+)\s*(?:#.*)?$`)
)

// ParseError is a malformed inventory: File and Line locate it (Line is 0
// when the problem is not tied to one line).
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

type pendingDecl struct {
	line    int
	state   string
	parents []string
}

// parseINI adds the INI inventory text (from file, for messages) to inv,
// following Ansible's ini plugin line by line.
func parseINI(inv *Inventory, file string, text string) error {
	errAt := func(line int, format string, a ...any) error {
		return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	pending := map[string]*pendingDecl{}
	var pendingOrder []string
	addPending := func(name string, d *pendingDecl) {
		pending[name] = d
		pendingOrder = append(pendingOrder, name)
	}
	var addPendingChildren func(group string) error
	addPendingChildren = func(group string) error {
		d := pending[group]
		if d == nil {
			return nil
		}
		delete(pending, group)
		for _, parent := range d.parents {
			if err := inv.addChild(parent, group); err != nil {
				return errAt(d.line, "%v", err)
			}
			if p := pending[parent]; p != nil && p.state == "children" {
				if err := addPendingChildren(parent); err != nil {
					return err
				}
			}
		}
		return nil
	}
	group, state := "ungrouped", "hosts"
	for i, raw := range pySplitLines(text) {
		lineno := i + 1
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		if m := reINISection.FindStringSubmatch(line); m != nil {
			// Ansible 2.14 keeps invalid characters in group names by default
			// (TRANSFORM_INVALID_GROUP_CHARS=never).
			group, state = m[1], m[2]
			if state == "" {
				state = "hosts"
			}
			if state != "hosts" && state != "children" && state != "vars" {
				return errAt(lineno, "Section [%s:%s] has unknown type: %s", m[1], m[2], state)
			}
			if inv.groups[group] == nil {
				if state == "vars" && pending[group] == nil {
					addPending(group, &pendingDecl{line: lineno, state: state})
				}
				inv.addGroup(group)
			}
			if d := pending[group]; d != nil && state != "vars" {
				if d.state == "children" {
					if err := addPendingChildren(group); err != nil {
						return err
					}
				} else if d.state == "vars" {
					delete(pending, group)
				}
			}
			continue
		} else if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			return errAt(lineno, "Invalid section entry: '%s'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters", line)
		}
		switch state {
		case "hosts":
			tokens, err := shlexSplit(line)
			if err != nil {
				return errAt(lineno, "Error parsing host definition '%s': %v", line, err)
			}
			if len(tokens) == 0 {
				return errAt(lineno, "Expected a host definition, got: %s", line)
			}
			names, port, err := expandINIHost(tokens[0])
			if err != nil {
				return errAt(lineno, "%v", err)
			}
			vars := map[string]any{}
			var order []string
			for _, t := range tokens[1:] {
				k, v, ok := strings.Cut(t, "=")
				if !ok {
					return errAt(lineno, "Expected key=value host variable assignment, got: %s", t)
				}
				if _, dup := vars[k]; !dup {
					order = append(order, k)
				}
				vars[k] = iniValue(v)
			}
			for _, name := range names {
				h, err := inv.addHost(name, group, port)
				if err != nil {
					return errAt(lineno, "%v", err)
				}
				for _, k := range order {
					h.own[k] = vars[k]
				}
			}
		case "vars":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return errAt(lineno, "Expected key=value, got: %s", line)
			}
			if err := inv.groups[group].setVar(strings.TrimSpace(k), iniValue(strings.TrimSpace(v))); err != nil {
				return errAt(lineno, "%v", err)
			}
		case "children":
			m := reINIGroupName.FindStringSubmatch(line)
			if m == nil {
				return errAt(lineno, "Expected group name, got: %s", line)
			}
			child := m[1]
			if inv.groups[child] == nil {
				if d := pending[child]; d == nil {
					addPending(child, &pendingDecl{line: lineno, state: state, parents: []string{group}})
				} else {
					d.parents = append(d.parents, group)
				}
			} else if err := inv.addChild(group, child); err != nil {
				return errAt(lineno, "%v", err)
			}
		}
	}
	for _, name := range pendingOrder {
		d := pending[name]
		if d == nil {
			continue
		}
		if d.state == "vars" {
			return errAt(d.line, "Section [%s:vars] not valid for undefined group: %s", name, name)
		}
		return errAt(d.line, "Section [%s:children] includes undefined group: %s", d.parents[len(d.parents)-1], name)
	}
	return nil
}

// expandINIHost is expandHostPattern plus the ini plugin's extra checks.
func expandINIHost(p string) ([]string, *int, error) {
	names, port, err := expandHostPattern(p)
	if err != nil {
		return nil, nil, err
	}
	if strings.HasSuffix(strings.TrimSpace(p), ":") && port == nil {
		return nil, nil, fmt.Errorf("Invalid host pattern '%s' supplied, ending in ':' is not allowed, this character is reserved to provide a port.", p)
	}
	for _, n := range names {
		if strings.TrimSpace(n) == "---" {
			return nil, nil, fmt.Errorf("Invalid host pattern '%s' supplied, '---' is normally a sign this is a YAML file.", p)
		}
	}
	return names, port, nil
}

// pySplitLines splits like Python's str.splitlines().
func pySplitLines(s string) []string {
	var out []string
	start := 0
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			out = append(out, string(rs[start:i]))
			start = i + 1
		case '\r':
			out = append(out, string(rs[start:i]))
			if i+1 < len(rs) && rs[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(rs) {
		out = append(out, string(rs[start:]))
	}
	return out
}

// shlexSplit splits like Python's shlex.split(s, comments=True) in POSIX
// mode: quotes group, backslash escapes, and '#' starts a comment even
// inside a word.
func shlexSplit(s string) ([]string, error) {
	var tokens []string
	var tok strings.Builder
	inTok, quoted := false, false
	rs := []rune(s)
	flush := func() {
		if inTok || quoted {
			tokens = append(tokens, tok.String())
		}
		tok.Reset()
		inTok, quoted = false, false
	}
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			flush()
		case c == '#':
			flush()
			return tokens, nil
		case c == '\\':
			if i+1 >= len(rs) {
				return nil, fmt.Errorf("No escaped character")
			}
			i++
			tok.WriteRune(rs[i])
			inTok = true
		case c == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("No closing quotation")
			}
			tok.WriteString(string(rs[i+1 : j]))
			i = j
			inTok, quoted = true, true
		case c == '"':
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) && (rs[j+1] == '"' || rs[j+1] == '\\') {
					j++
				}
				tok.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("No closing quotation")
			}
			i = j
			inTok, quoted = true, true
		default:
			tok.WriteRune(c)
			inTok = true
		}
	}
	flush()
	return tokens, nil
}
