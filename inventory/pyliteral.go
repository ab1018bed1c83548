package inventory

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// iniValue types an INI value as Ansible's ini plugin does: Python's
// ast.literal_eval, falling back to the raw string when the text is not a
// Python literal. So 010 stays "010", 0x10 is 16, True is a bool, yes is a
// string and [1, 2] is a list.
func iniValue(s string) any {
	v, err := literalEval(s)
	if err != nil {
		return s
	}
	return v
}

var errNotLiteral = errors.New("not a python literal")

type pyParser struct {
	s   string
	pos int
}

func literalEval(s string) (any, error) {
	p := &pyParser{s: strings.TrimLeft(s, " \t")}
	if p.s != "" && (p.s[0] == ' ' || p.s[0] == '\t' || p.s[0] == '\f') {
		return nil, errNotLiteral
	}
	v, err := p.tupleOrExpr(true)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.s) {
		return nil, errNotLiteral
	}
	return v, nil
}

func (p *pyParser) skipSpace() {
	for p.pos < len(p.s) {
		switch c := p.s[p.pos]; {
		case c == ' ' || c == '\t' || c == '\f':
			p.pos++
		case c == '#':
			p.pos = len(p.s)
		case c == '\\' && p.pos+1 < len(p.s) && p.s[p.pos+1] == '\n':
			p.pos += 2
		default:
			return
		}
	}
}

