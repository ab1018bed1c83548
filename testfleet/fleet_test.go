package testfleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFleet(t *testing.T) {
	const rate = 50.0
	f := Start(t, Options{N: 3, RateMbit: rate, Name: "tft"})
	ctx := t.Context()

	t.Run("ssh into every host", func(t *testing.T) {
		for i, h := range f.Hosts {
			out, err := f.SSH(ctx, i, "ip", "-o", "-4", "addr", "show", "dev", "eth0").CombinedOutput()
			if err != nil {
				t.Fatalf("ssh %s: %v: %s", h.Name, err, out)
			}
			if !strings.Contains(string(out), " "+h.IP.String()+"/") {
				t.Errorf("ssh %s landed on the wrong host: %s", h.Name, out)
			}
		}
	})

	t.Run("files are private per host", func(t *testing.T) {
		for _, dir := range []string{"/root", "/tmp", "/var/tmp", "/srv"} {
			p := dir + "/only-h01"
			if out, err := f.SSH(ctx, 0, "echo secret >"+p).CombinedOutput(); err != nil {
				t.Fatalf("write %s on h01: %v: %s", p, err, out)
			}
			if b, err := os.ReadFile(f.Hosts[0].Path(p)); err != nil || string(b) != "secret\n" {
				t.Errorf("Path(%s) on h01: %q, %v", p, b, err)
			}
			if _, err := os.Stat(f.Hosts[1].Path(p)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("h02 backing dir has %s: %v", p, err)
			}
			out, err := f.SSH(ctx, 1, "test ! -e "+p).CombinedOutput()
			if err != nil {
				t.Errorf("%s written on h01 is visible on h02: %v: %s", p, err, out)
			}
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s leaked to the machine: %v", p, err)
			}
		}
	})

	t.Run("rate limits installed", func(t *testing.T) {
		for _, ns := range []string{f.Hosts[0].Netns, f.ControlNetns()} {
			out, err := exec.Command("tc", "-n", ns, "qdisc", "show", "dev", "eth0").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "tbf") || !strings.Contains(string(out), "rate 50Mbit") {
				t.Errorf("tc in %s: %v: %s", ns, err, out)
			}
		}
		out, err := exec.Command("tc", "-n", f.nsName("sw"), "qdisc", "show", "dev", f.Hosts[2].Name).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "rate 50Mbit") {
			t.Errorf("tc on switch port %s: %v: %s", f.Hosts[2].Name, err, out)
		}
	})

	t.Run("scp throughput near the limit", func(t *testing.T) {
		const size = 8 << 20
		data := make([]byte, size)
		rand.Read(data)
		src := t.TempDir() + "/big"
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		tx0, err := f.ControlTxBytes()
		if err != nil {
			t.Fatal(err)
		}
		rx0, err := f.HostRxBytes(2)
		if err != nil {
			t.Fatal(err)
		}
		d, err := f.SCP(ctx, 2, src, "/srv/big")
		if err != nil {
			t.Fatal(err)
		}
		ideal := time.Duration(float64(size*8) / (rate * 1e6) * float64(time.Second))
		t.Logf("scp 8 MiB at %v Mbit/s: %v (ideal %v, %.2fx)", rate, d, ideal, d.Seconds()/ideal.Seconds())
		if d < ideal/2 || d > 10*ideal {
			t.Errorf("scp took %v, want within [%v, %v] of a %v Mbit/s link", d, ideal/2, 10*ideal, rate)
		}
		if got, err := os.ReadFile(f.Hosts[2].Path("/srv/big")); err != nil || !bytes.Equal(got, data) {
			t.Errorf("h03:/srv/big differs from the source (%d bytes, %v)", len(got), err)
		}
		tx1, _ := f.ControlTxBytes()
		rx1, _ := f.HostRxBytes(2)
		if tx1-tx0 < size || rx1-rx0 < size {
			t.Errorf("counters: control sent %d, h03 received %d, want >= %d", tx1-tx0, rx1-rx0, size)
		}
	})

	t.Run("hosts reach an in-process listener on the control node", func(t *testing.T) {
		l, err := f.ControlListen("tcp", net.JoinHostPort(f.ControlIP.String(), "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		go func() {
			if c, err := l.Accept(); err == nil {
				c.Write([]byte("hello " + c.RemoteAddr().(*net.TCPAddr).IP.String() + "\n"))
				c.Close()
			}
		}()
		out, err := f.HostCommand(ctx, 1, "bash", "-c", "exec 3<>/dev/tcp/"+f.ControlIP.String()+"/"+port+"; cat <&3").CombinedOutput()
		if want := "hello " + f.Hosts[1].IP.String(); err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("host -> control: %q, %v; want %q", out, err, want)
		}
	})

	t.Run("MountTmpfs gives a small full disk", func(t *testing.T) {
		if err := f.MountTmpfs(ctx, 1, "/srv/small", 1<<20); err != nil {
			t.Fatal(err)
		}
		out, err := f.SSH(ctx, 1, "dd if=/dev/zero of=/srv/small/f bs=64k count=32").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "No space left") {
			t.Errorf("writing 2 MiB to a 1 MiB tmpfs: %v: %s", err, out)
		}
		if _, err := os.Stat(f.Hosts[1].Path("/srv/small/f")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("tmpfs content visible through Path: %v", err)
		}
	})

	t.Run("HostPids lists sshd", func(t *testing.T) {
		pids, err := f.HostPids(2)
		if err != nil {
			t.Fatal(err)
		}
		sshd := f.Hosts[2].sshd.cmd.Process.Pid
		if !slices.Contains(pids, sshd) {
			t.Errorf("HostPids(2) = %v, want it to hold sshd %d", pids, sshd)
		}
	})

	t.Run("StopSSHD refuses port 22", func(t *testing.T) {
		if err := f.StopSSHD(1); err != nil {
			t.Fatal(err)
		}
		_, err := f.ControlDial(ctx, "tcp", f.Hosts[1].IP.String()+":22")
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial stopped sshd: %v, want connection refused", err)
		}
		if err := f.StartSSHD(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if out, err := f.SSH(ctx, 1, "true").CombinedOutput(); err != nil {
			t.Errorf("ssh after StartSSHD: %v: %s", err, out)
		}
	})

	t.Run("LinkDown stalls, LinkUp restores", func(t *testing.T) {
		if err := f.LinkDown(2); err != nil {
			t.Fatal(err)
		}
		dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		c, err := f.ControlDial(dctx, "tcp", f.Hosts[2].IP.String()+":22")
		cancel()
		if err == nil {
			c.Close()
			t.Error("dial through a downed link succeeded")
		}
		if err := f.LinkUp(2); err != nil {
			t.Fatal(err)
		}
		if out, err := f.SSH(ctx, 2, "true").CombinedOutput(); err != nil {
			t.Errorf("ssh after LinkUp: %v: %s", err, out)
		}
	})

	t.Run("KillAll empties the host", func(t *testing.T) {
		if err := f.KillAll(0); err != nil {
			t.Fatal(err)
		}
		if out, _ := exec.Command("ip", "netns", "pids", f.Hosts[0].Netns).Output(); len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("processes left in h01: %s", out)
		}
		out, err := f.HostCommand(ctx, 0, "cat", "/root/only-h01").CombinedOutput()
		if err != nil || string(out) != "secret\n" {
			t.Errorf("HostCommand after KillAll: %q, %v", out, err)
		}
		if err := f.StartSSHD(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if out, err := f.SSH(ctx, 0, "cat /root/only-h01").CombinedOutput(); err != nil || string(out) != "secret\n" {
			t.Errorf("ssh after restart: %q, %v", out, err)
		}
	})

	t.Run("inventory", func(t *testing.T) {
		p := t.TempDir() + "/hosts"
		if err := f.WriteInventory(p, InventoryOptions{}); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		want := "h02 ansible_host=" + f.Hosts[1].IP.String() + " ansible_user=root ansible_ssh_private_key_file=" + f.KeyFile() + "\n"
		if !strings.HasPrefix(string(b), "[fleet]\n") || !strings.Contains(string(b), want) {
			t.Errorf("inventory:\n%s\nwant line %q", b, want)
		}
	})

	t.Run("Close leaves nothing", func(t *testing.T) {
		var pids []int
		for _, h := range f.Hosts {
			pids = append(pids, h.anchor.cmd.Process.Pid, h.sshd.cmd.Process.Pid)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		names, _ := listNetns()
		for _, n := range names {
			if strings.Contains(n, f.id) {
				t.Errorf("namespace %s left after Close", n)
			}
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process %d left after Close: %v", pid, err)
			}
		}
		if _, err := os.Stat(f.Dir()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dir %s left after Close: %v", f.Dir(), err)
		}
	})
}
