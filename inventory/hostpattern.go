package inventory

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The regular expressions of Ansible's parsing/utils/addresses.py.
var (
	reBracketedHostPort = regexp.MustCompile(`^\[(.+)\]:([0-9]+)$`)
	reHostPort          = regexp.MustCompile(`^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$`)
	reIPv4, reIPv6      *regexp.Regexp
	reHostname          *regexp.Regexp
)

func init() {
	numericRange := `\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`
	hexRange := `\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`
	alnumRange := `\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`
	i6 := `(?:[0-9a-f]{1,4}|` + hexRange + `)`
	i4 := `(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|` + numericRange + `)`
	reIPv4 = regexp.MustCompile(`(?i)^(?:` + i4 + `\.){3}` + i4 + `$`)
	v6 := []string{
		`(?:{0}:){7}{0}`, `(?:{0}:){1,6}:`, `(?:{0}:)(?::{0}){1,6}`, `(?:{0}:){2}(?::{0}){1,5}`,
		`(?:{0}:){3}(?::{0}){1,4}`, `(?:{0}:){4}(?::{0}){1,3}`, `(?:{0}:){5}(?::{0}){1,2}`,
		`(?:{0}:){6}(?::{0})`, `:(?::{0}){1,6}`, `{0}?::`, `(?:0:){6}(?:{0}\.){3}{0}`,
		`::(?:ffff:)?(?:{0}\.){3}{0}`, `(?:0:){5}ffff:(?:{0}\.){3}{0}`,
	}
	for i := range v6 {
		v6[i] = strings.ReplaceAll(v6[i], "{0}", i6)
	}
	// Python's regex applies the trailing $ to the last alternative only.
	last := len(v6) - 1
	v6[last] += `$`
	reIPv6 = regexp.MustCompile(`(?i)^(?:` + strings.Join(v6, "|") + `)`)
	// Python's (?<![_-]) lookbehind: a label may not end in _ or -. Go has no
	// lookbehind, so labels are checked by hand in isHostname.
	_ = alnumRange
}

// parseAddress splits "host:port", "[v6]:port" and validates the host part
// (which may contain ranges), as Ansible's parse_address(allow_ranges=True).
func parseAddress(s string) (host string, port *int, err error) {
	addr := s
	for _, re := range []*regexp.Regexp{reBracketedHostPort, reHostPort} {
		if m := re.FindStringSubmatch(addr); m != nil {
			addr = m[1]
			p, perr := strconv.Atoi(m[2])
			if perr != nil {
				return "", nil, fmt.Errorf("port %s out of range", m[2])
			}
			port = &p
		}
	}
	if reIPv4.MatchString(addr) || reIPv6.MatchString(addr) || isHostname(addr) {
		return addr, port, nil
	}
	return "", nil, fmt.Errorf("not a valid network hostname: %s", addr)
}

// isHostname matches Ansible's hostname pattern: dot-separated labels of
// word characters, '-' and alphanumeric ranges, each starting with a word
// character or range and not ending in '_' or '-'.
func isHostname(s string) bool {
	if s == "" {
		return false
	}
	for _, label := range splitLabels(s) {
		if !isLabel(label) {
			return false
		}
	}
	return true
}

