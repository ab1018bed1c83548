package orchestrator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/murderctl/murderctl/sshx"
)

// fetchTimeout bounds one fetch of the peer binary from another host.
const fetchTimeout = 60 * time.Second

// tempTraps starts the set-up scripts that write temporary files ($gz,
// $tmp): they are removed however the script ends, a cancel's SIGTERM
// included. The traps come before the first mktemp; a signal that lands
// between a mktemp and a later trap would leave its file behind.
const tempTraps = `umask 077; gz=; tmp=; trap 'rm -f -- ${gz:+"$gz"} ${tmp:+"$tmp"}' EXIT; trap 'exit 143' HUP INT TERM; `

// obtainBinary gets the peer binary onto the host: from a host that already
// runs a peer when one is up (bash's /dev/tcp is the only tool it needs), or
// pushed from the control node for the first few hosts, for hosts without
// bash, and whenever fetching from the fleet fails.
func (h *hostRun) obtainBinary(ctx context.Context) error {
	relay := h.d.relay
	if relay == nil || !h.hasBash {
		return h.pushBinary(ctx)
	}
	sum := h.binary.SHA256
	for {
		p := relay.next(ctx, sum)
		if p.direct {
			if err := h.pushBinary(ctx); err != nil {
				relay.done(sum, p, false)
				return err
			}
			if h.servesBinary() {
				h.directPlan = &p
			} else {
				relay.done(sum, p, false)
			}
			return nil
		}
		err := h.fetchBinary(ctx, p.source.addr)
		relay.done(sum, p, err == nil)
		if err == nil {
			return nil
		}
		h.d.log.Warn("fetching the peer binary from the fleet failed; trying elsewhere", "host", h.t.Name, "source", p.source.addr, "err", err)
		if ctx.Err() != nil {
			return err
		}
	}
}

// pushBinary sends the gzipped peer binary and unpacks it on the host,
// checking its SHA-256 before it takes its content-addressed name.
func (h *hostRun) pushBinary(ctx context.Context) error {
	gz, err := h.binary.Gzipped()
	if err != nil {
		return err
	}
	final := h.binaryPath()
	gzPath := final + ".gz"
	if err := h.conn.Upload(ctx, bytes.NewReader(gz), int64(len(gz)), gzPath, 0o600); err != nil {
		return fmt.Errorf("push peer binary: %w", err)
	}
	q := sshx.Quote
	// The archive stays beside the binary: the host's peer serves it to
	// hosts that fetch the binary from the fleet.
	script := fmt.Sprintf(tempTraps+`tmp=$(mktemp %s) || exit 1; `+
		`gzip -dc < %s > "$tmp" && chmod 700 "$tmp" && printf '%%s  %%s\n' %s "$tmp" | sha256sum -c --status && mv -f "$tmp" %s || { rm -f %s; exit 1; }`,
		q(final+".unpack-XXXXXX"), q(gzPath), h.binary.SHA256, q(final), q(gzPath))
	return h.runSetup(ctx, "unpack peer binary", script)
}

// fetchBinary has the host pull the binary from a peer at addr, then checks
// its SHA-256 before it takes its content-addressed name.
func (h *hostRun) fetchBinary(ctx context.Context, addr string) error {
	ip, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.Atoi(port); err != nil || net.ParseIP(ip) == nil {
		return fmt.Errorf("bad relay address %q", addr)
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	// Private temporary names per attempt: a timed-out attempt whose cat
	// still runs must never share an inode with the binary we exec. The
	// archive is kept, so this host can serve it in turn.
	final := h.binaryPath()
	fetch := `exec 3<>"/dev/tcp/$1/$2" && cat <&3 > "$3"`
	q := sshx.Quote
	script := fmt.Sprintf(tempTraps+`gz=$(mktemp %s) && tmp=$(mktemp %s) || exit 1; `+
		`timeout %d bash -c %s fetch %s %s "$gz" && gzip -dc < "$gz" > "$tmp" && chmod 700 "$tmp" && printf '%%s  %%s\n' %s "$tmp" | sha256sum -c --status && `+
		`mv -f "$gz" %s && mv -f "$tmp" %s`,
		q(final+".fetch-XXXXXX"), q(final+".unpack-XXXXXX"), int(fetchTimeout/time.Second), q(fetch), q(ip), q(port), h.binary.SHA256, q(final+".gz"), q(final))
	return h.runSetup(ctx, "fetch peer binary from "+addr, script)
}

// runSetup runs a set-up script; a transport failure marks the host
// unreachable, a non-zero exit is an error naming what failed.
func (h *hostRun) runSetup(ctx context.Context, what, script string) error {
	var errb bytes.Buffer
	code, err := h.conn.Run(ctx, script, nil, io.Discard, &errb)
	if err != nil {
		if ctx.Err() == nil {
			h.r.setErr(StatusUnreachable, fmt.Errorf("%s: %w", what, err))
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if code != 0 {
		return fmt.Errorf("%s failed (exit %d): %s", what, code, strings.TrimSpace(errb.String()))
	}
	return nil
}
