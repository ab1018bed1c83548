package orchestrator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/murderctl/murderctl/sshx"
)

// Become (ansible_become, method sudo), as Ansible's sudo become plugin does it:
//
//   - Without a become password, every step that runs as the become user
//     goes through `sudo -n`, which fails at once rather than prompt.
//   - With one (ansible_become_password, or -K), sudo runs as
//     `sudo -S -p <prompt>` with a prompt unique to the host run, and the
//     command run as the become user first prints a success marker on
//     stderr. We watch stderr: on the prompt we write the password to
//     stdin; on the marker the command runs and its real stdin follows. The
//     password is written only when sudo asks for it, because sudo reads no
//     password when it needs none (NOPASSWD, cached credentials, root
//     invoking it) and the line would reach the command instead: the peer
//     reads its configuration from stdin. A second prompt means the
//     password was wrong: we close stdin (sudo then gives up) and fail the
//     host rather than wait for sudo's third try. The password is never in
//     argv, a script, an error or a log.
//   - To a user other than root (or the login user) the peer cannot use
//     the login user's private cache (~/.cache/murderctl, mode 0700, often
//     under a 0700 home), so it runs from a private copy the become user
//     owns: see stage.
//
// A PAM stack whose prompt is not "Password:" makes sudo show its own prompt
// instead of ours (as for Ansible); that host fails after becomeTimeout.

// becomeTimeout bounds how long sudo may take to ask for the password or
// start the command, so a host whose sudo asks something else (or hangs in
// PAM) fails instead of holding the deploy. A variable for tests.
var becomeTimeout = 30 * time.Second

// becomeError is a failure of the become step itself, as opposed to a
// transport failure or the command's own exit status: it fails the host.
type becomeError struct{ msg string }

func (e *becomeError) Error() string { return e.msg }

// errBecome matches every becomeError (errors.Is).
var errBecome = &becomeError{}

func (e *becomeError) Is(target error) bool { return target == errBecome }

var errBecomePassword = &becomeError{"incorrect sudo password (ansible_become_password or -K): sudo asked for it again"}

func errBecomeTimeout() error {
	return &becomeError{fmt.Sprintf("sudo neither asked for the password with murderctl's prompt nor started the command within %s (does PAM ask something other than \"Password:\"?)", becomeTimeout)}
}

// becomeMarks are the strings that tell sudo's prompt and the command's
// start apart on stderr. Random per host run, so nothing else prints them.
type becomeMarks struct {
	prompt string // sudo -p (no %: sudo expands %-escapes in it)
	ok     string // printed, with a newline, by the command once it runs
}

func (h *hostRun) marks() becomeMarks {
	h.becomeOnce.Do(func() {
		h.becomeMarks = becomeMarks{
			prompt: "[murderctl sudo " + randomHex(8) + "] password: ",
			ok:     "MURDERCTL-BECOME-OK-" + randomHex(8),
		}
	})
	return h.becomeMarks
}

// withPassword says whether become steps talk to sudo's prompt.
func (h *hostRun) withPassword() bool {
	return h.t.BecomeUser != "" && h.t.BecomePassword != ""
}

// staged says whether the peer runs from a private copy owned by the become
// user instead of the login user's cache: the become user is neither root,
// who can read that cache, nor the login user, who owns it.
func (h *hostRun) staged() bool {
	u := h.t.BecomeUser
	return u != "" && u != "root" && u != h.t.SSH.User
}

// sudoPrefix is the sudo invocation for the target's become user; home
// asks for the become user's $HOME (sudo -H).
func (h *hostRun) sudoPrefix(home bool) string {
	var b strings.Builder
	b.WriteString("sudo ")
	if h.withPassword() {
		b.WriteString("-S -p " + sshx.Quote(h.marks().prompt) + " ")
	} else {
		b.WriteString("-n ")
	}
	if home {
		b.WriteString("-H ")
	}
	b.WriteString("-u " + sshx.Quote(h.t.BecomeUser) + " -- ")
	return b.String()
}

// becomeArgv is the command line running argv as the become user (plain
// argv without become).
func (h *hostRun) becomeArgv(argv ...string) string {
	switch {
	case h.t.BecomeUser == "":
		return sshx.QuoteCommand(argv...)
	case h.withPassword():
		return h.becomeSh(false, `exec "$@"`, argv...)
	}
	return h.sudoPrefix(false) + sshx.QuoteCommand(argv...)
}

// becomeSh is the command line running script with sh as the become user
// (as the login user without become), args as $1, $2...
func (h *hostRun) becomeSh(home bool, script string, args ...string) string {
	if h.t.BecomeUser == "" {
		return "sh -c " + sshx.Quote(script) + " sh " + sshx.QuoteCommand(args...)
	}
	if h.withPassword() {
		script = "printf '%s\\n' " + sshx.Quote(h.marks().ok) + " >&2; " + script
	}
	return h.sudoPrefix(home) + "sh -c " + sshx.Quote(script) + " sh " + sshx.QuoteCommand(args...)
}

