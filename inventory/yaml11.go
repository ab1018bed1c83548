package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// yamlDate is a YAML 1.1 timestamp, held as the text Python's isoformat()
// gives it (which is how ansible-inventory prints it).
type yamlDate string

// YAML 1.1 implicit resolvers, exactly as PyYAML (and so Ansible) applies
// them. gopkg.in/yaml.v3 resolves by YAML 1.2, so plain scalars are resolved
// here instead.
var (
	reY11Bool      = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	reY11Float     = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	reY11Int       = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	reY11Null      = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	reY11Time      = regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)
	reY11TimeParts = regexp.MustCompile(`^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?$`)
)

// maxYAMLNodes bounds alias expansion ("billion laughs").
const maxYAMLNodes = 1_000_000

// decodeData reads a vars or inventory file as Ansible's DataLoader does:
// JSON first, then YAML 1.1. It returns nil for an empty document.
func decodeData(data []byte) (any, error) {
	root, isJSON, err := parseDoc(data)
	if err != nil || root == nil {
		return nil, err
	}
	c := &y11{json: isJSON}
	return c.value(root)
}

// parseDoc parses data into a node tree, reporting whether it is JSON
// (whose plain scalars are then typed by JSON's rules, not YAML 1.1's).
// Node trees keep mapping order, which Ansible's dicts also keep.
func parseDoc(data []byte) (*yaml.Node, bool, error) {
	isJSON := json.Valid(data)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, isJSON, nil
		}
		return nil, false, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, false, fmt.Errorf("line %d: expected a single document in the stream, but found another document", extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	if len(doc.Content) == 0 {
		return nil, isJSON, nil
	}
	return doc.Content[0], isJSON, nil
}

// jsonScalar types an unquoted JSON scalar.
func jsonScalar(v string) (any, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	if strings.ContainsAny(v, ".eE") {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("invalid JSON number %q", v)
		}
		return f, nil
	}
	n, ok := new(big.Int).SetString(v, 10)
	if !ok {
		return nil, fmt.Errorf("invalid JSON value %q", v)
	}
	return normInt(n), nil
}

type y11 struct {
	nodes  int
	json   bool
	active map[*yaml.Node]bool // collections being built, to refuse recursive aliases
}

func (c *y11) enter(n *yaml.Node) error {
	c.nodes++
	if c.nodes > maxYAMLNodes {
		return fmt.Errorf("line %d: document too large (more than %d nodes after alias expansion)", n.Line, maxYAMLNodes)
	}
	if c.active[n] {
		return fmt.Errorf("line %d: recursive alias", n.Line)
	}
	if c.active == nil {
		c.active = map[*yaml.Node]bool{}
	}
	c.active[n] = true
	return nil
}

func (c *y11) value(n *yaml.Node) (any, error) {
	c.nodes++
	if c.nodes > maxYAMLNodes {
		return nil, fmt.Errorf("line %d: document too large (more than %d nodes after alias expansion)", n.Line, maxYAMLNodes)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0])
	case yaml.AliasNode:
		return c.value(n.Alias)
	case yaml.SequenceNode:
		if n.Style&yaml.TaggedStyle != 0 && n.Tag != "!!seq" {
			return nil, fmt.Errorf("line %d: unsupported tag %s on a sequence", n.Line, n.Tag)
		}
		if err := c.enter(n); err != nil {
			return nil, err
		}
		defer delete(c.active, n)
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := c.value(e)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		if n.Style&yaml.TaggedStyle != 0 && n.Tag != "!!map" {
			return nil, fmt.Errorf("line %d: unsupported tag %s on a mapping", n.Line, n.Tag)
		}
		return c.mapping(n)
	case yaml.ScalarNode:
		return c.scalar(n)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// mapping builds a map, applying "<<" merge keys as PyYAML does: explicit
// keys win over merged ones; within one "<<: [a, b]" a wins over b; a later
// "<<" wins over an earlier one.
func (c *y11) mapping(n *yaml.Node) (map[string]any, error) {
	if err := c.enter(n); err != nil {
		return nil, err
	}
	defer delete(c.active, n)
	explicit := map[string]any{}
	var merges []map[string]any // lowest precedence first
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, vn := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0 {
			target := vn
			if target.Kind == yaml.AliasNode {
				target = target.Alias
			}
			var srcs []*yaml.Node
			switch target.Kind {
			case yaml.MappingNode:
				srcs = []*yaml.Node{target}
			case yaml.SequenceNode:
				for j := len(target.Content) - 1; j >= 0; j-- {
					srcs = append(srcs, target.Content[j])
				}
			default:
				return nil, fmt.Errorf("line %d: expected a mapping or list of mappings for merging", vn.Line)
			}
			for _, s := range srcs {
				if s.Kind == yaml.AliasNode {
					s = s.Alias
				}
				if s.Kind != yaml.MappingNode {
					return nil, fmt.Errorf("line %d: expected a mapping for merging", s.Line)
				}
				m, err := c.mapping(s)
				if err != nil {
					return nil, err
				}
				merges = append(merges, m)
			}
			continue
		}
		kv, err := c.value(k)
		if err != nil {
			return nil, err
		}
		switch kv.(type) {
		case []any, map[string]any:
			return nil, fmt.Errorf("line %d: found unhashable key", k.Line)
		}
		ks, err := mapKey(kv)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", k.Line, err)
		}
		v, err := c.value(vn)
		if err != nil {
			return nil, err
		}
		explicit[ks] = v
	}
	if len(merges) == 0 {
		return explicit, nil
	}
	out := map[string]any{}
	for _, m := range merges {
		for k, v := range m {
			out[k] = v
		}
	}
	for k, v := range explicit {
		out[k] = v
	}
	return out, nil
}

