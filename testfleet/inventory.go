package testfleet

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// InventoryOptions shape WriteInventory's output.
type InventoryOptions struct {
	// Group is the inventory group holding the hosts (default "fleet").
	Group string
	// Hosts selects hosts by index; nil means all.
	Hosts []int
	// KnownHosts adds ansible_ssh_common_args pointing OpenSSH at the
	// fleet's known_hosts (for Ansible itself, whose ssh ignores $HOME).
	KnownHosts bool
	// Vars are extra group variables, written under [Group:vars]. Values
	// are written verbatim.
	Vars map[string]string
}

var groupRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// WriteInventory writes an INI Ansible inventory of the fleet's hosts
// (h01 ansible_host=IP ansible_user=root ansible_ssh_private_key_file=KEY)
// atomically to path.
func (f *Fleet) WriteInventory(path string, opts InventoryOptions) error {
	if opts.Group == "" {
		opts.Group = "fleet"
	}
	if !groupRE.MatchString(opts.Group) {
		return fmt.Errorf("testfleet: inventory group %q is not a valid name", opts.Group)
	}
	idx := opts.Hosts
	if idx == nil {
		for i := range f.Hosts {
			idx = append(idx, i)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s]\n", opts.Group)
	for _, i := range idx {
		h, err := f.host(i)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s ansible_host=%s ansible_user=root ansible_ssh_private_key_file=%s\n", h.Name, h.IP, f.keyFile)
	}
	vars := map[string]string{}
	for k, v := range opts.Vars {
		vars[k] = v
	}
	if opts.KnownHosts {
		vars["ansible_ssh_common_args"] = "'-o UserKnownHostsFile=" + f.khFile + " -o GlobalKnownHostsFile=/dev/null'"
	}
	opts.Vars = vars
	if len(opts.Vars) > 0 {
		keys := make([]string, 0, len(opts.Vars))
		for k := range opts.Vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "\n[%s:vars]\n", opts.Group)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%s\n", k, opts.Vars[k])
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".inventory-*")
	if err != nil {
		return fmt.Errorf("testfleet: write inventory %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("testfleet: write inventory %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("testfleet: write inventory %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("testfleet: write inventory %s: %w", path, err)
	}
	return nil
}