// becomeFrom is the command line feeding the output of src (a shell
// command run as the login user) to become, a becomeSh command line, as
// its stdin. With a password, the login user's side first relays sudo's
// password from our stdin, line by line and only when we say so (p), then
// runs src once we say the command started (g): see runBecome's framed mode.
// printf and read are shell builtins: the password is in no argv.
func (h *hostRun) becomeFrom(src, become string) string {
	if !h.withPassword() {
		return "{ " + src + "; } | " + become
	}
	return `{ while IFS= read -r l; do case $l in p) IFS= read -r pw || exit 1; printf '%s\n' "$pw"; pw=;; g) ` +
		src + `; exit;; *) exit 1;; esac; done; } | ` + become
}

// runBecome runs cmd, a command line holding at most one sudo that reads
// stdin (built with becomeSh, becomeArgv or becomeFrom), and answers sudo's
// prompt. Once the command runs, in (which may be nil) is copied to its
// stdin; framed is for becomeFrom commands, whose stdin carries only the
// relay's p and g lines. Besides the transport errors of Conn.Run, the
// error can match errBecome: a wrong password, or a sudo that never asked
// nor started the command.
func (h *hostRun) runBecome(ctx context.Context, cmd string, framed bool, in io.Reader, stdout, stderr io.Writer) (int, error) {
	if !h.withPassword() {
		return h.conn.Run(ctx, cmd, in, stdout, stderr)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	m := h.marks()
	watch := &sudoWatch{prompt: []byte(m.prompt), ok: []byte(m.ok + "\n"), out: stderr, events: make(chan bool, 4)}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	var failMu sync.Mutex
	var failure error
	fail := func(err error) {
		failMu.Lock()
		failure = err
		failMu.Unlock()
	}
	start := time.Now()
	go func() {
		timer := time.NewTimer(becomeTimeout)
		defer timer.Stop()
		prompts := 0
		for {
			select {
			case <-done:
				return
			case <-timer.C:
				err := errBecomeTimeout()
				fail(err)
				cancel(err)
				return
			case started := <-watch.events:
				h.d.log.Debug("sudo", "host", h.t.Name, "started", started, "after", time.Since(start))
				if !started {
					prompts++
					if prompts > 1 {
						// Wrong password: sudo asks again. EOF makes it give up now.
						fail(errBecomePassword)
						pw.Close()
						return
					}
					line := h.t.BecomePassword + "\n"
					if framed {
						line = "p\n" + line
					}
					io.WriteString(pw, line)
					continue
				}
				timer.Stop()
				switch {
				case framed:
					io.WriteString(pw, "g\n")
				case in != nil:
					io.Copy(pw, in)
				}
				pw.Close()
				return
			}
		}
	}()
	code, err := h.conn.Run(ctx, cmd, pr, stdout, watch)
	h.d.log.Debug("sudo run", "host", h.t.Name, "user", h.t.BecomeUser, "framed", framed, "took", time.Since(start), "exit", code)
	close(done)
	pr.Close() // ends a copy into pw still under way
	watch.flush()
	failMu.Lock()
	defer failMu.Unlock()
	if failure != nil {
		return code, failure
	}
	return code, err
}

// sudoWatch passes stderr through, minus sudo's prompt and the success
// marker, each of which it reports on events (false: prompt, true: the
// command started). Once the command runs it passes everything through.
type sudoWatch struct {
	mu         sync.Mutex
	prompt, ok []byte
	out        io.Writer
	pend       []byte
	started    bool
	events     chan bool
}

func (w *sudoWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		w.emit(p)
		return len(p), nil
	}
	w.pend = append(w.pend, p...)
	for !w.started {
		ip, iok := bytes.Index(w.pend, w.prompt), bytes.Index(w.pend, w.ok)
		switch {
		case ip >= 0 && (iok < 0 || ip < iok):
			w.emit(w.pend[:ip])
			w.pend = w.pend[ip+len(w.prompt):]
			w.send(false)
		case iok >= 0:
			w.emit(w.pend[:iok])
			w.pend = w.pend[iok+len(w.ok):]
			w.started = true
			w.send(true)
		default:
			// Keep what could be the start of a marker split across writes.
			keep := max(len(w.prompt), len(w.ok)) - 1
			if n := len(w.pend) - keep; n > 0 {
				w.emit(w.pend[:n])
				w.pend = append(w.pend[:0], w.pend[n:]...)
			}
			return len(p), nil
		}
	}
	w.emit(w.pend)
	w.pend = nil
	return len(p), nil
}

func (w *sudoWatch) send(started bool) {
	select {
	case w.events <- started:
	default:
	}
}

func (w *sudoWatch) emit(p []byte) {
	if w.out != nil && len(p) > 0 {
		w.out.Write(p)
	}
}

// flush passes on what was held back; called once the command has ended.
func (w *sudoWatch) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emit(w.pend)
	w.pend = nil
}

// becomeHint explains sudo's refusal to run without a password.
func becomeHint(stderr string) string {
	if strings.Contains(stderr, "a password is required") {
		return stderr + " (set ansible_become_password, or pass -K/--ask-become-pass)"
	}
	return stderr
}

