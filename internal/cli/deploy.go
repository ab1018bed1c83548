package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/murderctl/murderctl/orchestrator"
	"github.com/murderctl/murderctl/swarm"
)

// DeployOptions hold the deploy command's flags and dependencies.
type DeployOptions struct {
	IO     *IOStreams
	Logger func() *slog.Logger
	Env    func(string) string

	Source            string
	Inventories       []string
	Limit             string
	Dest              string
	Timeout           time.Duration
	JSON              bool
	User              string
	PrivateKey        string
	Forks             int
	ConnectTimeout    time.Duration
	AdvertiseAddr     string
	BindAddr          string
	PeerBinaryDir     string
	PieceSize         int64
	StallTimeout      time.Duration
	PeerConns         int
	PeerProcs         int
	PeerTCPCongestion string
	AskBecomePass     bool
	Faults            orchestrator.Faults

	// Deploy runs the deploy; tests replace it.
	Deploy func(context.Context, orchestrator.DeployOptions) (*orchestrator.Report, error)

	// demo knobs: hosts share this machine.
	bindPeers    bool
	allowDynamic bool
}

// NewCmdDeploy builds `murderctl deploy`. runF, when non-nil, replaces
// deployRun (flag-parsing tests use it).
func NewCmdDeploy(ios *IOStreams, logger func() *slog.Logger, runF func(*DeployOptions) error) *cobra.Command {
	opts := &DeployOptions{IO: ios, Logger: logger, Env: os.Getenv, Deploy: orchestrator.Deploy}
	cmd := &cobra.Command{
		Use:   "deploy -i INVENTORY FILE",
		Short: "Copy FILE to every host of an Ansible inventory, peer-to-peer",
		Long: `Copy FILE to every selected host. The hosts fetch pieces from one another
over BitTorrent, so the control node sends about one copy whatever the fleet size.

Exit codes (as ansible-playbook): 0 every host ok or changed; 1 an error not tied to
one host (bad file, bad inventory); 2 a host failed; 4 a host was unreachable and none
failed; 5 bad options; 99 interrupted.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return badOptions("deploy takes exactly one FILE, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Source = args[0]
			if opts.Forks < 0 {
				return badOptions("--forks must be positive")
			}
			// Below this, healthy hosts waiting out a dead host's pieces (the
			// swarm falls back to the origin after 10s) would be killed.
			if opts.StallTimeout > 0 && opts.StallTimeout < 15*time.Second {
				return badOptions("--stall-timeout must be at least 15s (or negative to disable), got %s", opts.StallTimeout)
			}
			if runF != nil {
				return runF(opts)
			}
			return deployRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.Inventories, "inventory", "i", nil, "inventory source: file, directory, script or comma list (repeatable; default from ansible.cfg)")
	f.StringVarP(&opts.Limit, "limit", "l", "all", "host pattern to deploy to")
	f.StringVar(&opts.Dest, "dest", "", "remote destination: PATH, or DIR/ to write inside DIR (default: the login directory)")
	f.DurationVar(&opts.Timeout, "timeout", 0, "give up on the whole deploy after this long (e.g. 10m; 0 = no limit)")
	f.BoolVar(&opts.JSON, "json", false, "print the results as JSON on stdout")
	f.StringVarP(&opts.User, "user", "u", "", "connect as this user (overrides ansible.cfg remote_user; ansible_user wins)")
	f.StringVar(&opts.PrivateKey, "private-key", "", "SSH private key file (overrides ansible.cfg private_key_file)")
	f.StringVar(&opts.PrivateKey, "key-file", "", "alias of --private-key")
	f.BoolVarP(&opts.AskBecomePass, "ask-become-pass", "K", false, "ask for the sudo password of hosts with ansible_become (ansible_become_password wins)")
	f.IntVarP(&opts.Forks, "forks", "f", 0, "hosts set up in parallel (default: ansible.cfg forks if set, else 50)")
	f.DurationVar(&opts.ConnectTimeout, "connect-timeout", 0, "SSH connect timeout (default: ansible.cfg timeout, 10s)")
	f.StringVar(&opts.AdvertiseAddr, "advertise-addr", "", "address hosts use to reach the tracker and seeder (default: detected per host from its SSH connection)")
	f.StringVar(&opts.BindAddr, "bind-addr", "", "local address the tracker and seeder listen on (default: all)")
	f.StringVar(&opts.PeerBinaryDir, "peer-binary-dir", "", "directory holding murderctl-<os>-<arch> peer binaries")
	f.DurationVar(&opts.StallTimeout, "stall-timeout", orchestrator.DefaultStallTimeout, "fail a host whose peer makes no progress for this long, and kill its peer (negative: never)")
	f.IntVar(&opts.PeerConns, "peer-connections", 0, fmt.Sprintf("connections each peer seeks to other peers; it accepts up to twice as many (0: %d; negative: the torrent library's 80)", orchestrator.DefaultPeerConns))
	f.StringVar(&opts.PeerTCPCongestion, "peer-tcp-congestion", "", fmt.Sprintf("TCP congestion control for the peers' sockets: the first of this comma-separated list each host accepts (default %q; \"default\": each host's own)", orchestrator.DefaultPeerTCPCongestion))
	f.IntVar(&opts.PeerProcs, "peer-procs", 0, fmt.Sprintf("cores each peer's runtime may use (0: %d; negative: all)", orchestrator.DefaultPeerProcs))
	f.BoolVar(&opts.Faults.OriginLeaves, "fault-origin-leaves", false, "test fault: stop the origin once every piece was sent once")
	f.StringArrayVar(&opts.Faults.CorruptHosts, "fault-corrupt-host", nil, "test fault: this host's peer, if it already has the file, serves corrupt data")
	for _, name := range []string{"fault-origin-leaves", "fault-corrupt-host"} {
		f.MarkHidden(name)
	}
	f.Int64Var(&opts.PieceSize, "piece-size", 0, "torrent piece size in bytes (default: chosen from the file size)")
	return cmd
}

func deployRun(ctx context.Context, opts *DeployOptions) error {
	report, err := runDeploy(ctx, opts)
	if err != nil {
		return err
	}
	if context.Cause(ctx) == errInterrupted {
		return errInterrupted
	}
	return resultsExit(report.Results)
}

// runDeploy loads the targets, deploys and renders the results.
func runDeploy(ctx context.Context, opts *DeployOptions) (*orchestrator.Report, error) {
	sel, err := orchestrator.LoadTargets(ctx, orchestrator.LoadOptions{Env: opts.Env,
		Inventories: opts.Inventories, Limit: opts.Limit, User: opts.User,
		PrivateKey: opts.PrivateKey, ConnectTimeout: opts.ConnectTimeout,
	})
	if errors.Is(err, orchestrator.ErrNoInventory) {
		return nil, &ExitError{Code: ExitBadOptions, Err: err}
	}
	if err != nil {
		return nil, err
	}
	for _, w := range sel.Warnings {
		fmt.Fprintf(opts.IO.ErrOut, "[WARNING]: %s\n", w)
	}
	if opts.AskBecomePass {
		pw, err := readBecomePass(opts.IO)
		if err != nil {
			return nil, err
		}
		// As in Ansible, a host's own ansible_become_password wins over -K.
		for i := range sel.Targets {
			if t := &sel.Targets[i]; t.BecomeUser != "" && t.BecomePassword == "" {
				t.BecomePassword = pw
			}
		}
	}
	forks := opts.Forks
	if forks == 0 {
		forks = sel.Forks
	}
	bins := &orchestrator.BinarySet{AllowDynamic: opts.allowDynamic}
	if opts.PeerBinaryDir != "" {
		bins.Dirs = []string{opts.PeerBinaryDir}
	}
	live := newLiveRecap(opts.IO, opts.JSON)
	report, err := opts.Deploy(ctx, orchestrator.DeployOptions{
		Source:            opts.Source,
		Dest:              opts.Dest,
		Targets:           sel.Targets,
		Forks:             forks,
		Timeout:           opts.Timeout,
		BindAddr:          opts.BindAddr,
		AdvertiseAddr:     opts.AdvertiseAddr,
		PieceLength:       opts.PieceSize,
		StallTimeout:      opts.StallTimeout,
		PeerConns:         opts.PeerConns,
		PeerProcs:         opts.PeerProcs,
		PeerTCPCongestion: opts.PeerTCPCongestion,
		Faults:            opts.Faults,
		Binaries:          bins,
		BindPeers:         opts.bindPeers,
		OnEvent:           traceEvents(opts.Logger(), live.event),
		Logger:            opts.Logger(),
	})
	live.finish()
	if err != nil {
		return nil, err
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return report, enc.Encode(report)
	}
	writeRecap(opts.IO.Out, report.Results)
	return report, nil
}

// resultsExit maps host outcomes to Ansible's exit codes.
func resultsExit(rs orchestrator.Results) error {
	_, _, failed, unreachable := rs.Counts()
	switch {
	case failed > 0:
		return &ExitError{Code: ExitHostFailed}
	case unreachable > 0:
		return &ExitError{Code: ExitUnreachable}
	}
	return nil
}

// readBecomePass asks for the become password as ansible-playbook -K does:
// without echo from a terminal, else one line of standard input.
func readBecomePass(ios *IOStreams) (string, error) {
	fmt.Fprint(ios.ErrOut, "BECOME password: ")
	var pw string
	if f, ok := ios.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(ios.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read the become password: %w", err)
		}
		pw = string(b)
	} else {
		line, err := bufio.NewReader(ios.In).ReadString('\n')
		fmt.Fprintln(ios.ErrOut)
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", &ExitError{Code: ExitBadOptions, Err: fmt.Errorf("--ask-become-pass: no password on standard input: %w", err)}
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if strings.ContainsAny(pw, "\n\r\x00") {
		return "", &ExitError{Code: ExitBadOptions, Err: errors.New("--ask-become-pass: the password holds a newline or NUL")}
	}
	return pw, nil
}

// traceEvents logs every peer event at debug level (-vvv) before passing it
// on: the per-host timeline of a deploy, for diagnosing a slow host.
func traceEvents(log *slog.Logger, next func(string, swarm.Event)) func(string, swarm.Event) {
	if log == nil || !log.Enabled(context.Background(), slog.LevelDebug) {
		return next
	}
	return func(host string, ev swarm.Event) {
		log.Debug("peer event", "host", host, "event", ev.Event, "have", ev.Have, "total", ev.Total,
			"down", ev.Downloaded, "up", ev.Uploaded)
		next(host, ev)
	}
}
