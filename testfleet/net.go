package testfleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const netnsDir = "/run/netns"

func (f *Fleet) nsName(role string) string { return nsPrefix + f.id + "-" + role }

// run executes a command and returns its error with the combined output.
func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// addNetns creates a namespace with loopback up and IPv6 off (no router
// solicitations or MLD reports muddying the byte counters).
func addNetns(ctx context.Context, ns string) error {
	if err := run(ctx, "ip", "netns", "add", ns); err != nil {
		return fmt.Errorf("testfleet: create namespace: %w", err)
	}
	if err := run(ctx, "ip", "-n", ns, "link", "set", "lo", "up"); err != nil {
		return fmt.Errorf("testfleet: loopback up in %s: %w", ns, err)
	}
	return inNetns(ns, func() error {
		for _, k := range []string{"all", "default"} {
			p := "/proc/sys/net/ipv6/conf/" + k + "/disable_ipv6"
			if err := os.WriteFile(p, []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("testfleet: %s in %s: %w", p, ns, err)
			}
		}
		return nil
	})
}

func (f *Fleet) buildSwitch(ctx context.Context) error {
	sw := f.nsName("sw")
	if err := addNetns(ctx, sw); err != nil {
		return err
	}
	if err := run(ctx, "ip", "-n", sw, "link", "add", "br0", "type", "bridge"); err != nil {
		return fmt.Errorf("testfleet: create bridge: %w", err)
	}
	if err := run(ctx, "ip", "-n", sw, "link", "set", "br0", "up"); err != nil {
		return fmt.Errorf("testfleet: bridge up: %w", err)
	}
	ctl := f.ControlNetns()
	if err := addNetns(ctx, ctl); err != nil {
		return err
	}
	return f.plug(ctx, "ctl", ctl, f.ControlIP.String(), f.opts.ControlRateMbit)
}

// plug connects namespace ns to the bridge: veth `port` in the switch,
// eth0 with address ip in ns, and a rate limit on both ends.
func (f *Fleet) plug(ctx context.Context, port, ns, ip string, mbit float64) error {
	sw := f.nsName("sw")
	steps := [][]string{
		{"ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"ip", "-n", sw, "link", "set", port, "master", "br0", "up"},
		{"ip", "-n", ns, "addr", "add", ip + "/" + strconv.Itoa(f.prefixLen), "dev", "eth0"},
		{"ip", "-n", ns, "link", "set", "eth0", "up"},
	}
	for _, s := range steps {
		if err := run(ctx, s[0], s[1:]...); err != nil {
			return fmt.Errorf("testfleet: link %s: %w", port, err)
		}
	}
	return f.setRate(ctx, port, ns, mbit)
}

// setRate installs (mbit > 0) or removes a tbf on the egress of both ends.
func (f *Fleet) setRate(ctx context.Context, port, ns string, mbit float64) error {
	ends := [][2]string{{f.nsName("sw"), port}, {ns, "eth0"}}
	for _, e := range ends {
		if mbit <= 0 {
			err := run(ctx, "tc", "-n", e[0], "qdisc", "del", "dev", e[1], "root")
			if err != nil && !strings.Contains(err.Error(), "No such file") && !strings.Contains(err.Error(), "Cannot delete qdisc with handle of zero") {
				return fmt.Errorf("testfleet: remove rate on %s: %w", e[1], err)
			}
			continue
		}
		args := append([]string{"-n", e[0], "qdisc", "replace", "dev", e[1], "root"}, tbfArgs(mbit)...)
		if err := run(ctx, "tc", args...); err != nil {
			return fmt.Errorf("testfleet: rate limit %s: %w", e[1], err)
		}
	}
	return nil
}

// tbfArgs: a burst of at least 64 KiB (one GSO packet) or 20 ms of traffic,
// and a queue of 100 ms on top, which keeps TCP at the configured rate.
func tbfArgs(mbit float64) []string {
	bps := mbit * 1e6
	burst := int64(math.Max(64<<10, bps/8*0.020))
	limit := burst + int64(bps/8*0.100)
	return []string{"tbf", "rate", strconv.FormatInt(int64(bps), 10) + "bit",
		"burst", strconv.FormatInt(burst, 10), "limit", strconv.FormatInt(limit, 10)}
}

// SetRate changes host i's link rate, both directions; mbit <= 0 removes
// the limit.
func (f *Fleet) SetRate(i int, mbit float64) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	return f.setRate(context.Background(), h.Name, h.Netns, mbit)
}

