package orchestrator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// otherArch is a platform that is not the one the tests run on.
func otherArch() string {
	if runtime.GOARCH == "arm64" {
		return "amd64"
	}
	return "arm64"
}

func TestBinarySetFind(t *testing.T) {
	static := filepath.Join(peerBinDir(t), "murderctl-peer-"+runtime.GOOS+"-"+runtime.GOARCH)
	const dynamic = "/bin/ls"
	if err := checkStatic(dynamic); err == nil {
		t.Skip("/bin/ls is statically linked here; no dynamic example")
	}
	script := filepath.Join(t.TempDir(), "script")
	os.WriteFile(script, []byte("#!/bin/sh\necho not a peer\n"), 0o755)
	kinds := map[string]string{"static": static, "dynamic": dynamic, "script": script}

	native, other := runtime.GOOS+"-"+runtime.GOARCH, runtime.GOOS+"-"+otherArch()
	tests := []struct {
		name         string
		arch         string              // runtime.GOARCH or otherArch()
		allowDynamic bool                // BinarySet.AllowDynamic
		dirs         []map[string]string // per directory: file name -> kind
		want         string              // "dirN/name", or "" with wantErr
		wantErr      string
	}{
		{"slim per-platform peer first", runtime.GOARCH, false, []map[string]string{{
			"murderctl-peer-" + native: "static", "murderctl-" + native: "static", "murderctl-peer": "static", "murderctl": "static"}},
			"dir0/murderctl-peer-" + native, ""},
		{"plain murderctl-peer before murderctl-os-arch", runtime.GOARCH, false, []map[string]string{{
			"murderctl-" + native: "static", "murderctl-peer": "static"}},
			"dir0/murderctl-peer", ""},
		{"murderctl-os-arch before plain murderctl", runtime.GOARCH, false, []map[string]string{{
			"murderctl-" + native: "static", "murderctl": "static"}},
			"dir0/murderctl-" + native, ""},
		{"earlier directory wins", runtime.GOARCH, false, []map[string]string{
			{"murderctl": "static"}, {"murderctl-peer-" + native: "static"}},
			"dir0/murderctl", ""},
		{"later directory searched", runtime.GOARCH, false, []map[string]string{
			{"unrelated": "static"}, {"murderctl-peer-" + native: "static"}},
			"dir1/murderctl-peer-" + native, ""},
		{"foreign platform by its name", otherArch(), false, []map[string]string{{
			"murderctl-peer-" + other: "static", "murderctl-peer": "static"}},
			"dir0/murderctl-peer-" + other, ""},
		{"foreign platform never takes plain names", otherArch(), false, []map[string]string{{
			"murderctl-peer": "static", "murderctl": "static"}},
			"", "no peer binary for " + runtime.GOOS + "/" + otherArch()},
		{"dynamic binary refused", runtime.GOARCH, false, []map[string]string{{
			"murderctl-peer-" + native: "dynamic"}},
			"", "dynamically linked"},
		{"dynamic binary allowed for own platform", runtime.GOARCH, true, []map[string]string{{
			"murderctl-peer-" + native: "dynamic"}},
			"dir0/murderctl-peer-" + native, ""},
		{"dynamic binary never allowed for another platform", otherArch(), true, []map[string]string{{
			"murderctl-peer-" + other: "dynamic"}},
			"", "dynamically linked"},
		{"not an ELF", runtime.GOARCH, false, []map[string]string{{
			"murderctl-peer-" + native: "script"}},
			"", "not an ELF executable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dirs []string
			for _, files := range tt.dirs {
				d := t.TempDir()
				for name, kind := range files {
					if err := os.Symlink(kinds[kind], filepath.Join(d, name)); err != nil {
						t.Fatal(err)
					}
				}
				dirs = append(dirs, d)
			}
			s := &BinarySet{Dirs: dirs, AllowDynamic: tt.allowDynamic}
			b, err := s.For(runtime.GOOS, tt.arch)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("For = %s, want error %q", b.Path, tt.wantErr)
				}
				if !errors.Is(err, ErrNoBinary) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrNoBinary saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("For: %v", err)
			}
			dirN, name, _ := strings.Cut(tt.want, "/")
			want := filepath.Join(dirs[dirN[len("dir")]-'0'], name)
			if b.Path != want {
				t.Fatalf("For chose %s, want %s", b.Path, want)
			}
			data, err := os.ReadFile(b.Path)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if b.SHA256 != hex.EncodeToString(sum[:]) || b.Size != int64(len(data)) || b.OS != runtime.GOOS || b.Arch != tt.arch {
				t.Errorf("binary = %+v, want sha %x size %d", b, sum, len(data))
			}
			if again, _ := s.For(runtime.GOOS, tt.arch); again != b {
				t.Error("second For did not return the cached binary")
			}
		})
	}
}

