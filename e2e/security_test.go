package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/murderctl/murderctl/swarm"
	"github.com/murderctl/murderctl/testfleet"
)

// TestSecurity is issue 4's security list, checked on live hosts during a
// deploy: nothing secret in any argv, the peer started as exactly
// [path, "peer"] from a binary whose name is its SHA-256, private files,
// a tracker that refuses announces without the deploy's token, peers that
// refuse strangers; and a tampered cached binary is never run.
func TestSecurity(t *testing.T) {
	needRoot(t)
	const hosts, size = 3, 32 << 20
	f := testfleet.Start(t, testfleet.Options{N: hosts, RateMbit: 20, Name: "sec"})
	inv := filepath.Join(t.TempDir(), "hosts.ini")
	if err := f.WriteInventory(inv, testfleet.InventoryOptions{}); err != nil {
		t.Fatal(err)
	}
	src, sum := randomFile(t, "sec.bin", size)
	// An explicit piece size, so the test can build the same torrent and
	// know its info hash (the .torrent reaches the peers on their stdin).
	const pieceSize = 1 << 20
	bg := startMurderctl(t, f, 3*time.Minute, "deploy", "-i", inv, src, "--dest", "/srv/", "--json", "--timeout", "150s",
		"--piece-size", strconv.Itoa(pieceSize))
	if !waitFor(60*time.Second, func() bool {
		for i := range f.Hosts {
			if len(peerProcs(t, f, i)) != 1 {
				return false
			}
			if parts, _ := filepath.Glob(f.Hosts[i].Path("/srv/.sec.bin.murderctl-*.part")); len(parts) != 1 {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("peers never all ran\nstderr: %s", bg.stderr.String())
	}

	t.Run("argv and files", func(t *testing.T) {
		peerRE := regexp.MustCompile(`^/root/\.cache/murderctl/peer-([0-9a-f]{64})$`)
		for i, h := range f.Hosts {
			for _, p := range hostProcs(t, f, i) {
				line := strings.Join(p.Argv, " ")
				for _, bad := range []string{"announce", "http://", "token", "BEGIN OPENSSH", "origin/"} {
					if strings.Contains(line, bad) {
						t.Errorf("%s: pid %d argv holds %q: %q", h.Name, p.Pid, bad, p.Argv)
					}
				}
			}
			peers := peerProcs(t, f, i)
			if len(peers) != 1 {
				t.Fatalf("%s: %d peers running, want 1", h.Name, len(peers))
			}
			argv := peers[0].Argv
			m := peerRE.FindStringSubmatch(argv[0])
			if len(argv) != 2 || m == nil || argv[1] != "peer" {
				t.Errorf("%s: peer argv %q, want [/root/.cache/murderctl/peer-<sha256> peer]", h.Name, argv)
				continue
			}
			if got := fileSHA256(t, h.Path(argv[0])); got != m[1] {
				t.Errorf("%s: the running peer binary hashes to %s, not the %s its name promises", h.Name, got, m[1])
			}
			assertMode(t, h.Name, h.Path("/root/.cache/murderctl"), 0o700, 0o777)
			assertMode(t, h.Name, h.Path(argv[0]), 0o700, 0o077)
			torrents, _ := filepath.Glob(h.Path("/root/.cache/murderctl/*.torrent"))
			for _, p := range torrents {
				assertMode(t, h.Name, p, 0o600, 0o077)
			}
			parts, _ := filepath.Glob(h.Path("/srv/.sec.bin.murderctl-*.part"))
			for _, p := range parts {
				assertMode(t, h.Name, p, 0o600, 0o777)
			}
			entries, _ := os.ReadDir(h.Path("/root/.cache/murderctl"))
			for _, e := range entries {
				// The binary, its archive, its verification stamp, this run's torrent.
				n := e.Name()
				if !cacheRE.MatchString(n) {
					t.Errorf("%s: unexpected file in the cache: %s", h.Name, n)
				}
			}
		}
	})

	t.Run("tracker refuses announces without the token", func(t *testing.T) {
		port := controlListenPort(t, f)
		base := fmt.Sprintf("http://%s/", net.JoinHostPort(f.ControlIP.String(), strconv.Itoa(port)))
		q := "?info_hash=%01%02%03%04%05%06%07%08%09%10%11%12%13%14%15%16%17%18%19%20&peer_id=-XX0001-abcdefghijkl&port=6881&uploaded=0&downloaded=0&left=0&compact=1"
		cases := []struct {
			path string
			want []string
		}{
			{"announce" + q, []string{"403", "404"}},
			{"0123456789abcdef0123456789abcdef/announce" + q, []string{"403"}},
			{"scrape", []string{"403", "404"}},
			{"origin/next", []string{"403", "404"}},
		}
		for _, c := range cases {
			// From a fleet host: a member without the token is a stranger too.
			code := strings.TrimSpace(hostSh(t, f, 0, `curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1"`, base+c.path))
			ok := false
			for _, w := range c.want {
				ok = ok || code == w
			}
			if !ok {
				t.Errorf("GET /%s without the token: HTTP %s, want %v", c.path, code, c.want)
			}
		}
	})

	t.Run("peers refuse strangers", func(t *testing.T) {
		// A second address on the control node, added after the deploy
		// built its allowlist: a stranger on the fleet's own network.
		ip4 := f.ControlIP.As4()
		ip4[3] = 250
		stranger := netip.AddrFrom4(ip4)
		ns := f.ControlNetns()
		if out, err := exec.Command("ip", "-n", ns, "addr", "add", stranger.String()+"/24", "dev", "eth0").CombinedOutput(); err != nil {
			t.Fatalf("add stranger address: %v: %s", err, out)
		}
		defer exec.Command("ip", "-n", ns, "addr", "del", stranger.String()+"/24", "dev", "eth0").Run()
		h := f.Hosts[0]
		peers := peerProcs(t, f, 0)
		if len(peers) != 1 {
			t.Skipf("%s's peer already exited", h.Name)
		}
		ports := listenPorts(t, f, 0, peers[0].Pid)
		if len(ports) == 0 {
			t.Fatalf("%s: the peer listens on no TCP port", h.Name)
		}
		infoHash := infoHashOf(t, src, pieceSize)
		for _, port := range ports {
			addr := net.JoinHostPort(h.IP.String(), strconv.Itoa(port))
			friend := handshake(t, ns, f.ControlIP, addr, infoHash)
			foe := handshake(t, ns, stranger, addr, infoHash)
			t.Logf("%s port %d: %d bytes back to the control node, %d to the stranger", h.Name, port, friend, foe)
			if friend == 0 {
				t.Errorf("port %d: no answer to an allowed address: the check below would prove nothing", port)
			}
			if foe != 0 {
				t.Errorf("port %d: answered %d bytes to %s, which is not in the fleet", port, foe, stranger)
			}
		}
	})

	r := bg.wait(t)
	if r.Code != 0 {
		t.Fatalf("deploy exit %d, want 0\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	assertFile(t, f, "/srv/sec.bin", sum, allBut(hosts, -1)...)
	assertNoLeftovers(t, f)

	t.Run("tampered cached binary is never run", func(t *testing.T) {
		h := f.Hosts[2]
		bins, _ := filepath.Glob(h.Path("/root/.cache/murderctl/peer-????????????????????????????????????????????????????????????????"))
		if len(bins) != 1 {
			t.Fatalf("%s: cached binaries %v, want one", h.Name, bins)
		}
		// Overwrite in place: same inode, same size, only the content (and
		// mtime) differ.
		bf, err := os.OpenFile(bins[0], os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = bf.WriteAt([]byte("#!/bin/sh\ntouch /tmp/tampered-ran\nexit 0\n"), 0)
		if cerr := bf.Close(); err != nil || cerr != nil {
			t.Fatal(err, cerr)
		}
		small, smallSum := randomFile(t, "small.bin", 1<<20)
		r := runMurderctl(t, f, 2*time.Minute, "deploy", "-i", inv, "-l", h.Name, small, "--dest", "/srv/", "--json")
		res := resultFor(t, r.Report, h.Name)
		if r.Code != 2 || res.Status != "failed" || !strings.Contains(res.Reason, "SHA-256") {
			t.Errorf("exit %d, %s %q; want exit 2, failed, SHA-256 check", r.Code, res.Status, res.Reason)
		}
		if _, err := os.Stat(h.Path("/tmp/tampered-ran")); err == nil {
			t.Errorf("%s: the tampered binary ran", h.Name)
		}
		if _, err := os.Stat(bins[0]); err == nil {
			t.Errorf("%s: the tampered binary is still cached", h.Name)
		}
		again := runMurderctl(t, f, 2*time.Minute, "deploy", "-i", inv, "-l", h.Name, small, "--dest", "/srv/", "--json")
		if again.Code != 0 {
			t.Errorf("next deploy: exit %d, want 0 (binary pushed again)\nstdout: %s", again.Code, again.Stdout)
		}
		assertFile(t, f, "/srv/small.bin", smallSum, 2)
		if got := fileSHA256(t, bins[0]); got != strings.TrimPrefix(filepath.Base(bins[0]), "peer-") {
			t.Errorf("%s: re-pushed binary hashes to %s", h.Name, got)
		}
		assertNoLeftovers(t, f)
	})
}

// assertMode checks that path's permission bits equal want (masked by mask:
// only the bits in mask must match want&mask).
func assertMode(t *testing.T, host, path string, want, mask os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", host, err)
		return
	}
	if st.Mode().Perm()&mask != want&mask {
		t.Errorf("%s: %s has mode %v, want %v", host, filepath.Base(path), st.Mode().Perm(), want)
	}
}

var cacheRE = regexp.MustCompile(`^(peer-[0-9a-f]{64}(\.ok|\.gz)?|[0-9a-f]{40}\.torrent)$`)

var ssPortRE = regexp.MustCompile(`:(\d+)\s+\S+\s+users:\(\("[^"]*",pid=(\d+),`)

// listenPorts lists the TCP ports process pid listens on inside host i.
func listenPorts(t *testing.T, f *testfleet.Fleet, i, pid int) []int {
	t.Helper()
	var ports []int
	sc := bufio.NewScanner(strings.NewReader(hostSh(t, f, i, "ss -Htlnp")))
	for sc.Scan() {
		if m := ssPortRE.FindStringSubmatch(sc.Text()); m != nil && m[2] == strconv.Itoa(pid) {
			p, _ := strconv.Atoi(m[1])
			if !slices.Contains(ports, p) {
				ports = append(ports, p)
			}
		}
	}
	return ports
}

// controlListenPort finds the port murderctl's tracker and origin listen on.
func controlListenPort(t *testing.T, f *testfleet.Fleet) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", f.ControlNetns(), "ss", "-Htlnp").CombinedOutput()
	if err != nil {
		t.Fatalf("ss: %v: %s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, `"murderctl"`) {
			if m := ssPortRE.FindStringSubmatch(l); m != nil {
				p, _ := strconv.Atoi(m[1])
				return p
			}
		}
	}
	t.Fatalf("murderctl listens on nothing in the control namespace:\n%s", out)
	return 0
}

// infoHashOf builds the torrent murderctl builds for src with that piece
// size and returns its info hash.
func infoHashOf(t *testing.T, src string, pieceSize int64) []byte {
	t.Helper()
	built, err := swarm.Build(context.Background(), src, pieceSize)
	if err != nil {
		t.Fatalf("build the torrent of %s: %v", src, err)
	}
	ih := built.MetaInfo.HashInfoBytes()
	return ih[:]
}

// handshake connects from local (inside network namespace ns) to addr,
// sends a BitTorrent handshake for infoHash, and returns how many bytes
// came back within 3 seconds.
func handshake(t *testing.T, ns string, local netip.Addr, addr string, infoHash []byte) int {
	t.Helper()
	c, err := dialInNetns(ns, local, addr)
	if err != nil {
		t.Logf("dial %s from %s: %v", addr, local, err)
		return 0
	}
	defer c.Close()
	id := sha256.Sum256([]byte("stranger"))
	msg := append([]byte("\x13BitTorrent protocol"), make([]byte, 8)...)
	msg = append(append(msg, infoHash...), id[:20]...)
	c.SetDeadline(time.Now().Add(3 * time.Second))
	c.Write(msg)
	n, _ := io.ReadFull(c, make([]byte, 68))
	return n
}

// dialInNetns dials addr from local inside network namespace ns. The
// dialling goroutine's thread switches namespace and is never unlocked, so
// Go discards it instead of reusing it elsewhere.
func dialInNetns(ns string, local netip.Addr, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, err}
			return
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: local.AsSlice()}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
