package sshserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// KeyPair is an ed25519 key for tests and the demo fleet: a host key or a
// user's login key.
type KeyPair struct {
	Signer  ssh.Signer
	private ed25519.PrivateKey
}

// NewKeyPair generates a fresh ed25519 key pair.
func NewKeyPair() (*KeyPair, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("ed25519 signer: %w", err)
	}
	return &KeyPair{Signer: s, private: priv}, nil
}

// Public is the public half.
func (k *KeyPair) Public() ssh.PublicKey { return k.Signer.PublicKey() }

// AuthorizedKey is the public key as an authorized_keys line (no newline).
func (k *KeyPair) AuthorizedKey() string {
	b := ssh.MarshalAuthorizedKey(k.Public())
	return string(b[:len(b)-1])
}

// PrivateKeyPEM is the private key in OpenSSH's format, unencrypted.
func (k *KeyPair) PrivateKeyPEM() ([]byte, error) {
	blk, err := ssh.MarshalPrivateKey(k.private, "murderctl")
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(blk), nil
}

// WritePrivateKey writes the private key to path with mode 0600, creating
// the parent directory (0700) when missing.
func (k *KeyPair) WritePrivateKey(path string) error {
	b, err := k.PrivateKeyPEM()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write private key %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write private key %s: %w", path, err)
	}
	return nil
}

// KnownHostsLine is the known_hosts line for a server at addr (host:port;
// ports other than 22 are written as [host]:port) holding key.
func KnownHostsLine(addr string, key ssh.PublicKey) string {
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)
}

// AppendKnownHost appends KnownHostsLine(addr, key) to the known_hosts file
// at path, creating it (0600) when missing.
func AppendKnownHost(path, addr string, key ssh.PublicKey) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", path, err)
	}
	_, err = fmt.Fprintln(f, KnownHostsLine(addr, key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", path, err)
	}
	return nil
}
