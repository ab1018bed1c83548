package orchestrator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/murderctl/murderctl/sshx"
	"github.com/murderctl/murderctl/swarm"
)

// remoteDir is where murderctl keeps its files on a host, under the login
// directory: cached peer binaries and per-deploy torrents. Mode 0700.
const remoteDir = ".cache/murderctl"

// exitBinaryMismatch is what the launch line exits with when the cached peer
// binary does not hash to what we expect; it is removed, and the next deploy
// pushes it again.
const exitBinaryMismatch = 121

// stopGrace is how long a peer gets to exit after being told to stop.
const stopGrace = 10 * time.Second

// hostRun deploys to one host: connect, probe, push, launch, follow events.
type hostRun struct {
	d    *deploy
	t    Target
	r    *Result
	conn Conn

	settleOnce sync.Once
	gateOnce   sync.Once
	home       string
	hasBash    bool
	hasDir     bool // the private cache directory exists
	binary     *PeerBinary
	// mu guards r, terminal and the progress fields once the peer runs:
	// events and the stall watchdog both update them.
	mu           sync.Mutex
	terminal     bool      // done, failed or declared stalled
	pid          int       // the peer's pid on the host, from its started event
	progressMark int64     // pieces and bytes seen last
	progressAt   time.Time // when they last changed
	// directPlan is set while this host, having had the binary pushed
	// directly, has yet to become a relay source for others.
	directPlan *plan
	// become: the sudo prompt and success markers (become.go), and the
	// become user's private copy of the peer and torrent, when staged.
	becomeOnce  sync.Once
	becomeMarks becomeMarks
	stageDir    string
}

func (h *hostRun) settle() {
	h.passGate(false)
	h.settleOnce.Do(h.d.settle)
}

// passGate tells the origin's gate this host no longer waits on it;
// running says its peer runs.
func (h *hostRun) passGate(running bool) {
	if h.d.gate != nil {
		h.gateOnce.Do(func() { h.d.gate.pass(running) })
	}
}

func (h *hostRun) run(ctx context.Context) {
	defer h.settle()
	ps, err := h.prepare(ctx)
	if err != nil {
		if h.directPlan != nil {
			h.d.relay.done(h.binary.SHA256, *h.directPlan, false)
		}
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			// A network deadline taken from ctx can fire a moment before
			// ctx itself is done; wait for it so the cause is known.
			<-ctx.Done()
		}
		switch {
		case ctx.Err() != nil:
			// Out of time or cancelled: say so, whichever step it cut short
			// (a cut-short probe or push is no sign of an unreachable host).
			h.r.setErr(StatusFailed, fmt.Errorf("%w: %w", context.Cause(ctx), err))
		case h.r.Status == "":
			h.r.setErr(StatusFailed, err)
		}
		return
	}
	defer h.conn.Close()
	h.launch(ctx, ps)
}

// prepare connects and pushes what the peer needs, within the forks limit.
// It returns the peer's session when the probe could launch it at once.
func (h *hostRun) prepare(ctx context.Context) (*peerSession, error) {
	if err := h.d.setup.Acquire(ctx, 1); err != nil {
		return nil, fmt.Errorf("not started: %w", context.Cause(ctx))
	}
	defer h.d.setup.Release(1)
	c, err := h.d.opts.Dialer.Dial(ctx, h.t)
	if err != nil {
		h.r.setErr(StatusUnreachable, err)
		return nil, err
	}
	h.d.log.Debug("connected", "host", h.t.Name, "since_start", time.Since(h.d.start))
	h.conn = c
	ps, err := h.probeAndPush(ctx)
	h.d.log.Debug("set up", "host", h.t.Name, "since_start", time.Since(h.d.start), "launched", ps != nil, "err", err)
	if err != nil {
		c.Close()
	}
	return ps, err
}

func (h *hostRun) probeAndPush(ctx context.Context) (*peerSession, error) {
	var goos, goarch string
	var cached map[string]bool
	var err error
	if b := h.fastBinary(); b != nil {
		var ps *peerSession
		if ps, goos, goarch, cached, err = h.probeAndLaunch(ctx, b); ps != nil || err != nil {
			return ps, err
		}
	} else if goos, goarch, cached, err = h.probe(ctx); err != nil {
		return nil, err
	}
	h.d.log.Debug("probed", "host", h.t.Name, "since_start", time.Since(h.d.start))
	if h.binary, err = h.d.opts.Binaries.For(goos, goarch); err != nil {
		return nil, err
	}
	if !h.hasDir {
		if err := h.runSetup(ctx, "create "+remoteDir, "umask 077; mkdir -p "+remoteDir+" && chmod 700 "+remoteDir); err != nil {
			return nil, err
		}
	}
	if !cached[h.binaryName()] {
		h.passGate(false) // a push takes seconds: the fleet does not wait for it
		start := time.Now()
		if err := h.obtainBinary(ctx); err != nil {
			return nil, err
		}
		h.d.log.Debug("peer binary obtained", "host", h.t.Name, "took", time.Since(start))
	}
	if h.staged() {
		return nil, h.stage(ctx)
	}
	if h.torrentInline() {
		return nil, nil
	}
	if err := h.conn.Upload(ctx, bytes.NewReader(h.d.torrent), int64(len(h.d.torrent)), h.torrentPath(), 0o600); err != nil {
		return nil, fmt.Errorf("push torrent: %w", err)
	}
	return nil, nil
}

