package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/murderctl/murderctl/ansiblecfg"
	"github.com/murderctl/murderctl/inventory"
)

// InventoryOptions hold `murderctl inventory`'s flags.
type InventoryOptions struct {
	IO          *IOStreams
	Env         func(string) string
	Inventories []string
	Limit       string
	List        bool
	Graph       bool
	Host        string
	Vars        bool
	Group       string
}

// NewCmdInventory builds `murderctl inventory`, which prints what murderctl
// reads from an inventory in ansible-inventory's formats. deploy uses the
// same loader, so this is exactly what a deploy targets.
func NewCmdInventory(ios *IOStreams) *cobra.Command {
	opts := &InventoryOptions{IO: ios, Env: os.Getenv}
	cmd := &cobra.Command{
		Use:   "inventory -i SRC (--list | --graph [GROUP] | --host HOST)",
		Short: "Show an Ansible inventory as murderctl reads it (ansible-inventory's output)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			modes := 0
			for _, on := range []bool{opts.List, opts.Graph, opts.Host != ""} {
				if on {
					modes++
				}
			}
			if modes != 1 {
				return badOptions("pick exactly one of --list, --graph or --host")
			}
			if len(args) == 1 {
				if !opts.Graph {
					return badOptions("a GROUP argument goes with --graph only")
				}
				opts.Group = args[0]
			}
			return inventoryRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.Inventories, "inventory", "i", nil, "inventory source (repeatable; default from ansible.cfg)")
	f.StringVarP(&opts.Limit, "limit", "l", "", "further limit the hosts with a pattern (--list)")
	f.BoolVar(&opts.List, "list", false, "print all groups and hosts as JSON, host variables under _meta")
	f.BoolVar(&opts.Graph, "graph", false, "print the group tree")
	f.StringVar(&opts.Host, "host", "", "print one host's variables as JSON")
	f.BoolVar(&opts.Vars, "vars", false, "with --graph, show variables")
	return cmd
}

func inventoryRun(ctx context.Context, opts *InventoryOptions) error {
	cfg, err := ansiblecfg.Load(opts.Env)
	if err != nil {
		return err
	}
	sources := opts.Inventories
	if len(sources) == 0 {
		sources = cfg.Inventory
	}
	if len(sources) == 0 {
		sources = []string{ansiblecfg.DefaultInventory}
	}
	inv, err := inventory.Load(ctx, sources, inventory.Options{})
	if err != nil {
		return err
	}
	for _, w := range append(cfg.Warnings, inv.Warnings...) {
		fmt.Fprintf(opts.IO.ErrOut, "[WARNING]: %s\n", w)
	}
	var out []byte
	switch {
	case opts.List:
		var hosts []*inventory.Host
		if opts.Limit != "" {
			if hosts, err = inv.Limit(inv.Hosts(), opts.Limit); err != nil {
				return err
			}
		}
		out = inv.ListJSON(hosts)
	case opts.Graph:
		group := opts.Group
		if group == "" {
			group = "all"
		}
		g, err := inv.Graph(group, opts.Vars)
		if err != nil {
			return err
		}
		out = []byte(g)
	default:
		if out, err = inv.HostJSON(opts.Host); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(opts.IO.Out, "%s\n", out)
	return err
}
