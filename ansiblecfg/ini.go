package ansiblecfg

import (
	"fmt"
	"strings"
)

// parseINI reads the subset of Python's configparser that ansible.cfg uses:
// [sections], "key = value" or "key: value" options (keys are
// case-insensitive), full-line comments starting with # or ;, inline
// comments starting with " ;", and indented continuation lines. As with
// configparser's strict mode, a repeated section or option is an error.
func parseINI(path, text string) (map[string]map[string]string, error) {
	sections := map[string]map[string]string{}
	seenSection := map[string]bool{}
	var cur map[string]string
	var curName, lastKey string
	for i, raw := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		lineno := i + 1
		trimmed := strings.TrimSpace(raw)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			if trimmed == "" {
				lastKey = ""
			}
			continue
		}
		if (raw[0] == ' ' || raw[0] == '\t') && lastKey != "" && cur != nil {
			cur[lastKey] += "\n" + stripInline(trimmed)
			continue
		}
		if trimmed[0] == '[' {
			end := strings.IndexByte(trimmed, ']')
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: malformed section header %q", path, lineno, trimmed)
			}
			curName = trimmed[1:end]
			if seenSection[curName] {
				return nil, fmt.Errorf("%s:%d: section [%s] already exists", path, lineno, curName)
			}
			seenSection[curName] = true
			cur = map[string]string{}
			sections[curName] = cur
			lastKey = ""
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("%s:%d: option outside any [section]: %q", path, lineno, trimmed)
		}
		sep := strings.IndexAny(trimmed, "=:")
		if sep <= 0 {
			return nil, fmt.Errorf("%s:%d: expected key = value, got %q", path, lineno, trimmed)
		}
		key := strings.ToLower(strings.TrimSpace(trimmed[:sep]))
		if _, dup := cur[key]; dup {
			return nil, fmt.Errorf("%s:%d: option %q in section [%s] already exists", path, lineno, key, curName)
		}
		cur[key] = stripInline(strings.TrimSpace(trimmed[sep+1:]))
		lastKey = key
	}
	return sections, nil
}

// stripInline removes a ";" comment preceded by whitespace, as configparser
// does with inline_comment_prefixes=(";",).
func stripInline(v string) string {
	for i := 1; i < len(v); i++ {
		if v[i] == ';' && (v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimSpace(v[:i])
		}
	}
	return v
}