// SetControlRate changes the control node's link rate; mbit <= 0 removes it.
func (f *Fleet) SetControlRate(mbit float64) error {
	return f.setRate(context.Background(), "ctl", f.ControlNetns(), mbit)
}

// LinkDown takes host i's switch port down: the host keeps running but no
// packet reaches it or leaves it (connections stall, they are not reset).
func (f *Fleet) LinkDown(i int) error { return f.linkSet(i, "down") }

// LinkUp undoes LinkDown.
func (f *Fleet) LinkUp(i int) error { return f.linkSet(i, "up") }

func (f *Fleet) linkSet(i int, state string) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	if err := run(context.Background(), "ip", "-n", f.nsName("sw"), "link", "set", h.Name, state); err != nil {
		return fmt.Errorf("testfleet: link %s %s: %w", h.Name, state, err)
	}
	return nil
}

// ControlTxBytes is how many bytes the control node has sent on its link.
func (f *Fleet) ControlTxBytes() (int64, error) { return linkBytes(f.ControlNetns(), "tx") }

// ControlRxBytes is how many bytes the control node has received.
func (f *Fleet) ControlRxBytes() (int64, error) { return linkBytes(f.ControlNetns(), "rx") }

// HostTxBytes is how many bytes host i has sent on its link.
func (f *Fleet) HostTxBytes(i int) (int64, error) {
	h, err := f.host(i)
	if err != nil {
		return 0, err
	}
	return linkBytes(h.Netns, "tx")
}

// HostRxBytes is how many bytes host i has received on its link.
func (f *Fleet) HostRxBytes(i int) (int64, error) {
	h, err := f.host(i)
	if err != nil {
		return 0, err
	}
	return linkBytes(h.Netns, "rx")
}

func linkBytes(ns, dir string) (int64, error) {
	out, err := exec.Command("ip", "-n", ns, "-s", "-j", "link", "show", "dev", "eth0").Output()
	if err != nil {
		return 0, fmt.Errorf("testfleet: counters of %s: %w", ns, err)
	}
	var links []struct {
		Stats map[string]struct {
			Bytes int64 `json:"bytes"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		return 0, fmt.Errorf("testfleet: parse counters of %s: %v: %q", ns, err, out)
	}
	s, ok := links[0].Stats[dir]
	if !ok {
		return 0, fmt.Errorf("testfleet: counters of %s: no %s stats", ns, dir)
	}
	return s.Bytes, nil
}

// inNetns runs fn on an OS thread that has joined network namespace ns,
// then moves the thread back to where it was. If it cannot, the thread stays
// locked and the Go runtime discards it with the goroutine. Sockets created
// by fn stay in ns for their whole life.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("testfleet: open own namespace: %w", err)
			return // thread stays locked and is discarded
		}
		defer unix.Close(orig)
		fd, err := unix.Open(netnsDir+"/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("testfleet: open namespace %s: %w", ns, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("testfleet: enter namespace %s: %w", ns, err)
			return
		}
		// Belt and braces: never let fn's traffic leave from the machine's
		// own namespace, whose default route leads off the machine.
		if !sameNetns("/proc/thread-self/ns/net", netnsDir+"/"+ns) {
			errc <- fmt.Errorf("testfleet: thread is not in namespace %s after setns", ns)
			return // thread stays locked and is discarded
		}
		err = fn()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// sameNetns reports whether two namespace files name the same namespace.
func sameNetns(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// ControlDial connects from the control node's namespace, so in-process
// code (an x/crypto/ssh client, say) reaches the hosts over the control
// link. addr must be a literal IP:port.
func (f *Fleet) ControlDial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(f.ControlNetns(), func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// ControlListen listens in the control node's namespace (for example an
// in-process tracker or seeder on ControlIP). Accepted connections belong to
// that namespace too; outgoing dials must use ControlDial.
func (f *Fleet) ControlListen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := inNetns(f.ControlNetns(), func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}
