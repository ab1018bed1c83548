// Package inventory reads Ansible inventories exactly as Ansible does: INI and
// YAML files, directories of sources, dynamic inventory scripts and comma
// host lists, with group_vars/ and host_vars/, Ansible's variable precedence
// and its host-pattern language. Its output functions reproduce
// `ansible-inventory --list`, `--graph` and `--host`, and a golden corpus
// produced by ansible-inventory itself keeps the two in agreement.
//
// Values keep Ansible's types: string, bool, int64 (or *big.Int when it does
// not fit), float64, nil, []any and map[string]any.
package inventory

import (
	"fmt"
	"sort"
)

// Inventory is a loaded inventory. It is read-only once Load returns and safe
// for concurrent readers.
type Inventory struct {
	groups     map[string]*Group
	groupOrder []*Group
	hosts      map[string]*Host
	hostOrder  []*Host
	// varsDirs are the directories searched for group_vars/ and host_vars/,
	// one per source, in source order.
	varsDirs []string
	// Warnings are the non-fatal notes Ansible would print as warnings.
	Warnings []string
}

// Group is an inventory group.
type Group struct {
	Name     string
	Vars     map[string]any // vars set in the inventory source itself
	Priority int            // ansible_group_priority, default 1
	Depth    int
	children []*Group
	parents  []*Group
	hosts    []*Host
	hostSet  map[*Host]bool
}

// Host is an inventory host.
type Host struct {
	Name string
	// Vars are the host's variables merged in Ansible's precedence: inline
	// all, groups by depth/priority/name, group_vars/all, group_vars/<g>,
	// inline host vars, host_vars/<host>. It is what
	// `ansible-inventory --host` prints.
	Vars map[string]any
	// Groups are the host's groups, sorted, without "all" (Ansible's
	// group_names).
	Groups []string

	own    map[string]any // vars set on the host in inventory sources
	groups []*Group       // direct and ancestor groups
}

func newInventory() *Inventory {
	inv := &Inventory{groups: map[string]*Group{}, hosts: map[string]*Host{}}
	inv.addGroup("all")
	inv.addGroup("ungrouped")
	_ = inv.addChild("all", "ungrouped")
	return inv
}

// Group returns the named group, or nil.
func (inv *Inventory) Group(name string) *Group { return inv.groups[name] }

// Host returns the named host, or nil.
func (inv *Inventory) Host(name string) *Host { return inv.hosts[name] }

// Hosts returns every host in the order Ansible first saw them.
func (inv *Inventory) Hosts() []*Host { return append([]*Host(nil), inv.hostOrder...) }

// GroupNames returns every group name, sorted.
func (inv *Inventory) GroupNames() []string {
	names := make([]string, 0, len(inv.groups))
	for n := range inv.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Children returns the group's child groups in the order they were added.
func (g *Group) Children() []*Group { return append([]*Group(nil), g.children...) }

// DirectHosts returns the hosts listed directly in the group.
func (g *Group) DirectHosts() []*Host { return append([]*Host(nil), g.hosts...) }

func (inv *Inventory) addGroup(name string) *Group {
	if g, ok := inv.groups[name]; ok {
		return g
	}
	g := &Group{Name: name, Vars: map[string]any{}, Priority: 1}
	inv.groups[name] = g
	inv.groupOrder = append(inv.groupOrder, g)
	return g
}

// addHost adds a host (if new) and puts it in group (if not "").
func (inv *Inventory) addHost(name, group string, port *int) (*Host, error) {
	if name == "" {
		return nil, fmt.Errorf("invalid empty host name")
	}
	h, ok := inv.hosts[name]
	if !ok {
		h = &Host{Name: name, own: map[string]any{}}
		if port != nil {
			h.own["ansible_port"] = int64(*port)
		}
		inv.hosts[name] = h
		inv.hostOrder = append(inv.hostOrder, h)
	}
	if group != "" {
		g, ok := inv.groups[group]
		if !ok {
			return nil, fmt.Errorf("could not find group %s in inventory", group)
		}
		g.addHost(h)
	}
	return h, nil
}

func (g *Group) addHost(h *Host) {
	if g.hostSet[h] {
		return
	}
	if g.hostSet == nil {
		g.hostSet = map[*Host]bool{}
	}
	g.hostSet[h] = true
	g.hosts = append(g.hosts, h)
	h.addGroup(g)
}

func (h *Host) addGroup(g *Group) {
	for _, a := range g.ancestors() {
		h.addGroupOnly(a)
	}
	h.addGroupOnly(g)
}

func (h *Host) addGroupOnly(g *Group) {
	for _, x := range h.groups {
		if x == g {
			return
		}
	}
	h.groups = append(h.groups, g)
}

func (h *Host) removeGroup(g *Group) {
	for i, x := range h.groups {
		if x == g {
			h.groups = append(h.groups[:i:i], h.groups[i+1:]...)
			return
		}
	}
}

func (g *Group) removeHost(h *Host) {
	delete(g.hostSet, h)
	for i, x := range g.hosts {
		if x == h {
			g.hosts = append(g.hosts[:i:i], g.hosts[i+1:]...)
			h.removeGroup(g)
			return
		}
	}
}

// ancestors returns every group above g, breadth first.
func (g *Group) ancestors() []*Group {
	return walk(g.parents, func(x *Group) []*Group { return x.parents })
}

// descendants returns every group below g, breadth first in insertion order.
func (g *Group) descendants() []*Group {
	return walk(g.children, func(x *Group) []*Group { return x.children })
}

func walk(start []*Group, next func(*Group) []*Group) []*Group {
	seen := map[*Group]bool{}
	var out []*Group
	queue := append([]*Group(nil), start...)
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		if seen[x] {
			continue
		}
		seen[x] = true
		out = append(out, x)
		queue = append(queue, next(x)...)
	}
	return out
}