// splitLabels splits on dots that are outside [ranges].
func splitLabels(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case '.':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

var reAlnumRange = regexp.MustCompile(`(?i)^\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`)

func isLabel(l string) bool {
	if l == "" {
		return false
	}
	first := true
	var lastRune rune
	for i := 0; i < len(l); {
		if l[i] == '[' {
			m := reAlnumRange.FindString(l[i:])
			if m == "" {
				return false
			}
			i += len(m)
			lastRune = ']'
			first = false
			continue
		}
		r, size := rune(l[i]), 1
		if r >= 0x80 {
			r, size = utf8.DecodeRuneInString(l[i:])
		}
		word := r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
		if !word && (first || r != '-') {
			return false
		}
		first = false
		lastRune = r
		i += size
	}
	return lastRune != '_' && lastRune != '-'
}

// expandHostPattern turns an inventory host entry into host names and an
// optional port, as Ansible's BaseInventoryPlugin._expand_hostpattern.
func expandHostPattern(p string) ([]string, *int, error) {
	pattern, port, err := parseAddress(p)
	if err != nil {
		pattern, port = p, nil
	}
	if !strings.Contains(pattern, "[") {
		return []string{pattern}, port, nil
	}
	names, err := expandRange(pattern)
	if err != nil {
		return nil, nil, err
	}
	return names, port, nil
}

const asciiLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// maxExpansion bounds range expansion so hostile input cannot exhaust memory.
const maxExpansion = 1 << 17

// expandRange expands the first [beg:end(:step)] of line, recursively.
func expandRange(line string) ([]string, error) {
	var out []string
	if err := expandInto(line, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func expandInto(line string, out *[]string) error {
	open := strings.IndexByte(line, '[')
	if open < 0 {
		*out = append(*out, line)
		return nil
	}
	rest := line[open+1:]
	closeIdx := strings.IndexByte(rest, ']')
	// Python: line.replace('[','|',1).replace(']','|',1).split('|') must
	// give exactly three parts.
	if closeIdx < 0 || strings.ContainsAny(line[:open], "|") || strings.ContainsAny(rest, "|") {
		return fmt.Errorf("invalid host range in %q", line)
	}
	head, nrange, tail := line[:open], rest[:closeIdx], rest[closeIdx+1:]
	bounds := strings.Split(nrange, ":")
	if len(bounds) != 2 && len(bounds) != 3 {
		return fmt.Errorf("host range must be begin:end or begin:end:step in %q", line)
	}
	beg, end, step := bounds[0], bounds[1], 1
	if len(bounds) == 3 {
		s, err := pyInt(bounds[2])
		if err != nil {
			return fmt.Errorf("invalid host range step %q in %q", bounds[2], line)
		}
		step = s
	}
	if step == 0 {
		return fmt.Errorf("host range step must not be zero in %q", line)
	}
	if beg == "" {
		beg = "0"
	}
	if end == "" {
		return fmt.Errorf("host range must specify end value in %q", line)
	}
	width := 0
	if beg[0] == '0' && len(beg) > 1 {
		width = len(beg)
		if width != len(end) {
			return fmt.Errorf("host range must specify equal-length begin and end formats in %q", line)
		}
	}
	var seq []string
	ib, ie := strings.Index(asciiLetters, beg), strings.Index(asciiLetters, end)
	if len(beg) == 1 && len(end) == 1 && ib >= 0 && ie >= 0 {
		if ib > ie {
			return fmt.Errorf("host range must have begin <= end in %q", line)
		}
		if step > 0 { // a negative step gives Python's empty slice
			for i := ib; i <= ie; i += step {
				seq = append(seq, asciiLetters[i:i+1])
			}
		}
	} else {
		b, err1 := pyInt(beg)
		e, err2 := pyInt(end)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("invalid host range [%s] in %q", nrange, line)
		}
		n := 0
		stop := e + 1 // Python's range(beg, end+1, step)
		for i := b; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
			n++
			if n > maxExpansion {
				return fmt.Errorf("host range in %q expands to more than %d hosts", line, maxExpansion)
			}
			s := strconv.Itoa(i)
			if width > 0 {
				s = zfill(s, width)
			}
			seq = append(seq, s)
		}
	}
	for _, x := range seq {
		if len(*out) > maxExpansion {
			return fmt.Errorf("host range in %q expands to more than %d hosts", line, maxExpansion)
		}
		if err := expandInto(head+x+tail, out); err != nil {
			return err
		}
	}
	return nil
}

// zfill pads like Python's str.zfill (a sign stays in front).
func zfill(s string, w int) string {
	sign := ""
	if s != "" && (s[0] == '-' || s[0] == '+') {
		sign, s = s[:1], s[1:]
	}
	for len(sign)+len(s) < w {
		s = "0" + s
	}
	return sign + s
}

// pyInt parses like Python's int(): surrounding space, sign, underscores
// between digits.
func pyInt(s string) (int, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "__") || strings.HasPrefix(strings.TrimLeft(s, "+-"), "_") || strings.HasSuffix(s, "_") {
		return 0, fmt.Errorf("invalid integer %q", s)
	}
	return strconv.Atoi(strings.ReplaceAll(s, "_", ""))
}
