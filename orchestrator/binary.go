package orchestrator

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// PeerBinary is a murderctl binary that can run `murderctl peer` on hosts of
// one OS and architecture.
type PeerBinary struct {
	OS, Arch string
	Path     string
	SHA256   string
	Size     int64

	once sync.Once
	gz   []byte
	err  error
}

// Gzipped returns the binary gzip-compressed: the push to a new host costs
// the compressed size on the wire. The result is computed once and kept in
// the user's cache directory, keyed by the binary's SHA-256.
func (b *PeerBinary) Gzipped() ([]byte, error) {
	b.once.Do(func() { b.gz, b.err = b.compress() })
	return b.gz, b.err
}

func (b *PeerBinary) compress() ([]byte, error) {
	var cachePath string
	if dir, err := os.UserCacheDir(); err == nil {
		cachePath = filepath.Join(dir, "murderctl", "peer-"+b.SHA256+".gz")
		if gz, err := os.ReadFile(cachePath); err == nil && gunzipsTo(gz, b.SHA256) {
			return gz, nil
		}
	}
	f, err := os.Open(b.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if _, err := io.Copy(zw, f); err != nil {
		return nil, fmt.Errorf("compress %s: %w", b.Path, err)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if cachePath != "" {
		// Best effort: a failed cache write only costs time next run.
		_ = writeFileAtomic(cachePath, buf.Bytes())
	}
	return buf.Bytes(), nil
}

// gunzipsTo checks a cached archive against the binary's digest.
func gunzipsTo(gz []byte, sum string) bool {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return false
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == sum
}

// writeFileAtomic writes data to path through a private temporary file.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// BinarySet finds peer binaries per platform. For each platform it prefers
// the slim murderctl-peer-<os>-<arch>, then murderctl-<os>-<arch>, in Dirs;
// for its own platform also murderctl-peer beside the running executable,
// and last the running executable itself (it has a `peer` subcommand). Only
// statically linked binaries are pushed.
type BinarySet struct {
	// Dirs are searched; empty means the directory of the running executable.
	Dirs []string
	// AllowDynamic accepts a dynamically linked binary for our own platform
	// (the demo, whose hosts are this machine).
	AllowDynamic bool

	mu    sync.Mutex
	cache map[string]*PeerBinary
}

// ErrNoBinary means no usable peer binary exists for a host's platform.
var ErrNoBinary = errors.New("no peer binary")

// For returns the peer binary for goos/goarch.
func (s *BinarySet) For(goos, goarch string) (*PeerBinary, error) {
	key := goos + "/" + goarch
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.cache[key]; ok {
		return b, nil
	}
	b, err := s.find(goos, goarch)
	if err != nil {
		return nil, err
	}
	if s.cache == nil {
		s.cache = map[string]*PeerBinary{}
	}
	s.cache[key] = b
	return b, nil
}

func (s *BinarySet) find(goos, goarch string) (*PeerBinary, error) {
	self, selfErr := os.Executable()
	dirs := s.Dirs
	if len(dirs) == 0 && selfErr == nil {
		dirs = []string{filepath.Dir(self)}
	}
	native := goos == runtime.GOOS && goarch == runtime.GOARCH
	var names []string
	for _, base := range []string{"murderctl-peer", "murderctl"} {
		names = append(names, base+"-"+goos+"-"+goarch)
		if native {
			names = append(names, base)
		}
	}
	for _, d := range dirs {
		for _, name := range names {
			p := filepath.Join(d, name)
			if _, err := os.Stat(p); err == nil {
				return loadBinary(p, goos, goarch, s.AllowDynamic && native)
			}
		}
	}
	if native && selfErr == nil {
		return loadBinary(self, goos, goarch, s.AllowDynamic)
	}
	return nil, fmt.Errorf("%w for %s/%s: build one with `make cross` and put murderctl-peer-%s-%s beside murderctl (or pass --peer-binary-dir)",
		ErrNoBinary, goos, goarch, goos, goarch)
}

func loadBinary(path, goos, goarch string, allowDynamic bool) (*PeerBinary, error) {
	if !allowDynamic {
		if err := checkStatic(path); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open peer binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("hash peer binary %s: %w", path, err)
	}
	return &PeerBinary{OS: goos, Arch: goarch, Path: path, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// checkStatic refuses a dynamically linked ELF: it may not run on hosts
// with another libc.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %s is not an ELF executable: %v", ErrNoBinary, path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%w: %s is dynamically linked; build it with CGO_ENABLED=0 (make build)", ErrNoBinary, path)
		}
	}
	return nil
}

// unameArch maps the `uname -m` names we know to GOARCH.
var unameArch = map[string]string{
	"x86_64": "amd64", "amd64": "amd64",
	"aarch64": "arm64", "arm64": "arm64",
	"i386": "386", "i486": "386", "i586": "386", "i686": "386",
	"armv6l": "arm", "armv7l": "arm", "armv7": "arm", "arm": "arm",
	"ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
	"mips64": "mips64", "mips64le": "mips64le", "loong64": "loong64",
}

// goArch maps `uname -m` to GOARCH.
func goArch(machine string) string {
	if a, ok := unameArch[machine]; ok {
		return a
	}
	return "unknown-" + machine
}
