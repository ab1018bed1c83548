package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/murderctl/murderctl/swarm"
)

// NewCmdPeer builds `murderctl peer`, which runs on each host. It reads its
// configuration from stdin (never argv, which other users can read) and
// speaks the event protocol on stdout; see swarm/protocol.go.
func NewCmdPeer(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:    "peer",
		Short:  "Run the peer on a host (started by deploy over SSH; reads its config on stdin)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			logger := slog.New(slog.NewTextHandler(ios.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
			if code := swarm.ServePeer(cmd.Context(), ios.In, ios.Out, logger); code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
}