func TestBinarySetMissingPlatform(t *testing.T) {
	s := &BinarySet{Dirs: []string{t.TempDir()}}
	_, err := s.For("linux", "riscv64")
	if !errors.Is(err, ErrNoBinary) {
		t.Fatalf("err = %v, want ErrNoBinary", err)
	}
	for _, want := range []string{"linux/riscv64", "murderctl-peer-linux-riscv64", "make cross"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// For its own platform, with nothing in Dirs, the running executable serves
// (it is murderctl, which has a peer subcommand).
func TestBinarySetFallsBackToSelf(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	s := &BinarySet{Dirs: []string{t.TempDir()}, AllowDynamic: true}
	b, err := s.For(runtime.GOOS, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	if b.Path != self {
		t.Errorf("Path = %s, want the running executable %s", b.Path, self)
	}
}

func TestGoArch(t *testing.T) {
	for machine, want := range map[string]string{
		"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "386", "armv7l": "arm",
		"ppc64le": "ppc64le", "riscv64": "riscv64", "sparc64": "unknown-sparc64",
	} {
		if got := goArch(machine); got != want {
			t.Errorf("goArch(%q) = %q, want %q", machine, got, want)
		}
	}
}

func gunzip(t *testing.T, gz []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGzippedRoundTripAndCache(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", filepath.Join(t.TempDir(), "cache"))
	dir := t.TempDir()
	content := bytes.Repeat([]byte("murderctl peer binary stand-in\n"), 4000)
	name := "murderctl-peer-" + runtime.GOOS + "-" + runtime.GOARCH
	os.WriteFile(filepath.Join(dir, name), content, 0o755)
	load := func() *PeerBinary {
		t.Helper()
		// AllowDynamic skips the ELF check for our own platform.
		b, err := (&BinarySet{Dirs: []string{dir}, AllowDynamic: true}).For(runtime.GOOS, runtime.GOARCH)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	b := load()
	gz, err := b.Gzipped()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gunzip(t, gz), content) {
		t.Fatal("gzip does not round-trip")
	}
	if len(gz) >= len(content)/10 {
		t.Errorf("compressed %d bytes to %d", len(content), len(gz))
	}
	cache := filepath.Join(os.Getenv("XDG_CACHE_HOME"), "murderctl", "peer-"+b.SHA256+".gz")
	cached, err := os.ReadFile(cache)
	if err != nil || !bytes.Equal(cached, gz) {
		t.Fatalf("cache %s: %v (equal: %v)", cache, err, bytes.Equal(cached, gz))
	}
	if st, _ := os.Stat(filepath.Dir(cache)); st.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v, want 0700", st.Mode().Perm())
	}
	if again, _ := b.Gzipped(); !bytes.Equal(again, gz) {
		t.Error("second Gzipped differs")
	}

	// A valid cache entry is used as is (here: a different, stored-only archive).
	var stored bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&stored, gzip.NoCompression)
	zw.Write(content)
	zw.Close()
	os.WriteFile(cache, stored.Bytes(), 0o600)
	if got, err := load().Gzipped(); err != nil || !bytes.Equal(got, stored.Bytes()) {
		t.Errorf("a valid cache entry was not used (err %v)", err)
	}

	// A corrupt or wrong cache entry is ignored and replaced.
	for name, bad := range map[string][]byte{
		"garbage":       []byte("not gzip"),
		"other content": gzipOf(t, []byte("something else")),
		"truncated":     stored.Bytes()[:stored.Len()/2],
	} {
		os.WriteFile(cache, bad, 0o600)
		got, err := load().Gzipped()
		if err != nil || !bytes.Equal(gunzip(t, got), content) {
			t.Errorf("%s cache entry: Gzipped gave wrong content (err %v)", name, err)
		}
		if now, _ := os.ReadFile(cache); bytes.Equal(now, bad) {
			t.Errorf("%s cache entry was not replaced", name)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(cache)); len(ents) != 1 {
		t.Errorf("cache dir holds %d entries, want 1 (no temp files)", len(ents))
	}
}

func gzipOf(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestGzippedMissingFile(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	b := &PeerBinary{Path: filepath.Join(t.TempDir(), "gone"), SHA256: "00"}
	if _, err := b.Gzipped(); err == nil {
		t.Fatal("Gzipped of a missing file succeeded")
	}
}
