package cli

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/murderctl/murderctl/internal/demo"
	"github.com/murderctl/murderctl/orchestrator"
)

// NewCmdDemo builds `murderctl demo`: the main job on a loopback fleet that
// needs no root and no packages.
func NewCmdDemo(ios *IOStreams, logger func() *slog.Logger) *cobra.Command {
	var hosts int
	var sizeMiB int64
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Deploy a generated file to a local fleet of 127.0.0.x hosts, peer-to-peer",
		Long: `Builds a fleet of loopback hosts (127.0.0.11, .12, ...), each with its own directory
and its own in-process SSH and SFTP server, writes an Ansible inventory for it, and runs
a real deploy of a generated file to them: one peer process per host. Needs no root.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			fleet, err := demo.Start(ctx, demo.Options{Hosts: hosts, Size: sizeMiB << 20, Keep: keep, Logger: logger()})
			if err != nil {
				return err
			}
			defer fleet.Close()
			fmt.Fprintf(ios.ErrOut, "demo: %d hosts on 127.0.0.11-%d, inventory %s, file %d MiB\n",
				hosts, 10+hosts, fleet.Inventory, sizeMiB)
			opts := &DeployOptions{
				IO: ios, Logger: logger, Env: demoEnv, Deploy: orchestrator.Deploy,
				Source: fleet.File, Inventories: []string{fleet.Inventory}, Limit: "all",
				Timeout: 10 * time.Minute, bindPeers: true, allowDynamic: true,
			}
			report, err := runDeploy(ctx, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(ios.Out, "\nseeder sent %.1f MiB for a %.1f MiB file to %d hosts: %.2fx the file size (a central push sends %dx)\n",
				mib(report.SeederUploaded), mib(report.Size), hosts, float64(report.SeederUploaded)/float64(report.Size), hosts)
			fmt.Fprintf(ios.Out, "wall time %s\n", report.Duration.Round(time.Millisecond))
			if keep {
				fmt.Fprintf(ios.Out, "kept the demo directory %s\n", fleet.Dir)
			}
			return resultsExit(report.Results)
		},
	}
	cmd.Flags().IntVar(&hosts, "hosts", 20, "number of loopback hosts")
	cmd.Flags().Int64Var(&sizeMiB, "size-mib", 64, "size of the generated file in MiB")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo directory (hosts' files, inventory, keys)")
	return cmd
}

// demoEnv hides the operator's ansible.cfg and ANSIBLE_* settings from the
// demo: its inventory is self-contained.
func demoEnv(key string) string {
	if key == "HOME" {
		return os.Getenv("HOME")
	}
	if key == "ANSIBLE_CONFIG" {
		return os.DevNull
	}
	return ""
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