// addChild makes child (a group or, failing that, a host) a member of group.
func (inv *Inventory) addChild(group, child string) error {
	g, ok := inv.groups[group]
	if !ok {
		return fmt.Errorf("%s is not a known group", group)
	}
	if c, ok := inv.groups[child]; ok {
		return g.addChildGroup(c)
	}
	if h, ok := inv.hosts[child]; ok {
		g.addHost(h)
		return nil
	}
	return fmt.Errorf("%s is not a known host nor group", child)
}

func (g *Group) addChildGroup(c *Group) error {
	if g == c {
		return fmt.Errorf("can't add group %s to itself", g.Name)
	}
	for _, x := range g.children {
		if x == c {
			return nil
		}
	}
	anc := g.ancestors()
	for _, a := range anc {
		if a == c {
			return fmt.Errorf("adding group '%s' as child to '%s' creates a recursive dependency loop", c.Name, g.Name)
		}
	}
	g.children = append(g.children, c)
	if c.Depth < g.Depth+1 {
		c.Depth = g.Depth + 1
	}
	c.fixDepth()
	isParent := false
	for _, p := range c.parents {
		if p.Name == g.Name {
			isParent = true
		}
	}
	if !isParent {
		c.parents = append(c.parents, g)
		newAnc := append([]*Group{g}, anc...)
		for _, h := range c.allHosts() {
			for _, a := range newAnc {
				h.addGroupOnly(a)
			}
		}
	}
	return nil
}

func (g *Group) fixDepth() {
	for _, c := range g.children {
		if c.Depth < g.Depth+1 {
			c.Depth = g.Depth + 1
			c.fixDepth()
		}
	}
}

// allHosts returns the hosts of g and of every descendant, without
// duplicates, g's own hosts first.
func (g *Group) allHosts() []*Host {
	seen := map[*Host]bool{}
	var out []*Host
	for _, x := range append([]*Group{g}, g.descendants()...) {
		for _, h := range x.hosts {
			if !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
		}
	}
	return out
}

// Hosts returns every host in the group or its descendants.
func (g *Group) Hosts() []*Host { return g.allHosts() }

// setGroupVar sets a variable on a group as Ansible's Group.set_variable
// does: ansible_group_priority becomes the priority, not a variable.
func (g *Group) setVar(k string, v any) error {
	if k == "ansible_group_priority" {
		p, err := toInt(v)
		if err != nil {
			return fmt.Errorf("group %s: ansible_group_priority: %w", g.Name, err)
		}
		g.Priority = p
		return nil
	}
	g.Vars[k] = v
	return nil
}

// reconcile applies Ansible's rules after all sources are read: every group
// hangs below all, and ungrouped holds exactly the hosts in no other group.
func (inv *Inventory) reconcile() {
	all, ungrouped := inv.groups["all"], inv.groups["ungrouped"]
	for _, g := range inv.groupOrder {
		if g != all && len(g.parents) == 0 {
			_ = all.addChildGroup(g)
		}
	}
	for _, h := range inv.hostOrder {
		in := func(g *Group) bool {
			for _, x := range h.groups {
				if x == g {
					return true
				}
			}
			return false
		}
		if in(ungrouped) {
			for _, x := range h.groups {
				if x != all && x != ungrouped {
					ungrouped.removeHost(h)
					break
				}
			}
		} else if len(h.groups) == 0 || (len(h.groups) == 1 && in(all)) {
			ungrouped.addHost(h)
		}
	}
	for _, name := range inv.GroupNames() {
		if _, ok := inv.hosts[name]; ok {
			inv.Warnings = append(inv.Warnings, "Found both group and host with same name: "+name)
		}
	}
}
