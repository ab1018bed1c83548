package orchestrator

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/murderctl/murderctl/sshx"
	"github.com/murderctl/murderctl/sshx/sshserver"
)

// testTmp holds what TestMain creates: the peer binary build and the gzip
// cache (XDG_CACHE_HOME), so that tests write nothing to the user's cache.
var testTmp string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "murderctl-orchestrator-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testTmp = dir
	// The go build in peerBinDir keeps using the user's build cache.
	if gocache, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
		buildCache = strings.TrimSpace(string(gocache))
	}
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	os.Unsetenv("SSH_AUTH_SOCK")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildCache string
	peerOnce   sync.Once
	peerDir    string
	peerErr    error
)

// peerBinDir builds the static murderctl-peer once, as `make build` does,
// and returns the directory holding murderctl-peer-<os>-<arch>.
func peerBinDir(t *testing.T) string {
	t.Helper()
	peerOnce.Do(func() {
		dir := filepath.Join(testTmp, "bin")
		name := "murderctl-peer-" + runtime.GOOS + "-" + runtime.GOARCH
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, name), "../cmd/murderctl-peer")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if buildCache != "" {
			cmd.Env = append(cmd.Env, "GOCACHE="+buildCache)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			peerErr = fmt.Errorf("go build murderctl-peer: %v\n%s", err, out)
			return
		}
		peerDir = dir
	})
	if peerErr != nil {
		t.Fatal(peerErr)
	}
	return peerDir
}

// testHost is one in-process SSH server playing a host.
type testHost struct {
	srv    *sshserver.Server
	home   string
	target Target
	execs  atomic.Int64 // commands the server has run
}

// execCounter counts the commands an sshserver runs, from its log.
type execCounter struct{ n *atomic.Int64 }

func (c execCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c execCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "sshserver exec" {
		c.n.Add(1)
	}
	return nil
}
func (c execCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c execCounter) WithGroup(string) slog.Handler      { return c }

// startHosts starts n SSH servers on 127.0.0.(first+i), each with its own
// home directory, and returns them with targets that check host keys.
func startHosts(t *testing.T, n, first int) []*testHost {
	t.Helper()
	dir := t.TempDir()
	hostKey, err := sshserver.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	userKey, err := sshserver.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := userKey.WritePrivateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(dir, "known_hosts")
	login := "root"
	if u, err := user.Current(); err == nil {
		login = u.Username
	}
	var hosts []*testHost
	for i := range n {
		ip := fmt.Sprintf("127.0.0.%d", first+i)
		home := filepath.Join(dir, fmt.Sprintf("host%02d", i+1))
		if err := os.Mkdir(home, 0o700); err != nil {
			t.Fatal(err)
		}
		th := &testHost{home: home}
		srv, err := sshserver.Start(context.Background(), sshserver.Options{
			Addr: net.JoinHostPort(ip, "0"), HostKey: hostKey.Signer,
			AuthorizedKeys: []ssh.PublicKey{userKey.Public()}, Home: home,
			Logger: slog.New(execCounter{&th.execs}),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		if err := sshserver.AppendKnownHost(known, srv.Addr().String(), hostKey.Public()); err != nil {
			t.Fatal(err)
		}
		port := srv.Addr().(*net.TCPAddr).Port
		th.srv, th.target = srv, Target{
			Name: fmt.Sprintf("host%02d", i+1),
			SSH: sshx.Config{Host: ip, Port: port, User: login, KeyFiles: []string{keyFile},
				KnownHostsFiles: []string{known}, ConnectTimeout: 5 * time.Second},
		}
		hosts = append(hosts, th)
	}
	return hosts
}

// deadTarget is a target whose port nothing listens on.
func deadTarget(t *testing.T, name, ip string, like Target) Target {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	like.Name, like.SSH.Host, like.SSH.Port = name, ip, port
	return like
}

func targetsOf(hosts []*testHost) []Target {
	var ts []Target
	for _, h := range hosts {
		ts = append(ts, h.target)
	}
	return ts
}

// cacheEntry is what murderctl's cache directory on a host may hold after
// a deploy: content-addressed peer binaries and per-deploy torrents.
var cacheEntry = regexp.MustCompile(`^(peer-[0-9a-f]{64}(\.ok|\.gz)?|[0-9a-f]{40}\.torrent)$`)

// leftovers lists temporary files under dir that a finished or aborted
// deploy must not leave: download parts, upload temp dirs, and anything in
// the cache directory but binaries and torrents (half-unpacked or
// half-fetched binaries, pushed archives).
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		inCache := filepath.Base(filepath.Dir(p)) == "murderctl" && strings.HasSuffix(filepath.Dir(p), remoteDir)
		if strings.HasSuffix(name, ".part") || strings.HasPrefix(name, ".murderctl-upload-") ||
			(inCache && !cacheEntry.MatchString(name)) {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// processesUnder lists processes whose executable lies under dir.
func processesUnder(dir string) []string {
	ents, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err == nil && strings.HasPrefix(exe, dir+"/") {
			found = append(found, fmt.Sprintf("%d %s", pid, exe))
		}
	}
	return found
}

// noProcessesUnder waits a little for processes under dir to go away.
func noProcessesUnder(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ps := processesUnder(dir)
		if len(ps) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes still running from %s: %v", dir, ps)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
