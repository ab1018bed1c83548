// Package demo runs murderctl's main job on a fleet that needs no root and
// no packages: 127.0.0.x loopback hosts, each with its own directory and an
// in-process SSH and SFTP server, and a real peer process per host.
package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/murderctl/murderctl/sshx/sshserver"
)

// Options size the demo fleet.
type Options struct {
	Hosts  int
	Size   int64
	Dir    string // work directory; default a new private temp dir
	Keep   bool   // keep the work directory afterwards
	Logger *slog.Logger
}

// Fleet is a running loopback fleet.
type Fleet struct {
	Dir       string
	Inventory string
	File      string
	HostDirs  []string
	servers   []*sshserver.Server
	removeDir bool
}

// Start generates the file, the keys and the inventory, and starts one SSH
// server per host on 127.0.0.(11+i).
func Start(ctx context.Context, o Options) (f *Fleet, err error) {
	if o.Hosts < 1 || o.Hosts > 200 {
		return nil, fmt.Errorf("demo hosts must be between 1 and 200, got %d", o.Hosts)
	}
	f = &Fleet{Dir: o.Dir}
	if f.Dir == "" {
		if f.Dir, err = os.MkdirTemp("", "murderctl-demo-"); err != nil {
			return nil, err
		}
		f.removeDir = !o.Keep
	}
	fleet := f // the named result is nil by the time an error return runs this
	defer func() {
		if err != nil {
			fleet.Close()
		}
	}()
	f.File = filepath.Join(f.Dir, "demo-payload.bin")
	if err := writeRandom(f.File, o.Size); err != nil {
		return nil, err
	}
	keyPath := filepath.Join(f.Dir, "id_ed25519")
	userKey, err := sshserver.NewKeyPair()
	if err != nil {
		return nil, err
	}
	if err := userKey.WritePrivateKey(keyPath); err != nil {
		return nil, err
	}
	hostKey, err := sshserver.NewKeyPair()
	if err != nil {
		return nil, err
	}
	login := "root"
	if u, err := user.Current(); err == nil {
		login = u.Username
	}
	knownHosts := filepath.Join(f.Dir, "known_hosts")
	var inv, kh strings.Builder
	inv.WriteString("[demo]\n")
	for i := range o.Hosts {
		ip := fmt.Sprintf("127.0.0.%d", 11+i)
		home := filepath.Join(f.Dir, "hosts", fmt.Sprintf("host%02d", i+1))
		if err := os.MkdirAll(home, 0o700); err != nil {
			return nil, err
		}
		srv, err := sshserver.Start(ctx, sshserver.Options{
			Addr: net.JoinHostPort(ip, "0"), HostKey: hostKey.Signer,
			AuthorizedKeys: []ssh.PublicKey{userKey.Public()}, Home: home, Logger: o.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("start demo host %s: %w", ip, err)
		}
		f.servers = append(f.servers, srv)
		f.HostDirs = append(f.HostDirs, home)
		port := strconv.Itoa(srv.Addr().(*net.TCPAddr).Port)
		fmt.Fprintf(&inv, "host%02d ansible_host=%s ansible_port=%s\n", i+1, ip, port)
		kh.WriteString(sshserver.KnownHostsLine(net.JoinHostPort(ip, port), hostKey.Public()) + "\n")
	}
	fmt.Fprintf(&inv, "\n[demo:vars]\nansible_user=%s\nansible_ssh_private_key_file=%s\nansible_ssh_common_args='-o UserKnownHostsFile=%s'\n",
		login, keyPath, knownHosts)
	if err := os.WriteFile(knownHosts, []byte(kh.String()), 0o600); err != nil {
		return nil, err
	}
	f.Inventory = filepath.Join(f.Dir, "hosts.ini")
	if err := os.WriteFile(f.Inventory, []byte(inv.String()), 0o600); err != nil {
		return nil, err
	}
	return f, nil
}

// Close stops every server (killing what they run) and removes the work
// directory unless it was kept.
func (f *Fleet) Close() error {
	var errs []error
	for _, s := range f.servers {
		errs = append(errs, s.Close())
	}
	if f.removeDir {
		errs = append(errs, os.RemoveAll(f.Dir))
	}
	return errors.Join(errs...)
}

func writeRandom(path string, size int64) error {
	if size <= 0 {
		return fmt.Errorf("demo file size must be positive, got %d", size)
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(out, rand.Reader, size); err != nil {
		out.Close()
		return fmt.Errorf("generate demo file: %w", err)
	}
	return out.Close()
}
