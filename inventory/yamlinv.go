package inventory

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// parseYAMLInventory adds a YAML (or JSON) inventory to inv, following
// Ansible's yaml inventory plugin: top-level keys are groups, each with
// optional hosts, vars and children, recursively.
func parseYAMLInventory(inv *Inventory, file string, data []byte) error {
	root, isJSON, err := parseDoc(data)
	if err != nil {
		return &ParseError{File: file, Msg: "YAML: " + err.Error()}
	}
	if root == nil || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		return &ParseError{File: file, Msg: "Parsed empty YAML file"}
	}
	if root.Kind == yaml.AliasNode {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode {
		return &ParseError{File: file, Line: root.Line, Msg: fmt.Sprintf("YAML inventory has invalid structure, it should be a dictionary, got: %s", pyTypeName(root))}
	}
	p := &yamlInv{inv: inv, file: file, conv: &y11{json: isJSON}}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "plugin" && root.Content[i].Kind == yaml.ScalarNode {
			v, err := p.conv.value(root.Content[i+1])
			if err == nil && truthy(v) {
				return &ParseError{File: file, Line: root.Content[i].Line, Msg: "Plugin configuration YAML file, not YAML inventory; inventory plugins are not supported"}
			}
		}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if _, err := p.group(root.Content[i], root.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

type yamlInv struct {
	inv  *Inventory
	file string
	conv *y11
}

func (p *yamlInv) errAt(n *yaml.Node, format string, a ...any) error {
	return &ParseError{File: p.file, Line: n.Line, Msg: fmt.Sprintf(format, a...)}
}

func (p *yamlInv) warn(n *yaml.Node, format string, a ...any) {
	p.inv.Warnings = append(p.inv.Warnings, fmt.Sprintf("%s:%d: ", p.file, n.Line)+fmt.Sprintf(format, a...))
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 &&
		(n.Style&yaml.TaggedStyle == 0 && resolvePlain(n.Value) == "!!null" || n.Tag == "!!null")
}

// keyString converts a mapping key node to the name Ansible would use, or
// reports that it is not a string.
func (p *yamlInv) keyString(k *yaml.Node) (string, bool, error) {
	v, err := p.conv.value(k)
	if err != nil {
		return "", false, &ParseError{File: p.file, Line: k.Line, Msg: err.Error()}
	}
	s, ok := v.(string)
	return s, ok, nil
}

func (p *yamlInv) group(k, data *yaml.Node) (string, error) {
	data = deref(data)
	name, ok, err := p.keyString(k)
	if err != nil {
		return "", err
	}
	if data.Kind != yaml.MappingNode && !isNull(data) {
		p.warn(k, "Skipping '%s' as this is not a valid group definition", k.Value)
		return "", nil
	}
	if !ok {
		return "", p.errAt(k, "Unable to add group %s: Invalid group name supplied, expected a string but got %s", k.Value, pyTypeName(k))
	}
	if name == "" {
		return "", p.errAt(k, "Unable to add group: Invalid empty/false group name provided")
	}
	g := p.inv.addGroup(name)
	if isNull(data) {
		return g.Name, nil
	}
	// Validate the three sections first, as Ansible does.
	sections := map[string]*yaml.Node{}
	for i := 0; i+1 < len(data.Content); i += 2 {
		key, val := data.Content[i], deref(data.Content[i+1])
		ks, _, err := p.keyString(key)
		if err != nil {
			return "", err
		}
		if ks == "vars" || ks == "children" || ks == "hosts" {
			if val.Kind == yaml.ScalarNode && !isNull(val) {
				if v, _ := p.conv.value(val); v != nil {
					if s, isStr := v.(string); isStr {
						// A string section is shorthand for {string: None}.
						sections[ks] = &yaml.Node{Kind: yaml.MappingNode, Line: val.Line, Content: []*yaml.Node{
							{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle, Line: val.Line},
							{Kind: yaml.ScalarNode, Tag: "!!null", Value: "", Line: val.Line},
						}}
						continue
					}
				}
			}
			if val.Kind != yaml.MappingNode && !isNull(val) {
				return "", p.errAt(val, `Invalid "%s" entry for "%s" group, requires a dictionary, found "%s" instead.`, ks, g.Name, pyTypeName(val))
			}
		}
	}
	for i := 0; i+1 < len(data.Content); i += 2 {
		key, val := data.Content[i], deref(data.Content[i+1])
		ks, _, _ := p.keyString(key)
		if s, ok := sections[ks]; ok {
			val = s
		}
		if isNull(val) {
			continue
		}
		if val.Kind != yaml.MappingNode {
			p.warn(key, "Skipping key (%s) in group (%s) as it is not a mapping, it is a %s", ks, g.Name, pyTypeName(val))
			continue
		}
		switch ks {
		case "vars":
			m, err := p.conv.mapping(val)
			if err != nil {
				return "", &ParseError{File: p.file, Line: val.Line, Msg: err.Error()}
			}
			for vk, v := range m {
				if err := g.setVar(vk, v); err != nil {
					return "", p.errAt(val, "%v", err)
				}
			}
		case "children":
			for j := 0; j+1 < len(val.Content); j += 2 {
				sub, err := p.group(val.Content[j], val.Content[j+1])
				if err != nil {
					return "", err
				}
				if sub == "" {
					return "", p.errAt(val.Content[j], "Unable to add child %q to group %s: not a valid group definition", val.Content[j].Value, g.Name)
				}
				if err := p.inv.addChild(g.Name, sub); err != nil {
					return "", p.errAt(val.Content[j], "%v", err)
				}
			}
		case "hosts":
			for j := 0; j+1 < len(val.Content); j += 2 {
				hk, hv := val.Content[j], deref(val.Content[j+1])
				hs, isStr, err := p.keyString(hk)
				if err != nil {
					return "", err
				}
				if !isStr {
					return "", p.errAt(hk, "Host pattern %s must be a string. Enclose integers/floats in quotation marks.", hk.Value)
				}
				names, port, err := expandHostPattern(hs)
				if err != nil {
					return "", p.errAt(hk, "%v", err)
				}
				vars := map[string]any{}
				if !isNull(hv) {
					v, err := p.conv.value(hv)
					if err != nil {
						return "", &ParseError{File: p.file, Line: hv.Line, Msg: err.Error()}
					}
					m, ok := v.(map[string]any)
					if !ok {
						return "", p.errAt(hv, "Invalid data from file, expected dictionary and got: %s", pyTypeName(hv))
					}
					vars = m
				}
				for _, n := range names {
					h, err := p.inv.addHost(n, g.Name, port)
					if err != nil {
						return "", p.errAt(hk, "%v", err)
					}
					for k, v := range vars {
						h.own[k] = v
					}
				}
			}
		default:
			p.warn(key, `Skipping unexpected key (%s) in group (%s), only "vars", "children" and "hosts" are valid`, ks, g.Name)
		}
	}
	return g.Name, nil
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case int64:
		return x != 0
	case float64:
		return x != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// pyTypeName names a node's Python type as Ansible's messages do.
func pyTypeName(n *yaml.Node) string {
	switch deref(n).Kind {
	case yaml.SequenceNode:
		return "<class 'list'>"
	case yaml.MappingNode:
		return "<class 'dict'>"
	}
	c := &y11{}
	v, _ := c.value(n)
	switch v.(type) {
	case string:
		return "<class 'str'>"
	case bool:
		return "<class 'bool'>"
	case int64:
		return "<class 'int'>"
	case float64:
		return "<class 'float'>"
	case nil:
		return "<class 'NoneType'>"
	}
	return fmt.Sprintf("%T", v)
}
