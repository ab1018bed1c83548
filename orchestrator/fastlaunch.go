package orchestrator

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"runtime"
	"slices"
	"strings"

	"github.com/murderctl/murderctl/sshx"
)

// Why probe and launch share a session: once the first peers run, the
// origin keeps the control node's uplink busy, and every SSH round trip
// after that waits behind its queue (and, with tc's tail drops, a
// retransmission timeout now and then). With a probe session and then a
// launch session, 50 hosts on 64 KiB pieces took 3.5-4.8 s to all run; a
// host whose cached binary is ready now starts in the session that probes
// it (docs/benchmarks.md, seventh session).

// The combined script prints probedMark after the probe's lines, and
// launchMark just before it execs the peer, whose events follow.
const (
	probedMark = "murderctl/probed" // a "/" no cached file name holds
	launchMark = "murderctl/launch"
)

// fastBinary is the binary a host may be launched with straight from the
// probe: ours, for a host that may run our platform and holds it. nil when
// the host needs more first: become (a staged copy), a jump host (a tunnel
// for its peer), or a torrent too large to send inline.
func (h *hostRun) fastBinary() *PeerBinary {
	if h.t.BecomeUser != "" || !h.torrentInline() {
		return nil
	}
	if rl, ok := h.conn.(remoteListener); ok && rl.Jumped() {
		return nil
	}
	if localUnames == "" {
		return nil
	}
	b, err := h.d.opts.Binaries.For(runtime.GOOS, runtime.GOARCH)
	if err != nil {
		return nil
	}
	return b
}

// localUnames is a shell case pattern matching what `uname -sm` prints on
// a host of murderctl's own platform; "" when that platform is not Linux
// or has no uname names we know. Every host's fast launch uses it.
var localUnames = unamePattern(runtime.GOOS, runtime.GOARCH)

func unamePattern(goos, goarch string) string {
	if goos != "linux" {
		return ""
	}
	var pats []string
	for m, a := range unameArch {
		if a == goarch {
			pats = append(pats, sshx.Quote("Linux "+m))
		}
	}
	slices.Sort(pats)
	return strings.Join(pats, "|")
}

// probeAndLaunch probes the host and, when it runs Linux on b's
// architecture and has b cached, execs the peer in the same session. It
// returns the session when the peer was launched, else what the probe
// found, for the usual push and launch.
func (h *hostRun) probeAndLaunch(ctx context.Context, b *PeerBinary) (ps *peerSession, goos, goarch string, cached map[string]bool, err error) {
	cfg, err := json.Marshal(h.peerConfig(""))
	if err != nil {
		return nil, "", "", nil, err
	}
	h.binary = b
	path := remoteDir + "/" + h.binaryName() // the session starts in the login directory
	script := h.probeScript() + "; echo " + probedMark + "; " +
		`case "$murderctl_u" in ` + localUnames + `) ;; *) exit 0;; esac; ` +
		`[ -f ` + sshx.Quote(path) + ` ] || exit 0; echo ` + launchMark + "; " +
		launchLine(path, b.SHA256, sshx.QuoteCommand(path, "peer"))
	ps = h.startSession(ctx, script, cfg)
	out := bufio.NewReader(ps.out)
	var probe strings.Builder
	probed, launched := false, false
	for !probed {
		line, rerr := out.ReadString('\n')
		if rerr != nil {
			break
		}
		if probed = line == probedMark+"\n"; !probed {
			probe.WriteString(line)
		}
	}
	if probed {
		line, _ := out.ReadString('\n')
		launched = line == launchMark+"\n"
	}
	if launched {
		if goos, goarch, cached, err = h.parseProbe(probe.String(), "", 0, nil); err == nil {
			ps.out = out
			return ps, goos, goarch, cached, nil
		}
		// Cannot happen short of a broken shell; the peer exits when its
		// session ends.
		ps.cancel()
		<-ps.done
		return nil, "", "", nil, err
	}
	io.Copy(io.Discard, out)
	<-ps.done
	ps.cancel()
	goos, goarch, cached, err = h.parseProbe(probe.String(), ps.stderr.String(), ps.code, ps.err)
	return nil, goos, goarch, cached, err
}