func (c *y11) scalar(n *yaml.Node) (any, error) {
	v := n.Value
	tag := ""
	if n.Style&yaml.TaggedStyle != 0 {
		tag = n.Tag
	} else if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return v, nil
	} else if c.json {
		x, err := jsonScalar(v)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return x, nil
	} else {
		tag = resolvePlain(v)
	}
	switch tag {
	case "!!str", "!unsafe", "!":
		return v, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		switch strings.ToLower(v) {
		case "yes", "true", "on":
			return true, nil
		case "no", "false", "off":
			return false, nil
		}
	case "!!int":
		if x, ok := yamlInt(v); ok {
			return x, nil
		}
	case "!!float":
		if x, ok := yamlFloat(v); ok {
			return x, nil
		}
	case "!!timestamp":
		if x, ok := yamlTimestamp(v); ok {
			return x, nil
		}
	case "!vault", "!vault-encrypted":
		return nil, fmt.Errorf("line %d: vault-encrypted values are not supported", n.Line)
	default:
		return nil, fmt.Errorf("line %d: could not determine a constructor for the tag %s", n.Line, tag)
	}
	return nil, fmt.Errorf("line %d: invalid %s value %q", n.Line, strings.TrimPrefix(tag, "!!"), v)
}

// resolvePlain gives the YAML 1.1 tag of a plain scalar.
func resolvePlain(v string) string {
	switch {
	case reY11Bool.MatchString(v):
		return "!!bool"
	case reY11Float.MatchString(v):
		return "!!float"
	case reY11Int.MatchString(v):
		return "!!int"
	case reY11Null.MatchString(v):
		return "!!null"
	case reY11Time.MatchString(v):
		return "!!timestamp"
	case v == "=":
		return "tag:yaml.org,2002:value"
	}
	return "!!str"
}

func yamlInt(v string) (any, bool) {
	v = strings.ReplaceAll(v, "_", "")
	if v == "" {
		return nil, false
	}
	neg := v[0] == '-'
	if v[0] == '-' || v[0] == '+' {
		v = v[1:]
	}
	n := new(big.Int)
	ok := true
	switch {
	case v == "0":
	case strings.HasPrefix(v, "0b"):
		_, ok = n.SetString(v[2:], 2)
	case strings.HasPrefix(v, "0x"):
		_, ok = n.SetString(v[2:], 16)
	case strings.HasPrefix(v, "0"):
		_, ok = n.SetString(v[1:], 8)
	case strings.Contains(v, ":"):
		base := big.NewInt(1)
		parts := strings.Split(v, ":")
		for i := len(parts) - 1; i >= 0; i-- {
			d, ok2 := new(big.Int).SetString(parts[i], 10)
			if !ok2 {
				return nil, false
			}
			n.Add(n, d.Mul(d, base))
			base = new(big.Int).Mul(base, big.NewInt(60))
		}
	default:
		_, ok = n.SetString(v, 10)
	}
	if !ok {
		return nil, false
	}
	if neg {
		n.Neg(n)
	}
	return normInt(n), true
}

func yamlFloat(v string) (any, bool) {
	v = strings.ToLower(strings.ReplaceAll(v, "_", ""))
	if v == "" {
		return nil, false
	}
	sign := 1.0
	if v[0] == '-' {
		sign = -1
	}
	if v[0] == '-' || v[0] == '+' {
		v = v[1:]
	}
	switch {
	case v == ".inf":
		return sign * math.Inf(1), true
	case v == ".nan":
		return math.NaN(), true
	case strings.Contains(v, ":"):
		parts := strings.Split(v, ":")
		total, base := 0.0, 1.0
		for i := len(parts) - 1; i >= 0; i-- {
			d, err := strconv.ParseFloat(parts[i], 64)
			if err != nil {
				return nil, false
			}
			total += d * base
			base *= 60
		}
		return sign * total, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, false
	}
	return sign * f, true
}

// yamlTimestamp renders a YAML timestamp as Python's isoformat() of the
// date or datetime PyYAML builds.
func yamlTimestamp(v string) (any, bool) {
	m := reY11TimeParts.FindStringSubmatch(v)
	if m == nil {
		return nil, false
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	y, mo, d := atoi(m[1]), atoi(m[2]), atoi(m[3])
	date := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if date.Year() != y || int(date.Month()) != mo || date.Day() != d {
		return nil, false
	}
	if m[4] == "" {
		return yamlDate(date.Format("2006-01-02")), true
	}
	h, mi, s := atoi(m[4]), atoi(m[5]), atoi(m[6])
	if h > 23 || mi > 59 || s > 59 {
		return nil, false
	}
	out := fmt.Sprintf("%sT%02d:%02d:%02d", date.Format("2006-01-02"), h, mi, s)
	if frac := m[7]; frac != "" {
		if len(frac) > 6 {
			frac = frac[:6]
		}
		for len(frac) < 6 {
			frac += "0"
		}
		if us := atoi(frac); us != 0 {
			out += fmt.Sprintf(".%06d", us)
		}
	}
	switch {
	case m[9] != "":
		th, tm := atoi(m[10]), atoi(m[11])
		if th > 23 || tm > 59 {
			return nil, false
		}
		out += fmt.Sprintf("%s%02d:%02d", m[9], th, tm)
		if th == 0 && tm == 0 {
			out = out[:len(out)-6] + "+00:00"
		}
	case m[8] == "Z":
		out += "+00:00"
	}
	return yamlDate(out), true
}
