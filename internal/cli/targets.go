package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/murderctl/murderctl/ansiblecfg"
	"github.com/murderctl/murderctl/inventory"
	"github.com/murderctl/murderctl/orchestrator"
)

// targetFlags are the flags shared by commands that act on inventory hosts.
type targetFlags struct {
	Inventories    []string
	Limit          string
	User           string
	PrivateKey     string
	ConnectTimeout time.Duration
}

// selection is what the inventory and ansible.cfg resolve to.
type selection struct {
	Targets  []orchestrator.Target
	Forks    int
	Warnings []string
}

// selectTargets reads ansible.cfg and the inventory exactly as `murderctl
// inventory` does, applies the pattern, and resolves connection settings.
// Every error here is the operator's input, reported before any host is
// touched.
func selectTargets(ctx context.Context, env func(string) string, f targetFlags) (*selection, error) {
	cfg, err := ansiblecfg.Load(env)
	if err != nil {
		return nil, err
	}
	sel := &selection{Warnings: cfg.Warnings, Forks: orchestrator.DefaultForks}
	if cfg.Path != "" && cfg.Forks != ansiblecfg.DefaultForks {
		sel.Forks = cfg.Forks
	}
	sources := f.Inventories
	if len(sources) == 0 {
		sources = cfg.Inventory
	}
	if len(sources) == 0 {
		return nil, badOptions("no inventory: pass -i FILE (or set ANSIBLE_INVENTORY, or inventory in ansible.cfg)")
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
		t, err := orchestrator.TargetFromHost(h, defaults, orchestrator.TargetOptions{ConnectTimeout: timeout, Home: env("HOME")})
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