// torrentInline says whether the .torrent travels on the peer's stdin with
// its config: one SFTP session fewer per host, which at 50 hosts on two
// cores was half a second of the time to all peers running. A staged
// (become) peer gets it as a file in its staged directory.
func (h *hostRun) torrentInline() bool {
	return h.stageDir == "" && len(h.d.torrent) <= maxInlineTorrent
}

// orDefault resolves a deploy option where 0 means def and a negative
// value means "no limit", which the peer config spells 0.
func orDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// maxInlineTorrent is the largest .torrent sent inline in the peer's
// config line (base64 grows it by a third; swarm bounds the line at 1 MiB).
// A larger one, for a file of hundreds of GiB, is pushed over SFTP. A
// variable for tests.
var maxInlineTorrent = 512 << 10

// destCheck mirrors the peer's reading of --dest (swarm.resolveDest) in
// shell, so a destination whose directory is missing or not writable fails
// the host before anything is put on it. $1 is the destination, $2 the
// file's name.
const destCheck = `d=$1; case "$d" in ""|*/) p="${d:-./}$2";; *) if [ -d "$d" ]; then p="$d/$2"; else p=$d; fi;; esac; ` +
	`dir=$(dirname -- "$p"); ` +
	`if [ -e "$dir" ] && [ ! -d "$dir" ]; then echo "destination parent $dir is not a directory" >&2; exit 64; fi; ` +
	`if [ ! -d "$dir" ]; then echo "destination directory $dir does not exist" >&2; exit 64; fi; ` +
	`if [ ! -w "$dir" ]; then echo "destination directory $dir is not writable" >&2; exit 65; fi; ` +
	`if [ -d "$p" ]; then echo "destination $p is a directory" >&2; exit 66; fi`

// probe learns the host's platform and home, checks the destination (as
// the become user, if any), and lists what the private cache directory
// already holds. It changes nothing.
func (h *hostRun) probe(ctx context.Context) (goos, goarch string, cached map[string]bool, err error) {
	var out, errb bytes.Buffer
	code, err := h.runBecome(ctx, h.probeScript(), false, nil, &out, &errb)
	return h.parseProbe(out.String(), errb.String(), code, err)
}

// probeScript prints, a line each: uname -s, uname -m, $HOME, whether bash
// exists, whether the cache directory exists, then the directory's names.
func (h *hostRun) probeScript() string {
	// One uname for both lines, kept in a variable the fast launch reads
	// again: every process a probe starts costs 1-2 ms of a host's CPU,
	// and with fifty hosts on two cores that adds up (docs/benchmarks.md).
	return `murderctl_u=$(uname -sm); printf '%s\n' "${murderctl_u% *}" "${murderctl_u##* }" "$HOME"; ` +
		`if command -v bash >/dev/null 2>&1; then echo bash; else echo nobash; fi; ` +
		h.becomeSh(false, destCheck, h.d.opts.Dest, h.d.name) + ` || exit; ` +
		`if [ -d ` + remoteDir + ` ]; then echo dir; ls -1a ` + remoteDir + `; else echo nodir; fi`
}

