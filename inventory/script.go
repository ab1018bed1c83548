package inventory

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"gopkg.in/yaml.v3"
)

// script runs an executable dynamic inventory with --list and adds its JSON,
// as Ansible's script plugin does. Host vars come from _meta.hostvars, or,
// when the script gives no _meta, from one "--host NAME" run per host.
func (l *loader) script(ctx context.Context, path string) error {
	out, err := l.run(ctx, path, "--list")
	if err != nil {
		return err
	}
	root, isJSON, err := parseDoc(out)
	if err != nil || !isJSON {
		return fmt.Errorf("failed to parse executable inventory script results from %s: not JSON", path)
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return fmt.Errorf("failed to parse executable inventory script results from %s: needs to be a json dict", path)
	}
	conv := &y11{json: true}
	var hosts []string
	seen := map[string]bool{}
	var meta map[string]any
	hasMeta := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		name := root.Content[i].Value
		v, err := conv.value(root.Content[i+1])
		if err != nil {
			return fmt.Errorf("inventory script %s: %w", path, err)
		}
		if name == "_meta" {
			if m, ok := v.(map[string]any); ok {
				if hv, ok := m["hostvars"]; ok {
					hasMeta = true
					meta, _ = hv.(map[string]any)
					if meta == nil && hv != nil {
						return fmt.Errorf("inventory script %s: improperly formatted _meta.hostvars", path)
					}
				}
			}
			continue
		}
		if err := l.scriptGroup(path, name, v, root.Content[i+1], &hosts, seen); err != nil {
			return err
		}
	}
	for _, h := range hosts {
		var got any
		if hasMeta {
			got = meta[h]
		} else {
			out, err := l.run(ctx, path, "--host", h)
			if err != nil {
				return err
			}
			if strings.TrimSpace(string(out)) != "" {
				if got, err = decodeData(out); err != nil {
					return fmt.Errorf("inventory script %s --host %s: %w", path, h, err)
				}
			}
		}
		if got == nil {
			continue
		}
		m, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("inventory script %s: host vars for %s are not a dictionary", path, h)
		}
		host := l.inv.hosts[h]
		for k, v := range m {
			host.own[k] = v
		}
	}
	return nil
}

func (l *loader) scriptGroup(path, name string, v any, node *yaml.Node, hosts *[]string, seen map[string]bool) error {
	g := l.inv.addGroup(name)
	data, isMap := v.(map[string]any)
	if !isMap {
		data = map[string]any{"hosts": v}
	} else if _, ok := data["hosts"]; !ok {
		if _, ok := data["vars"]; !ok {
			if _, ok := data["children"]; !ok {
				data = map[string]any{"hosts": []any{g.Name}, "vars": data}
			}
		}
	}
	if hv, ok := data["hosts"]; ok {
		list, ok := hv.([]any)
		if !ok {
			return fmt.Errorf("inventory script %s: group '%s' has bad data for the host list", path, g.Name)
		}
		// Keep the script's host order (the decoded list is ordered).
		for _, x := range list {
			h, ok := x.(string)
			if !ok {
				return fmt.Errorf("inventory script %s: group '%s': host name %v is not a string", path, g.Name, x)
			}
			if !seen[h] {
				seen[h] = true
				*hosts = append(*hosts, h)
			}
			if _, err := l.inv.addHost(h, g.Name, nil); err != nil {
				return fmt.Errorf("inventory script %s: %w", path, err)
			}
		}
	}
	if vv, ok := data["vars"]; ok {
		m, ok := vv.(map[string]any)
		if !ok {
			return fmt.Errorf("inventory script %s: group '%s' has bad data for variables", path, g.Name)
		}
		for k, x := range m {
			if err := g.setVar(k, x); err != nil {
				return fmt.Errorf("inventory script %s: %w", path, err)
			}
		}
	}
	if cv, ok := data["children"]; ok {
		for _, c := range childNames(cv, node) {
			child := l.inv.addGroup(c)
			if err := l.inv.addChild(g.Name, child.Name); err != nil {
				return fmt.Errorf("inventory script %s: %w", path, err)
			}
		}
	}
	return nil
}

// childNames lists children in the script's order (a list, or the keys of
// a mapping, as Python's iteration gives).
func childNames(v any, node *yaml.Node) []string {
	switch x := v.(type) {
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case string:
		return strings.Split(x, "")
	case map[string]any:
		// Find the ordered keys in the node.
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == "children" {
				var out []string
				c := node.Content[i+1]
				for j := 0; j+1 < len(c.Content); j += 2 {
					out = append(out, c.Content[j].Value)
				}
				return out
			}
		}
	}
	return nil
}

func (l *loader) run(ctx context.Context, path string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.ScriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		return nil, fmt.Errorf("inventory script %s %s: %w: %s", path, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}
