// Command murderctl-peer is the slim peer that murderctl pushes to hosts:
// only the swarm, none of the inventory, SSH or CLI code, so that first
// contact with a host costs as few bytes as possible. `murderctl peer` does
// the same job when this binary is not available.
//
// It reads its configuration on stdin and speaks the event protocol on
// stdout (see swarm/protocol.go). Arguments are ignored but for "peer".
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/murderctl/murderctl/swarm"
)

func main() {
	if len(os.Args) > 2 || (len(os.Args) == 2 && os.Args[1] != "peer") {
		fmt.Fprintln(os.Stderr, "usage: murderctl-peer [peer] < config (started by murderctl deploy)")
		os.Exit(swarm.ExitConfig)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	os.Exit(swarm.ServePeer(ctx, os.Stdin, os.Stdout, logger))
}