// parseProbe reads what probeScript printed (out, errOut) and how it ended.
func (h *hostRun) parseProbe(out, errOut string, code int, err error) (goos, goarch string, cached map[string]bool, _ error) {
	if errors.Is(err, errBecome) {
		return "", "", nil, fmt.Errorf("probe as %s: %w", h.t.BecomeUser, err)
	}
	if err != nil {
		h.r.setErr(StatusUnreachable, fmt.Errorf("probe: %w", err))
		return "", "", nil, err
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if code >= 64 && code <= 66 {
		return "", "", nil, errors.New(strings.TrimSpace(errOut))
	}
	if code != 0 || len(lines) < 5 {
		return "", "", nil, fmt.Errorf("probe failed (exit %d): %s", code, becomeHint(strings.TrimSpace(errOut)))
	}
	goos = strings.ToLower(strings.TrimSpace(lines[0]))
	goarch = goArch(strings.TrimSpace(lines[1]))
	h.home = lines[2]
	h.hasBash = lines[3] == "bash"
	h.hasDir = lines[4] == "dir"
	cached = map[string]bool{}
	for _, l := range lines[5:] {
		cached[l] = true
	}
	return goos, goarch, cached, nil
}

// servesBinary says whether this host's peer can relay the binary to
// others: we must know an address the fleet reaches it at.
func (h *hostRun) servesBinary() bool {
	return h.d.relay != nil && h.d.hostIPs[h.t.Name] != "" && h.t.SSH.Jump == nil
}

func (h *hostRun) binaryName() string { return "peer-" + h.binary.SHA256 }

func (h *hostRun) binaryPath() string { return h.home + "/" + remoteDir + "/" + h.binaryName() }

// torrentPath is where the peer finds the torrent: the login user's cache,
// or the become user's staged directory.
func (h *hostRun) torrentPath() string {
	if h.stageDir != "" {
		return h.stageDir + "/" + h.d.infoHash + ".torrent"
	}
	return h.home + "/" + remoteDir + "/" + h.d.infoHash + ".torrent"
}

// launchCommand verifies the cached binary's hash, then execs the peer. A
// cached binary that fails the check is removed, so the next deploy pushes
// it again instead of failing the host for good. A staged peer (become.go)
// was verified by the become user when it was copied; it runs from there.
func (h *hostRun) launchCommand() string {
	if h.stageDir != "" {
		return h.becomeSh(false, launchStagedScript, h.stageDir, h.binaryName())
	}
	return launchLine(h.binaryPath(), h.binary.SHA256, h.becomeArgv(h.binaryPath(), "peer"))
}

// launchLine is the shell line that checks the cached binary at path
// against sum and runs exec, the peer's command line.
func launchLine(path, sum, exec string) string {
	f := sshx.Quote(path)
	stamp := sshx.Quote(path + ".ok")
	// The full SHA-256 check runs when the binary's size, mtime or inode
	// differ from the stamp written when it was last verified: hashing the
	// binary on every launch would cost each host tens of milliseconds of
	// CPU for nothing.
	// The stamp is read by the shell itself, not by cat: one process
	// fewer per launch.
	return fmt.Sprintf(`umask 077; murderctl_stamp=; { read -r murderctl_stamp < %[2]s; } 2>/dev/null; `+
		`if [ "$(stat -c %%s:%%Y:%%i %[1]s 2>/dev/null)" != "$murderctl_stamp" ]; then `+
		`printf '%%s  %%s\n' %[3]s %[1]s | sha256sum -c --status || { rm -f %[1]s %[2]s; exit %[4]d; }; `+
		`stat -c %%s:%%Y:%%i %[1]s > %[2]s; fi; exec %[5]s`,
		f, stamp, sum, exitBinaryMismatch, exec)
}

// peerConfig is what this host's peer is told on its stdin.
// tunnelAddr, when set, is the host-side end of a tunnel to our HTTP
// listener (see tunnel), used instead of a direct address.
func (h *hostRun) peerConfig(tunnelAddr string) swarm.PeerConfig {
	httpAddr := tunnelAddr
	if httpAddr == "" {
		adv := h.d.opts.AdvertiseAddr
		if adv == "" {
			if ta, ok := h.conn.LocalAddr().(*net.TCPAddr); ok {
				adv = ta.IP.String()
			}
		}
		httpAddr = net.JoinHostPort(adv, strconv.Itoa(h.d.trackerP))
	}
	cfg := swarm.PeerConfig{
		SHA256:       h.d.sha256,
		SHA256Chain:  h.d.chain,
		Dest:         h.d.opts.Dest,
		AnnounceURL:  "http://" + httpAddr + "/" + h.d.token + "/announce",
		OriginURL:    "http://" + httpAddr + "/" + h.d.token + "/origin/",
		AllowedPeers: h.d.allowed,
	}
	if h.torrentInline() {
		cfg.Torrent = h.d.torrent
	} else {
		cfg.TorrentPath, cfg.RemoveTorrent = h.torrentPath(), true
	}
	if h.d.opts.BindPeers {
		cfg.BindIP = h.t.SSH.Host
	}
	cfg.ServeBinary = h.servesBinary()
	cfg.MaxConns = orDefault(h.d.opts.PeerConns, DefaultPeerConns)
	cfg.Procs = orDefault(h.d.opts.PeerProcs, DefaultPeerProcs)
	cfg.TCPCongestion = h.d.tcpCC
	cfg.FaultCorruptUploads = slices.Contains(h.d.opts.Faults.CorruptHosts, h.t.Name)
	if tunnelAddr != "" {
		// Announces arrive through the tunnel from loopback: say where the
		// fleet reaches this host.
		cfg.AnnounceIP = h.d.hostIPs[h.t.Name]
	}
	return cfg
}

// eventReader parses the peer's stdout lines and applies them.
func (h *hostRun) readEvents(r io.Reader, done func(swarm.Event)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev swarm.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			h.d.log.Warn("peer wrote a line that is not an event", "host", h.t.Name, "line", sc.Text())
			continue
		}
		if h.d.opts.OnEvent != nil {
			h.d.opts.OnEvent(h.t.Name, ev)
		}
		done(ev)
	}
	io.Copy(io.Discard, r)
}

var errPeerExited = errors.New("peer exited")
