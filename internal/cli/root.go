package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// IOStreams are the command's standard streams; tests use buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer // data: recap, --json
	ErrOut io.Writer // diagnostics and live progress
}

// Main runs murderctl with args and returns the process exit code.
func Main(args []string) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sigs
		cancel(errInterrupted)
		<-sigs // a second signal: give up on cleanup
		os.Exit(ExitInterrupted)
	}()
	ios := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	root := NewRootCmd(ios)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && strings.HasPrefix(err.Error(), "unknown command") {
		err = &ExitError{Code: ExitBadOptions, Err: err}
	}
	if context.Cause(ctx) == errInterrupted && err == nil {
		err = errInterrupted
	}
	code := exitCode(err)
	if err != nil {
		var ee *ExitError
		if !(asExit(err, &ee) && ee.Err == nil) {
			// One line: joined errors (an inventory tried as YAML, then
			// as INI) are separated by "; ".
			fmt.Fprintf(ios.ErrOut, "murderctl: %s\n", strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
		}
	}
	return code
}

func asExit(err error, target **ExitError) bool {
	e, ok := err.(*ExitError)
	if ok {
		*target = e
	}
	return ok
}

// NewRootCmd builds the command tree.
func NewRootCmd(ios *IOStreams) *cobra.Command {
	var verbose int
	root := &cobra.Command{
		Use:           "murderctl",
		Short:         "Ship big files to a fleet of servers peer-to-peer",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().CountVarP(&verbose, "verbose", "v", "more diagnostics on stderr (-vvv for debug)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: ExitBadOptions, Err: fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	logger := func() *slog.Logger {
		if verbose == 0 {
			return slog.New(slog.DiscardHandler)
		}
		level := slog.LevelInfo
		if verbose >= 3 {
			level = slog.LevelDebug
		}
		return slog.New(slog.NewTextHandler(ios.ErrOut, &slog.HandlerOptions{Level: level}))
	}
	root.AddCommand(
		NewCmdDeploy(ios, logger, nil),
		NewCmdPeer(ios),
		NewCmdDemo(ios, logger),
		NewCmdInventory(ios),
	)
	for _, c := range root.Commands() {
		badArgsAreBadOptions(c)
	}
	return root
}

// badArgsAreBadOptions makes a wrong number of arguments exit 5, like a
// bad flag, instead of 1.
func badArgsAreBadOptions(c *cobra.Command) {
	check := c.Args
	if check == nil {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		err := check(cmd, args)
		var ee *ExitError
		if err == nil || errors.As(err, &ee) {
			return err
		}
		return &ExitError{Code: ExitBadOptions, Err: fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())}
	}
}