// stageScript runs as the become user, with the gzipped peer binary on
// stdin and its SHA-256 as $1. It makes a private directory (mktemp -d,
// mode 0700, owned by the become user) under the become user's own
// ~/.cache/murderctl when its home is its own (a home is rarely mounted
// noexec, /tmp often is), else under /tmp; unpacks and verifies the binary
// there (the traps come first, so a signal during mktemp leaves nothing),
// keeps the archive beside it (the peer serves it to hosts fetching
// the binary from the fleet) and prints the directory. On any failure it
// removes the directory.
const stageScript = `umask 077; c=$HOME/.cache/murderctl; base=${TMPDIR:-/tmp}; ` +
	`if [ -n "$HOME" ] && [ -d "$HOME" ] && [ -O "$HOME" ] && mkdir -p "$c" 2>/dev/null && [ -O "$c" ] && chmod 700 "$c"; then base=$c; fi; ` +
	`d=; trap 'rm -rf ${d:+"$d"}' EXIT; trap 'exit 143' HUP INT TERM; ` +
	`d=$(mktemp -d "$base/murderctl-run.XXXXXXXXXX") || exit 1; f=$d/peer-$1; ` +
	`cat > "$f.gz" && gzip -dc < "$f.gz" > "$f" && chmod 700 "$f" && printf '%s  %s\n' "$1" "$f" | sha256sum -c --status || ` +
	`{ echo "the peer binary copied for $(id -un) is incomplete or failed its SHA-256 check" >&2; exit 1; }; ` +
	`trap - EXIT; printf '%s\n' "$d"`

// stageTorrentScript writes stdin to $1/$2 in the staged directory.
const stageTorrentScript = `umask 077; [ -d "$1" ] && [ -O "$1" ] && cat > "$1/$2"`

// launchStagedScript runs the staged peer ($1/$2) and removes the staged
// directory when it exits, however it exits. It does not exec the peer,
// so it is there to clean up; stdin stays the peer's.
const launchStagedScript = `trap 'rm -rf "$1"' EXIT; trap 'exit 143' HUP INT TERM; "$1/$2" peer`

// stage gives the become user a private copy of the peer binary and the
// torrent, in a directory it alone can read (see stageScript).
//
// Why a copy piped through sudo rather than setfacl on the login user's
// cache (Ansible's first choice): it needs no ACL support on the
// filesystem or acl package, changes no permission on the login user's
// home, and makes nothing readable by a third user. The copy costs a local
// gunzip and SHA-256 per deploy, and the binary that runs is the one the
// become user verified. The source is the login user's verified cache, so
// the control node sends nothing more.
func (h *hostRun) stage(ctx context.Context) error {
	q := sshx.Quote
	gz, bin := h.binaryPath()+".gz", h.binaryPath()
	// The archive is kept beside a cached binary; recompress if it is gone.
	src := `if [ -f ` + q(gz) + ` ]; then cat -- ` + q(gz) + `; else gzip -c < ` + q(bin) + `; fi`
	cmd := h.becomeFrom(src, h.becomeSh(true, stageScript, h.binary.SHA256))
	var out, errb bytes.Buffer
	code, err := h.runBecome(ctx, cmd, true, nil, &out, &errb)
	if err != nil {
		return h.setupErr(ctx, "copy the peer binary for "+h.t.BecomeUser, err)
	}
	dir := strings.TrimSpace(out.String())
	if code != 0 || !strings.HasPrefix(dir, "/") || strings.ContainsAny(dir, "\n\x00") {
		return fmt.Errorf("copy the peer binary for %s failed (exit %d): %s", h.t.BecomeUser, code, becomeHint(strings.TrimSpace(errb.String())))
	}
	h.stageDir = dir
	errb.Reset()
	code, err = h.runBecome(ctx, h.becomeSh(false, stageTorrentScript, dir, h.d.infoHash+".torrent"), false, bytes.NewReader(h.d.torrent), io.Discard, &errb)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit %d: %s", code, strings.TrimSpace(errb.String()))
	}
	if err != nil {
		h.unstage(ctx)
		return h.setupErr(ctx, "push torrent for "+h.t.BecomeUser, err)
	}
	return nil
}

// unstage removes the staged directory when the peer never ran from it
// (the launch script removes it otherwise). Best effort.
func (h *hostRun) unstage(ctx context.Context) {
	if h.stageDir == "" {
		return
	}
	dir := h.stageDir
	h.stageDir = ""
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if _, err := h.runBecome(cctx, h.becomeSh(false, `rm -rf -- "$1"`, dir), false, nil, io.Discard, io.Discard); err != nil {
		h.d.log.Warn("remove the staged peer directory", "host", h.t.Name, "dir", dir, "err", err)
	}
}

// setupErr classifies an error of a set-up step run with runBecome: a
// become failure fails the host, a transport failure makes it unreachable.
func (h *hostRun) setupErr(ctx context.Context, what string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	if !errors.Is(err, errBecome) && ctx.Err() == nil {
		h.r.setErr(StatusUnreachable, err)
	}
	return err
}
