package inventory

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// marshalPy renders v exactly as Python's json.dumps(v, sort_keys=True,
// indent=4, ensure_ascii=False) does, which is what ansible-inventory prints.
func marshalPy(v any) []byte {
	return appendValue(nil, v, "    ", "")
}

func appendValue(b []byte, v any, indent, prefix string) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case *big.Int:
		return append(b, x.String()...)
	case float64:
		return append(b, pyFloat(x)...)
	case string:
		return appendPyString(b, x)
	case yamlDate:
		return appendPyString(b, string(x))
	case []any:
		if len(x) == 0 {
			return append(b, "[]"...)
		}
		inner := prefix + indent
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '\n')
			b = append(b, inner...)
			b = appendValue(b, e, indent, inner)
		}
		b = append(b, '\n')
		b = append(b, prefix...)
		return append(b, ']')
	case map[string]any:
		if len(x) == 0 {
			return append(b, "{}"...)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		inner := prefix + indent
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '\n')
			b = append(b, inner...)
			b = appendPyString(b, k)
			b = append(b, ": "...)
			b = appendValue(b, x[k], indent, inner)
		}
		b = append(b, '\n')
		b = append(b, prefix...)
		return append(b, '}')
	}
	return appendPyString(b, fmt.Sprint(v))
}

// pyFloat formats like Python's float repr, with json's names for the
// non-finite values.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	digits := strings.Replace(mant, ".", "", 1)
	var s string
	if exp < -4 || exp >= 16 {
		s = digits[:1]
		if len(digits) > 1 {
			s += "." + digits[1:]
		}
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		s += fmt.Sprintf("e%s%02d", sign, exp)
	} else if exp < 0 {
		s = "0." + strings.Repeat("0", -exp-1) + digits
	} else if len(digits) > exp+1 {
		s = digits[:exp+1] + "." + digits[exp+1:]
	} else {
		s = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
	}
	if neg {
		s = "-" + s
	}
	return s
}

func appendPyString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch r {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		default:
			if r < 0x20 {
				b = append(b, fmt.Sprintf(`\u%04x`, r)...)
			} else {
				b = append(b, string(r)...)
			}
		}
	}
	return append(b, '"')
}
