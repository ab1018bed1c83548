package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/murderctl/murderctl/ansiblecfg"
	"github.com/murderctl/murderctl/inventory"
)

// ErrNoInventory means no inventory source was given or configured.
var ErrNoInventory = errors.New("no inventory: pass -i FILE (or set ANSIBLE_INVENTORY, or inventory in ansible.cfg)")

// LoadOptions say which hosts to act on, as ansible-playbook's flags do.
type LoadOptions struct {
	// Env reads environment variables (ANSIBLE_*, HOME); nil means os.Getenv.
	Env            func(string) string
	Inventories    []string
	Limit          string
	User           string
	PrivateKey     string
	ConnectTimeout time.Duration
}

// Selection is what the inventory and ansible.cfg resolve to.
type Selection struct {
	Targets  []Target
	Forks    int
	Warnings []string
}

// LoadTargets reads ansible.cfg and the inventory exactly as `murderctl
// inventory` does, applies the pattern (Limit, default "all"), and resolves
// every host's connection settings: the scripting entry point, and what
// deploy uses. Every error here is the operator's input, reported before
// any host is touched.
func LoadTargets(ctx context.Context, f LoadOptions) (*Selection, error) {
	env := f.Env
	if env == nil {
		env = os.Getenv
	}
	cfg, err := ansiblecfg.Load(env)
	if err != nil {
		return nil, err
	}
	sel := &Selection{Warnings: cfg.Warnings, Forks: DefaultForks}
	if cfg.Path != "" && cfg.Forks != ansiblecfg.DefaultForks {
		sel.Forks = cfg.Forks
	}
	sources := f.Inventories
	if len(sources) == 0 {
		sources = cfg.Inventory
	}
	if len(sources) == 0 {
		return nil, ErrNoInventory
	}
	inv, err := inventory.Load(ctx, sources, inventory.Options{})
	if err != nil {
		return nil, err
	}
	sel.Warnings = append(sel.Warnings, inv.Warnings...)
	pattern := f.Limit
	if pattern == "" {
		pattern = "all"
	}
	hosts, err := inv.Select(pattern)
	if err != nil {
		if errors.Is(err, inventory.ErrNoMatch) {
			return nil, fmt.Errorf("%w in %v", err, sources)
		}
		return nil, err
	}
	defaults := inventory.ConnDefaults{
		RemoteUser: cfg.RemoteUser, PrivateKeyFile: cfg.PrivateKeyFile,
		HostKeyChecking: cfg.HostKeyChecking, Home: env("HOME"),
	}
	if f.User != "" {
		defaults.RemoteUser = f.User
	}
	if f.PrivateKey != "" {
		defaults.PrivateKeyFile = f.PrivateKey
	}
	timeout := f.ConnectTimeout
	if timeout == 0 {
		timeout = cfg.Timeout
	}
	var errs []error
	for _, h := range hosts {
		t, err := TargetFromHost(h, defaults, TargetOptions{ConnectTimeout: timeout, Home: env("HOME")})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sel.Targets = append(sel.Targets, t)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return sel, nil
}