func (p *pyParser) peek() byte {
	p.skipSpace()
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

// tupleOrExpr parses "a" or "a, b, ..." (a tuple, returned as a list).
func (p *pyParser) tupleOrExpr(top bool) (any, error) {
	v, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.peek() != ',' {
		return v, nil
	}
	items := []any{v}
	for p.peek() == ',' {
		p.pos++
		c := p.peek()
		if c == 0 || (!top && c == ')') {
			break
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		items = append(items, x)
	}
	return items, nil
}

func (p *pyParser) expr() (any, error) {
	c := p.peek()
	switch {
	case c == '[':
		p.pos++
		return p.sequence(']')
	case c == '(':
		p.pos++
		if p.peek() == ')' {
			p.pos++
			return []any{}, nil
		}
		v, err := p.tupleOrExpr(false)
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, errNotLiteral
		}
		p.pos++
		return v, nil
	case c == '{':
		p.pos++
		return p.dictOrSet()
	case c == '-' || c == '+':
		p.pos++
		if q := p.peek(); !(q >= '0' && q <= '9' || q == '.') {
			return nil, errNotLiteral
		}
		v, err := p.number()
		if err != nil {
			return nil, err
		}
		if c == '+' {
			return v, nil
		}
		switch n := v.(type) {
		case int64:
			if n == math.MinInt64 {
				return new(big.Int).Neg(big.NewInt(n)), nil
			}
			return -n, nil
		case *big.Int:
			return normInt(new(big.Int).Neg(n)), nil
		case float64:
			return -n, nil
		}
		return nil, errNotLiteral
	case c >= '0' && c <= '9' || c == '.':
		return p.number()
	case c == '\'' || c == '"':
		return p.strings()
	}
	if word := p.word(); word != "" {
		switch strings.ToLower(word) {
		case "r", "u", "b", "br", "rb":
			if q := p.peek(); q == '\'' || q == '"' {
				p.pos -= len(word)
				return p.strings()
			}
		}
		switch word {
		case "True":
			return true, nil
		case "False":
			return false, nil
		case "None":
			return nil, nil
		}
	}
	return nil, errNotLiteral
}

func (p *pyParser) word() string {
	start := p.pos
	for p.pos < len(p.s) {
		r, size := utf8.DecodeRuneInString(p.s[p.pos:])
		if r != '_' && !unicode.IsLetter(r) && !(p.pos > start && unicode.IsDigit(r)) {
			break
		}
		p.pos += size
	}
	return p.s[start:p.pos]
}

func (p *pyParser) sequence(close byte) (any, error) {
	items := []any{}
	for {
		if p.peek() == close {
			p.pos++
			return items, nil
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		switch p.peek() {
		case ',':
			p.pos++
		case close:
		default:
			return nil, errNotLiteral
		}
	}
}

// dictOrSet parses after "{". Sets are returned as lists.
func (p *pyParser) dictOrSet() (any, error) {
	if p.peek() == '}' {
		p.pos++
		return map[string]any{}, nil
	}
	first, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.peek() != ':' {
		rest, err := p.sequence('}')
		if err != nil {
			return nil, err
		}
		return append([]any{first}, rest.([]any)...), nil
	}
	m := map[string]any{}
	key := first
	for {
		p.pos++ // ':'
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		ks, err := mapKey(key)
		if err != nil {
			return nil, err
		}
		m[ks] = v
		switch p.peek() {
		case ',':
			p.pos++
			if p.peek() == '}' {
				p.pos++
				return m, nil
			}
		case '}':
			p.pos++
			return m, nil
		default:
			return nil, errNotLiteral
		}
		if key, err = p.expr(); err != nil {
			return nil, err
		}
		if p.peek() != ':' {
			return nil, errNotLiteral
		}
	}
}

// mapKey renders a non-string key as Python's json module does.
func mapKey(k any) (string, error) {
	switch x := k.(type) {
	case string:
		return x, nil
	case nil:
		return "null", nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	case int64, *big.Int, float64:
		return string(appendValue(nil, x, "", "")), nil
	}
	return "", fmt.Errorf("unhashable or unsupported key type %T", k)
}

func (p *pyParser) number() (any, error) {
	start := p.pos
	s := p.s
	if strings.HasPrefix(s[start:], "0x") || strings.HasPrefix(s[start:], "0X") ||
		strings.HasPrefix(s[start:], "0o") || strings.HasPrefix(s[start:], "0O") ||
		strings.HasPrefix(s[start:], "0b") || strings.HasPrefix(s[start:], "0B") {
		base := map[byte]int{'x': 16, 'o': 8, 'b': 2}[s[start+1]|0x20]
		p.pos += 2
		digits := p.digits(base, true)
		if digits == "" {
			return nil, errNotLiteral
		}
		n, ok := new(big.Int).SetString(digits, base)
		if !ok || p.identAfter() {
			return nil, errNotLiteral
		}
		return normInt(n), nil
	}
	intPart := p.digits(10, false)
	isFloat := false
	frac := ""
	if p.pos < len(s) && s[p.pos] == '.' {
		p.pos++
		isFloat = true
		if p.pos < len(s) && s[p.pos] >= '0' && s[p.pos] <= '9' {
			frac = p.digits(10, false)
			if frac == "" {
				return nil, errNotLiteral
			}
		}
		if intPart == "" && frac == "" {
			return nil, errNotLiteral
		}
	}
	exp := ""
	if p.pos < len(s) && (s[p.pos] == 'e' || s[p.pos] == 'E') {
		save := p.pos
		p.pos++
		sign := ""
		if p.pos < len(s) && (s[p.pos] == '+' || s[p.pos] == '-') {
			sign = s[p.pos : p.pos+1]
			p.pos++
		}
		d := p.digits(10, false)
		if d == "" {
			p.pos = save
			return nil, errNotLiteral
		}
		exp = "e" + sign + d
		isFloat = true
	}
	if p.pos < len(s) && (s[p.pos] == 'j' || s[p.pos] == 'J') {
		return nil, errNotLiteral // complex numbers have no JSON form
	}
	if p.identAfter() {
		return nil, errNotLiteral
	}
	if intPart == "" && !isFloat {
		return nil, errNotLiteral
	}
	if isFloat {
		f, err := strconv.ParseFloat(intPart+"."+frac+exp, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, errNotLiteral
		}
		return f, nil
	}
	// Python 3 rejects leading zeros in non-zero decimal integers.
	if len(intPart) > 1 && intPart[0] == '0' && strings.Trim(intPart, "0") != "" {
		return nil, errNotLiteral
	}
	n, _ := new(big.Int).SetString(intPart, 10)
	return normInt(n), nil
}

// identAfter reports a letter or digit glued to a number ("1abc").
func (p *pyParser) identAfter() bool {
	if p.pos >= len(p.s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.pos:])
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// digits reads digits of base with single underscores between them (and,
// after a 0x-style prefix, optionally one before the first).
func (p *pyParser) digits(base int, underscoreFirst bool) string {
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '_' && (b.Len() > 0 || underscoreFirst) && p.pos+1 < len(p.s) && isDigit(p.s[p.pos+1], base) {
			p.pos++
			continue
		}
		if !isDigit(c, base) {
			break
		}
		b.WriteByte(c)
		p.pos++
	}
	return b.String()
}

func isDigit(c byte, base int) bool {
	switch {
	case c >= '0' && c <= '9':
		return int(c-'0') < base
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return base == 16
	}
	return false
}

func normInt(n *big.Int) any {
	if n.IsInt64() {
		return n.Int64()
	}
	return n
}

// strings parses one or more adjacent string literals.
func (p *pyParser) strings() (any, error) {
	var out strings.Builder
	kind := ""
	for {
		c := p.peek()
		prefix := ""
		if c != '\'' && c != '"' {
			save := p.pos
			w := strings.ToLower(p.word())
			if (w == "r" || w == "u" || w == "b" || w == "br" || w == "rb") && p.pos < len(p.s) && (p.s[p.pos] == '\'' || p.s[p.pos] == '"') {
				prefix = w
			} else {
				p.pos = save
				break
			}
		}
		isBytes := strings.Contains(prefix, "b")
		k := "str"
		if isBytes {
			k = "bytes"
		}
		if kind != "" && kind != k {
			return nil, errNotLiteral
		}
		kind = k
		s, err := p.stringLiteral(strings.Contains(prefix, "r"), isBytes)
		if err != nil {
			return nil, err
		}
		out.WriteString(s)
	}
	if kind == "" {
		return nil, errNotLiteral
	}
	return out.String(), nil
}

func (p *pyParser) stringLiteral(raw, isBytes bool) (string, error) {
	q := p.s[p.pos]
	quote := string(q)
	if strings.HasPrefix(p.s[p.pos:], strings.Repeat(quote, 3)) {
		quote = strings.Repeat(quote, 3)
	}
	p.pos += len(quote)
	var b strings.Builder
	for {
		if p.pos >= len(p.s) {
			return "", errNotLiteral
		}
		if strings.HasPrefix(p.s[p.pos:], quote) {
			p.pos += len(quote)
			return b.String(), nil
		}
		c := p.s[p.pos]
		if c == '\n' && len(quote) == 1 {
			return "", errNotLiteral
		}
		if isBytes && c >= 0x80 {
			return "", errNotLiteral
		}
		if c != '\\' {
			r, size := utf8.DecodeRuneInString(p.s[p.pos:])
			b.WriteRune(r)
			p.pos += size
			continue
		}
		if p.pos+1 >= len(p.s) {
			return "", errNotLiteral
		}
		if raw {
			b.WriteString(p.s[p.pos : p.pos+2])
			p.pos += 2
			continue
		}
		if err := p.escape(&b, isBytes); err != nil {
			return "", err
		}
	}
}

func (p *pyParser) escape(b *strings.Builder, isBytes bool) error {
	e := p.s[p.pos+1]
	p.pos += 2
	simple := map[byte]string{'\n': "", '\\': "\\", '\'': "'", '"': "\"", 'a': "\a", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v"}
	if s, ok := simple[e]; ok {
		b.WriteString(s)
		return nil
	}
	hex := func(n int) (int, error) {
		if p.pos+n > len(p.s) {
			return 0, errNotLiteral
		}
		v, err := strconv.ParseUint(p.s[p.pos:p.pos+n], 16, 32)
		if err != nil {
			return 0, errNotLiteral
		}
		p.pos += n
		return int(v), nil
	}
	switch {
	case e >= '0' && e <= '7':
		v := int(e - '0')
		for i := 0; i < 2 && p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '7'; i++ {
			v = v*8 + int(p.s[p.pos]-'0')
			p.pos++
		}
		b.WriteRune(rune(v))
	case e == 'x':
		v, err := hex(2)
		if err != nil {
			return err
		}
		b.WriteRune(rune(v))
	case (e == 'u' || e == 'U') && !isBytes:
		n := 4
		if e == 'U' {
			n = 8
		}
		v, err := hex(n)
		if err != nil || v > unicode.MaxRune {
			return errNotLiteral
		}
		b.WriteRune(rune(v))
	case e == 'N' && !isBytes:
		return errNotLiteral // named escapes: not supported, kept as a string
	default:
		b.WriteByte('\\')
		p.pos--
	}
	return nil
}

// toInt converts an int-like value (or numeric string) as Python's int().
func toInt(v any) (int, error) {
	switch x := v.(type) {
	case int64:
		return int(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case float64:
		return int(x), nil
	case string:
		return pyInt(x)
	}
	return 0, fmt.Errorf("invalid integer %v", v)
}
