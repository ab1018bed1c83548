package sshx

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// leftovers lists upload temporaries under dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".murderctl-upload-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUpload(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	if err := os.Mkdir(filepath.Join(f.home, "sub dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 3<<20+17)
	rand.Read(big)
	tests := []struct {
		name   string
		remote string // as given to Upload
		local  string // where it must land, relative to home
		data   []byte
		perm   os.FileMode
	}{
		{"relative to home", "file.bin", "file.bin", []byte("hello"), 0o600},
		{"absolute", filepath.Join(f.home, "abs.bin"), "abs.bin", []byte("abs"), 0o644},
		{"executable", "sub dir/peer", "sub dir/peer", []byte("#!/bin/sh\n"), 0o755},
		{"big", "big.bin", "big.bin", big, 0o600},
		{"empty", "empty", "empty", nil, 0o600},
		{"hostile name", "sub dir/-a 'b' $(touch pwned);", "sub dir/-a 'b' $(touch pwned);", []byte("x"), 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Upload(context.Background(), bytes.NewReader(tt.data), int64(len(tt.data)), tt.remote, tt.perm)
			if err != nil {
				t.Fatalf("Upload: %v", err)
			}
			p := filepath.Join(f.home, tt.local)
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Errorf("content differs: got %d bytes, want %d", len(got), len(tt.data))
			}
			fi, _ := os.Stat(p)
			if fi.Mode().Perm() != tt.perm {
				t.Errorf("perm = %v, want %v", fi.Mode().Perm(), tt.perm)
			}
			if l := leftovers(t, filepath.Dir(p)); len(l) > 0 {
				t.Errorf("temporaries left: %v", l)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(f.home, "pwned")); err == nil {
		t.Error("a file name was run as shell")
	}
}

type failingReader struct {
	r     io.Reader
	after int
	n     int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n >= f.after {
		return 0, errors.New("disk on fire")
	}
	if len(p) > f.after-f.n {
		p = p[:f.after-f.n]
	}
	n, err := f.r.Read(p)
	f.n += n
	return n, err
}

func TestUploadFailureLeavesTargetUntouched(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	target := filepath.Join(f.home, "target")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("new!"), 100000)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		r       io.Reader
		size    int64
		remote  string
		wantErr string
	}{
		{"short source", context.Background(), bytes.NewReader(data[:100]), int64(len(data)), "target", "source ended after 100"},
		{"long source", context.Background(), bytes.NewReader(data), 100, "target", "more than the 100 bytes"},
		{"read error", context.Background(), &failingReader{r: bytes.NewReader(data), after: 70000}, int64(len(data)), "target", "disk on fire"},
		{"cancelled", cancelled, bytes.NewReader(data), int64(len(data)), "target", "context canceled"},
		{"missing parent", context.Background(), bytes.NewReader(data), int64(len(data)), "no/such/dir/target", `parent directory "no/such/dir" does not exist`},
		{"target is a directory", context.Background(), bytes.NewReader(data), int64(len(data)), ".", "invalid remote path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Upload(tt.ctx, tt.r, tt.size, tt.remote, 0o600)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Upload error = %v, want it to contain %q", err, tt.wantErr)
			}
			got, _ := os.ReadFile(target)
			if string(got) != "old" {
				t.Errorf("target changed to %d bytes", len(got))
			}
			if l := leftovers(t, f.home); len(l) > 0 {
				t.Errorf("temporaries left: %v", l)
			}
		})
	}
}

func TestUploadPrivateWhileWriting(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	// A reader that, mid-upload, inspects the temporary directory's mode.
	var seen os.FileMode
	var calls int
	r := readerFunc(func(p []byte) (int, error) {
		calls++
		if calls > 1 {
			return 0, io.EOF
		}
		if l := leftovers(t, f.home); len(l) == 1 {
			fi, _ := os.Stat(l[0])
			seen = fi.Mode().Perm()
		}
		return copy(p, "x"), nil
	})
	if err := c.Upload(context.Background(), r, 1, "secret", 0o600); err != nil {
		t.Fatal(err)
	}
	if seen != 0o700 {
		t.Errorf("temporary directory mode while writing = %v, want 0700", seen)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestUploadConcurrent(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := bytes.Repeat([]byte{byte('a' + i)}, 200000)
			errs[i] = c.Upload(context.Background(), bytes.NewReader(data), int64(len(data)), "same", 0o600)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(f.home, "same"))
	if len(got) != 200000 || bytes.Count(got, got[:1]) != len(got) {
		t.Errorf("final file is not one whole upload")
	}
}

func TestMkdirAllStatRemove(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	ctx := context.Background()
	if err := c.MkdirAll(ctx, "a/b/c", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := c.MkdirAll(ctx, "a/b/c", 0o700); err != nil {
		t.Fatalf("second MkdirAll: %v", err)
	}
	fi, err := c.Stat(ctx, "a/b/c")
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("Stat = %v, %v", fi, err)
	}
	if err := c.Upload(ctx, strings.NewReader("f"), 1, "a/file", 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.MkdirAll(ctx, "a/file/x", 0o700); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("MkdirAll through a file: %v", err)
	}
	if err := c.Remove(ctx, "a/file"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(ctx, "a/file"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat after Remove = %v, want ErrNotExist", err)
	}
}
