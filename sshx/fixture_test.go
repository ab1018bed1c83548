package sshx

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/murderctl/murderctl/sshx/sshserver"
	"golang.org/x/crypto/ssh"
)

// fixture is one in-process host and a Config that reaches it with host key
// checking on.
type fixture struct {
	srv     *sshserver.Server
	home    string
	known   string
	hostKey *sshserver.KeyPair
	userKey *sshserver.KeyPair
	cfg     Config
}

func newFixture(t *testing.T, mod ...func(*sshserver.Options)) *fixture {
	t.Helper()
	t.Setenv("SSH_AUTH_SOCK", "")
	dir := t.TempDir()
	f := &fixture{home: filepath.Join(dir, "home"), known: filepath.Join(dir, "known_hosts")}
	if err := os.Mkdir(f.home, 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.hostKey, err = sshserver.NewKeyPair(); err != nil {
		t.Fatal(err)
	}
	if f.userKey, err = sshserver.NewKeyPair(); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := f.userKey.WritePrivateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	opts := sshserver.Options{
		Addr:           "127.0.0.1:0",
		HostKey:        f.hostKey.Signer,
		AuthorizedKeys: []ssh.PublicKey{f.userKey.Public()},
		User:           "tester",
		Home:           f.home,
	}
	for _, m := range mod {
		m(&opts)
	}
	f.srv, err = sshserver.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.Close() })
	if err := sshserver.AppendKnownHost(f.known, f.srv.Addr().String(), f.hostKey.Public()); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(f.srv.Addr().String())
	p, _ := strconv.Atoi(port)
	f.cfg = Config{Host: host, Port: p, User: "tester", KeyFiles: []string{keyFile}, KnownHostsFiles: []string{f.known}}
	return f
}

// dial connects with f.cfg and closes the client at the end of the test.
func (f *fixture) dial(t *testing.T) *Client {
	t.Helper()
	c, err := Dial(context.Background(), f.cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
