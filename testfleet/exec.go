package testfleet

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// privateDirs maps a host's private mount points to their backing
// directories under Host.Dir.
var privateDirs = []struct{ inHost, backing string }{
	{"/root", "root"}, {"/tmp", "tmp"}, {"/var/tmp", "var-tmp"}, {"/srv", "srv"}, {"/etc/ssh", "etc-ssh"},
}

// Path maps a path inside the host to the file backing it on the machine,
// so tests can read and write host files directly. Relative paths are taken
// from /root (the remote user's home). Paths outside /root, /tmp, /var/tmp,
// /srv and /etc/ssh are shared with the machine and give "". Files under a tmpfs
// mounted with MountTmpfs are not visible through Path.
func (h *Host) Path(p string) string {
	if !path.IsAbs(p) {
		p = "/root/" + p
	}
	p = path.Clean(p)
	for _, d := range privateDirs {
		if p == d.inHost || strings.HasPrefix(p, d.inHost+"/") {
			return filepath.Join(h.Dir, d.backing, strings.TrimPrefix(p, d.inHost))
		}
	}
	return ""
}

// ControlCommand runs a program on the control node (in its network
// namespace, via `ip netns exec`). The caller may set Env (see ControlEnv),
// Stdin, Stdout and so on before starting it.
func (f *Fleet) ControlCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", f.ControlNetns(), name}, args...)...)
}

// HostCommand runs a program inside host i, in its network and mount
// namespaces, as root. It works after StopSSHD, and even after KillAll (then
// in a fresh mount namespace with the same private directories).
func (f *Fleet) HostCommand(ctx context.Context, i int, name string, args ...string) *exec.Cmd {
	h, err := f.host(i)
	if err != nil {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Err = err
		return cmd
	}
	h.mu.Lock()
	a := h.anchor
	h.mu.Unlock()
	if a.alive() {
		return exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(a.cmd.Process.Pid), "-n", "-m", "--", name}, args...)...)
	}
	script := strings.Replace(anchorScript, "exec sleep infinity", `shift; exec "$@"`, 1)
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Netns,
		"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", h.Dir, name}, args...)...)
}

// SSHDLog is the path of host i's sshd log (sshd -e output), for test
// failure messages.
func (f *Fleet) SSHDLog(i int) string {
	h, err := f.host(i)
	if err != nil {
		return ""
	}
	return filepath.Join(h.Dir, "sshd.log")
}

// SSHArgs are the ssh options that log in to host i as root with the fleet
// key and known_hosts, ignoring any user or system ssh configuration; the
// last element is "root@IP". Use them with `ssh` on the control node.
func (f *Fleet) SSHArgs(i int) []string {
	h, err := f.host(i)
	if err != nil {
		return nil
	}
	return append(f.sshOpts(), "root@"+h.IP.String())
}

func (f *Fleet) sshOpts() []string {
	return []string{"-F", "/dev/null", "-i", f.keyFile, "-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + f.khFile, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=10"}
}

// SSH runs the real ssh client on the control node against host i. The
// remote words are joined by spaces and run by the remote shell, as ssh does.
func (f *Fleet) SSH(ctx context.Context, i int, remote ...string) *exec.Cmd {
	args := f.SSHArgs(i)
	if args == nil {
		_, err := f.host(i)
		cmd := exec.CommandContext(ctx, "ssh")
		cmd.Err = err
		return cmd
	}
	return f.ControlCommand(ctx, "ssh", append(append(args, "--"), remote...)...)
}

// SCP copies localFile to remotePath on host i with one real scp from the
// control node and returns its wall time (connection setup included).
func (f *Fleet) SCP(ctx context.Context, i int, localFile, remotePath string) (time.Duration, error) {
	h, err := f.host(i)
	if err != nil {
		return 0, err
	}
	args := append(append([]string{"-q"}, f.sshOpts()...), "--", localFile, "root@"+h.IP.String()+":"+remotePath)
	cmd := f.ControlCommand(ctx, "scp", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("testfleet: scp %s to %s:%s: %w: %s", localFile, h.Name, remotePath, err, bytes.TrimSpace(out.Bytes()))
	}
	return d, nil
}

// StopSSHD stops host i's sshd listener: new connections to port 22 are
// refused. Sessions already open keep running. StartSSHD undoes it.
func (f *Fleet) StopSSHD(i int) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sshd.stop(syscall.SIGTERM, 2*time.Second)
	return nil
}

// StartSSHD (re)starts host i's sshd, and its mount namespace after
// KillAll, and waits until it answers.
func (f *Fleet) StartSSHD(ctx context.Context, i int) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return f.startHost(ctx, h)
}

// KillAll SIGKILLs every process in host i's namespaces (sshd, sessions,
// peers, the anchor): the host is dead until StartSSHD. Its files stay.
func (f *Fleet) KillAll(i int) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := killNetns(context.Background(), h.Netns); err != nil {
		return err
	}
	for _, p := range []*proc{h.sshd, h.anchor} {
		if p != nil {
			<-p.done
		}
	}
	return nil
}

// HostPids lists the processes running in host i (its network namespace),
// for example to SIGSTOP a peer. It includes sshd and the anchor ("sleep").
func (f *Fleet) HostPids(i int) ([]int, error) {
	h, err := f.host(i)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command("ip", "netns", "pids", h.Netns).Output()
	if err != nil {
		return nil, fmt.Errorf("testfleet: list processes of %s: %w", h.Name, err)
	}
	var pids []int
	for _, w := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(w); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// MountTmpfs mounts a tmpfs of sizeBytes at dir inside host i (creating
// dir), for example to fill a destination disk. It lives in the host's mount
// namespace only: Path does not see into it, HostCommand does. It goes away
// with the host's processes (KillAll, Close).
func (f *Fleet) MountTmpfs(ctx context.Context, i int, dir string, sizeBytes int64) error {
	cmd := f.HostCommand(ctx, i, "sh", "-c", `mkdir -p -- "$1" && mount -t tmpfs -o size="$2",mode=0755 tmpfs "$1"`,
		"sh", dir, strconv.FormatInt(sizeBytes, 10))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testfleet: mount tmpfs at %s on host %d: %w: %s", dir, i, err, bytes.TrimSpace(out))
	}
	return nil
}
