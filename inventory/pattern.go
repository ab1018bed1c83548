package inventory

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// ErrNoMatch is wrapped by Select when a pattern selects no host.
var ErrNoMatch = errors.New("no hosts matched")

var rePatternSubscript = regexp.MustCompile(`^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$`)

// Select returns the hosts matching an Ansible host pattern, in Ansible's
// order. The pattern language is Ansible's: "all" or "*"; group and host
// names; unions with ":" or ","; intersections "&g"; exclusions "!g"; shell
// globs; "~regex"; subscripts "g[0]", "g[-1]", "g[1:3]"; and "@file" (one
// pattern per line). Unlike Ansible, a part of the pattern that matches
// nothing is an error, as is an empty result: both wrap ErrNoMatch.
func (inv *Inventory) Select(pattern string) ([]*Host, error) {
	parts, err := expandAtFiles(splitHostPattern(pattern))
	if err != nil {
		return nil, err
	}
	hosts, err := inv.evaluate(parts)
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("pattern %q: %w", pattern, ErrNoMatch)
	}
	return hosts, nil
}

// Limit narrows hosts to those also matched by limit (Ansible's --limit
// semantics: a subset, order kept). An empty limit returns hosts unchanged.
func (inv *Inventory) Limit(hosts []*Host, limit string) ([]*Host, error) {
	if strings.TrimSpace(limit) == "" {
		return hosts, nil
	}
	sub, err := inv.Select(limit)
	if err != nil {
		return nil, fmt.Errorf("limit: %w", err)
	}
	in := map[*Host]bool{}
	for _, h := range sub {
		in[h] = true
	}
	var out []*Host
	for _, h := range hosts {
		if in[h] {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("limit %q: %w", limit, ErrNoMatch)
	}
	return out, nil
}

// splitHostPattern splits as Ansible's split_host_pattern.
func splitHostPattern(p string) []string {
	var parts []string
	if strings.Contains(p, ",") {
		parts = strings.Split(p, ",")
	} else if _, _, err := parseAddress(p); err == nil {
		parts = []string{p}
	} else {
		parts = regexp.MustCompile(`(?:[^\s:\[\]]|\[[^\]]*\])+`).FindAllString(p, -1)
	}
	var out []string
	for _, x := range parts {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// expandAtFiles replaces "@file" parts with the file's lines.
func expandAtFiles(parts []string) ([]string, error) {
	var out []string
	for _, p := range parts {
		if !strings.HasPrefix(p, "@") {
			out = append(out, p)
			continue
		}
		data, err := os.ReadFile(p[1:])
		if err != nil {
			return nil, fmt.Errorf("limit file %s: %w", p[1:], err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, line)
			}
		}
	}
	return out, nil
}

func (inv *Inventory) evaluate(parts []string) ([]*Host, error) {
	var regular, and, not []string
	for _, p := range parts {
		switch p[0] {
		case '!':
			not = append(not, p)
		case '&':
			and = append(and, p)
		default:
			regular = append(regular, p)
		}
	}
	if len(regular) == 0 {
		regular = []string{"all"}
	}
	var hosts []*Host
	for _, p := range append(append(regular, and...), not...) {
		if h, ok := inv.hosts[p]; ok {
			l := hostList{}
			for _, x := range hosts {
				l.add(x)
			}
			l.add(h)
			hosts = l.list
			continue
		}
		that, err := inv.matchOne(p)
		if err != nil {
			return nil, err
		}
		set := map[*Host]bool{}
		for _, h := range that {
			set[h] = true
		}
		switch p[0] {
		case '!':
			hosts = filter(hosts, func(h *Host) bool { return !set[h] })
		case '&':
			hosts = filter(hosts, func(h *Host) bool { return set[h] })
		default:
			l := hostList{}
			for _, h := range hosts {
				l.add(h)
			}
			for _, h := range that {
				l.add(h)
			}
			hosts = l.list
		}
	}
	return hosts, nil
}

// hostList is an ordered set of hosts.
type hostList struct {
	list []*Host
	set  map[*Host]bool
}

func (l *hostList) add(h *Host) {
	if l.set == nil {
		l.set = map[*Host]bool{}
	}
	if !l.set[h] {
		l.set[h] = true
		l.list = append(l.list, h)
	}
}

func filter(hs []*Host, keep func(*Host) bool) []*Host {
	var out []*Host
	for _, h := range hs {
		if keep(h) {
			out = append(out, h)
		}
	}
	return out
}

func (inv *Inventory) matchOne(pattern string) ([]*Host, error) {
	if pattern[0] == '&' || pattern[0] == '!' {
		pattern = pattern[1:]
	}
	if pattern == "" {
		return nil, fmt.Errorf("empty host pattern: %w", ErrNoMatch)
	}
	expr, start, end, hasSub := pattern, 0, 0, false
	if pattern[0] != '~' {
		if m := rePatternSubscript.FindStringSubmatch(pattern); m != nil {
			expr, hasSub = m[1], true
			if m[2] != "" {
				start, _ = strconv.Atoi(m[2])
				end = 0
			} else {
				start, _ = strconv.Atoi(m[3])
				end = -1
				if m[5] != "" {
					end, _ = strconv.Atoi(m[5])
				}
				if end == 0 {
					end = -1
				}
			}
		}
	}
	hosts, err := inv.enumerate(expr)
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("could not match supplied host pattern %q: %w", pattern, ErrNoMatch)
	}
	if !hasSub {
		return hosts, nil
	}
	if m := rePatternSubscript.FindStringSubmatch(pattern); m[2] != "" {
		i := start
		if i < 0 {
			i += len(hosts)
		}
		if i < 0 || i >= len(hosts) {
			return nil, fmt.Errorf("no hosts matched the subscripted pattern '%s': %w", pattern, ErrNoMatch)
		}
		return []*Host{hosts[i]}, nil
	}
	if end == -1 {
		end = len(hosts) - 1
	}
	if start >= len(hosts) || start > end {
		return nil, fmt.Errorf("no hosts matched the subscripted pattern '%s': %w", pattern, ErrNoMatch)
	}
	if end >= len(hosts) {
		end = len(hosts) - 1
	}
	return hosts[start : end+1], nil
}

func (inv *Inventory) enumerate(pattern string) ([]*Host, error) {
	match, err := compileMatcher(pattern)
	if err != nil {
		return nil, err
	}
	var out hostList
	matchedGroup := false
	for _, g := range inv.groupOrder {
		if match(g.Name) {
			matchedGroup = true
			for _, h := range g.allHosts() {
				out.add(h)
			}
		}
	}
	if !matchedGroup || pattern[0] == '~' || strings.ContainsAny(pattern, ".?*[") {
		for _, h := range inv.hostOrder {
			if match(h.Name) {
				out.add(h)
			}
		}
	}
	return out.list, nil
}

// compileMatcher builds Ansible's matcher: fnmatch for plain patterns, a
// regular expression anchored at the start for "~regex".
func compileMatcher(pattern string) (func(string) bool, error) {
	if pattern[0] == '~' {
		re, err := regexp.Compile(`^(?:` + pattern[1:] + `)`)
		if err != nil {
			return nil, fmt.Errorf("invalid host list pattern %s: %w", pattern, err)
		}
		return re.MatchString, nil
	}
	if !strings.ContainsAny(pattern, "*?[") {
		return func(s string) bool { return s == pattern }, nil
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("invalid host list pattern %s: %w", pattern, err)
	}
	return func(s string) bool { return fnmatch(pattern, s) }, nil
}

// fnmatch is Python's fnmatch.fnmatchcase: like path.Match, but "*"
// also matches "/" and "[!...]" negates.
func fnmatch(pattern, name string) bool {
	p := strings.ReplaceAll(pattern, "[!", "[^")
	// path.Match treats "/" specially; hosts rarely contain it, so escape
	// it on both sides.
	ok, err := path.Match(strings.ReplaceAll(p, "/", "\x00"), strings.ReplaceAll(name, "/", "\x00"))
	return err == nil && ok
}
