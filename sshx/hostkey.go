package sshx

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// KnownKey is a known_hosts entry that applies to a host.
type KnownKey struct {
	Key      ssh.PublicKey
	Filename string
	Line     int
}

// HostKeyError is a failed host key verification. Known is empty when the
// host is unknown; otherwise it lists the known_hosts entries that hold a
// different key (OpenSSH's "Offending key in file:line").
type HostKeyError struct {
	Host    string        // the host as looked up (known_hosts form: host or [host]:port)
	Key     ssh.PublicKey // the key the server offered
	Files   []string      // the known_hosts files consulted
	Known   []KnownKey    // entries for Host with a different key
	Revoked bool          // Key is marked @revoked
}

// Changed reports whether known_hosts holds a different key for the host.
func (e *HostKeyError) Changed() bool { return len(e.Known) > 0 && !e.Revoked }

func (e *HostKeyError) Error() string {
	kind := keyKind(e.Key)
	fp := ssh.FingerprintSHA256(e.Key)
	switch {
	case e.Revoked:
		return fmt.Sprintf("host key verification failed for %s: its %s key %s is marked as revoked", e.Host, kind, fp)
	case len(e.Known) > 0:
		var off []string
		for _, k := range e.Known {
			off = append(off, fmt.Sprintf("%s key in %s:%d", keyKind(k.Key), k.Filename, k.Line))
		}
		return fmt.Sprintf("WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED for %s: it offered %s key %s; Offending %s (someone could be eavesdropping; remove the line if the change is expected)",
			e.Host, kind, fp, strings.Join(off, ", "))
	default:
		where := "no known_hosts file"
		if len(e.Files) > 0 {
			where = strings.Join(e.Files, ", ")
		}
		return fmt.Sprintf("host key verification failed for %s: no key for it in %s (it offered %s key %s; add it with ssh-keyscan, or turn host key checking off)",
			e.Host, where, kind, fp)
	}
}

// Is makes errors.Is(err, ErrHostKeyUnknown/Changed/Revoked) work.
func (e *HostKeyError) Is(target error) bool {
	switch target {
	case ErrHostKeyRevoked:
		return e.Revoked
	case ErrHostKeyChanged:
		return e.Changed()
	case ErrHostKeyUnknown:
		return len(e.Known) == 0 && !e.Revoked
	}
	return false
}

// keyKind names a key type as OpenSSH does in its messages.
func keyKind(k ssh.PublicKey) string {
	if k == nil {
		return "unknown"
	}
	t := k.Type()
	switch {
	case strings.Contains(t, "ed25519"):
		return "ED25519"
	case strings.Contains(t, "ecdsa"):
		return "ECDSA"
	case strings.Contains(t, "rsa"):
		return "RSA"
	}
	return strings.ToUpper(t)
}

// hostKeyCheck is the host key policy for one Dial: the callback and, when
// known_hosts holds keys for the host, the algorithms to ask for, so that a
// server with several host keys shows us one we can check.
type hostKeyCheck struct {
	callback   ssh.HostKeyCallback
	algorithms []string
}

func newHostKeyCheck(c Config) (hostKeyCheck, error) {
	if c.InsecureIgnoreHostKey {
		return hostKeyCheck{callback: ssh.InsecureIgnoreHostKey()}, nil
	}
	var files []string
	for _, f := range c.KnownHostsFiles {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return hostKeyCheck{}, fmt.Errorf("known_hosts %s: %w", f, err)
		}
	}
	host := knownhosts.Normalize(c.Addr())
	db, err := knownhosts.New(files...)
	if err != nil {
		return hostKeyCheck{}, fmt.Errorf("read known_hosts: %w", err)
	}
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := db(hostname, remote, key)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &re):
			return &HostKeyError{Host: host, Key: key, Files: files, Revoked: true,
				Known: []KnownKey{{re.Revoked.Key, re.Revoked.Filename, re.Revoked.Line}}}
		case errors.As(err, &ke):
			hk := &HostKeyError{Host: host, Key: key, Files: files}
			for _, w := range ke.Want {
				hk.Known = append(hk.Known, KnownKey{w.Key, w.Filename, w.Line})
			}
			return hk
		}
		return err
	}
	return hostKeyCheck{callback: cb, algorithms: knownAlgorithms(db, c.Addr())}, nil
}

var (
	probeOnce sync.Once
	probeKey  ssh.PublicKey
)

// knownAlgorithms asks the known_hosts database which key types it holds for
// addr, by checking a throwaway key that cannot match.
func knownAlgorithms(db ssh.HostKeyCallback, addr string) []string {
	probeOnce.Do(func() {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err == nil {
			probeKey, _ = ssh.NewPublicKey(pub)
		}
	})
	if probeKey == nil {
		return nil
	}
	var ke *knownhosts.KeyError
	remote := &net.TCPAddr{IP: net.IPv4zero}
	if err := db(addr, remote, probeKey); !errors.As(err, &ke) {
		return nil
	}
	seen := map[string]bool{}
	var algos []string
	add := func(a ...string) {
		for _, s := range a {
			if !seen[s] {
				seen[s] = true
				algos = append(algos, s)
			}
		}
	}
	for _, w := range ke.Want {
		switch t := w.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos
}
