package swarm

import (
	"context"
	"errors"
	"fmt"
	"github.com/anacrolix/torrent/metainfo"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// codedError carries a failure code of the peer protocol.
type codedError struct {
	Code string
	Err  error
}

func (e *codedError) Error() string { return e.Err.Error() }
func (e *codedError) Unwrap() error { return e.Err }

// withCode wraps err with code; ENOSPC/EDQUOT always become CodeNoSpace.
func withCode(code string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		code = CodeNoSpace
	}
	return &codedError{Code: code, Err: err}
}

// errorCode returns the protocol code of err (CodeInternal if none).
func errorCode(err error) string {
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.Code
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return CodeNoSpace
	}
	return CodeInternal
}

// resolveDest turns PeerConfig.Dest into an absolute file path. An empty
// dest, one ending in "/", or an existing directory names a directory
// that receives the file under name. The parent must be a directory.
func resolveDest(dest, name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return "", withCode(CodeConfig, fmt.Errorf("torrent file name %q is not a plain file name", name))
	}
	p := dest
	if p == "" || strings.HasSuffix(p, "/") {
		p = filepath.Join(p, name)
	} else if st, err := os.Stat(p); err == nil && st.IsDir() {
		p = filepath.Join(p, name)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", withCode(CodeDest, fmt.Errorf("destination %q: %w", dest, err))
	}
	parent := filepath.Dir(abs)
	st, err := os.Stat(parent)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", withCode(CodeDest, fmt.Errorf("destination directory %s does not exist", parent))
	case err != nil:
		return "", withCode(CodeDest, fmt.Errorf("destination directory %s: %w", parent, err))
	case !st.IsDir():
		return "", withCode(CodeDest, fmt.Errorf("destination parent %s is not a directory", parent))
	}
	if st, err := os.Lstat(abs); err == nil && st.IsDir() {
		return "", withCode(CodeDest, fmt.Errorf("destination %s is a directory", abs))
	}
	return abs, nil
}

// tempPath is the private download file beside dest.
func tempPath(dest, infoHashHex string) string {
	return filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".murderctl-"+infoHashHex[:8]+".part")
}

// openTemp opens the private temp file. A partial file left by an
// interrupted run of the same torrent (the documented resume location) is
// resumed: its pieces are checked and the good ones kept. Only a regular
// file of the right size, owned by us and private, is trusted that far;
// anything else is replaced.
func openTemp(ctx context.Context, path string, info *metainfo.Info) (*os.File, []bool, error) {
	if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() && st.Size() == info.Length &&
		st.Mode().Perm()&0o077 == 0 && ownedByUs(st) {
		if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
			if _, ok, err := verifyPieces(ctx, f, info); err == nil {
				return f, ok, nil
			}
			f.Close()
		}
	}
	f, err := createTemp(path, info.Length)
	return f, nil, err
}

// adviseRandom turns off readahead on the temp file. Pieces arrive in no
// order, and readahead around a chunk read for upload or hashing would
// fill the page cache with zeroes from the still-unwritten (fallocated)
// parts of the file: measured as a tenth of a peer's CPU at 50 hosts.
func adviseRandom(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM) // advice only
}

func ownedByUs(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Geteuid()
}

// createTemp creates the private temp file, replacing a stale one left by
// an earlier run, and reserves size bytes so a full disk fails now.
func createTemp(path string, size int64) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, withCode(CodeDest, fmt.Errorf("remove stale %s: %w", path, err))
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, withCode(CodeDest, fmt.Errorf("create %s: %w", path, err))
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) {
			f.Close()
			os.Remove(path)
			return nil, withCode(CodeIO, fmt.Errorf("reserve %d bytes for %s: %w", size, path, err))
		}
		if err := f.Truncate(size); err != nil {
			f.Close()
			os.Remove(path)
			return nil, withCode(CodeIO, fmt.Errorf("size %s: %w", path, err))
		}
	}
	return f, nil
}

// matchingDest opens dest read-only when it holds exactly the expected
// file (size first, then SHA-256 and every piece). It returns nil, nil
// when dest is absent or differs.
func matchingDest(ctx context.Context, dest string, sha string, p *peerTorrent) (*os.File, error) {
	st, err := os.Stat(dest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, withCode(CodeDest, fmt.Errorf("stat %s: %w", dest, err))
	}
	if !st.Mode().IsRegular() || st.Size() != p.info.Length {
		return nil, nil
	}
	f, err := os.Open(dest)
	if err != nil {
		return nil, withCode(CodeDest, fmt.Errorf("open %s: %w", dest, err))
	}
	sum, ok, err := verifyPieces(ctx, f, p.info)
	if err != nil {
		f.Close()
		return nil, withCode(CodeIO, fmt.Errorf("hash %s: %w", dest, err))
	}
	if sum != sha {
		f.Close()
		return nil, nil
	}
	for _, good := range ok {
		if !good {
			f.Close()
			return nil, withCode(CodeConfig, fmt.Errorf("%s has the expected sha256 but the torrent's pieces differ: torrent and sha256 disagree", dest))
		}
	}
	return f, nil
}

// checkSHA256 checks that the temp file has the whole-file SHA-256 sha:
// through chain where there is one, else by hashing all of it. A chain
// mismatch is hashed in full, to name the SHA-256 the file has.
func checkSHA256(ctx context.Context, f *os.File, tmp, sha string, size int64, chain *chainCheck, log *slog.Logger) error {
	if chain != nil {
		err := chain.finish(ctx)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errChainMismatch) {
			return withCode(CodeIO, fmt.Errorf("hash %s: %w", tmp, err))
		}
	}
	sc, err := scanFile(ctx, f, size, MinPieceLength, false, 0)
	if err != nil {
		return withCode(CodeIO, fmt.Errorf("hash %s: %w", tmp, err))
	}
	if sc.sha256 != sha {
		return withCode(CodeHash, fmt.Errorf("downloaded file has sha256 %s, expected %s", sc.sha256, sha))
	}
	// The file is right and the chain was not: it did not come from this
	// file. The file stands; say so.
	if chain != nil {
		log.Warn("sha256 chain disagrees with a file whose sha256 matches; the chain was wrong", "file", tmp)
	}
	return nil
}

// finalize makes the finished, checked temp file durable and renames it
// over dest. mode is applied before the rename.
func finalize(f *os.File, tmp, dest string) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(dest); err == nil && st.Mode().IsRegular() {
		mode = st.Mode().Perm()
	}
	if err := f.Sync(); err != nil {
		return withCode(CodeIO, fmt.Errorf("fsync %s: %w", tmp, err))
	}
	if err := f.Chmod(mode); err != nil {
		return withCode(CodeIO, fmt.Errorf("chmod %s: %w", tmp, err))
	}
	if err := os.Rename(tmp, dest); err != nil {
		return withCode(CodeDest, fmt.Errorf("rename %s to %s: %w", tmp, dest, err))
	}
	return syncDir(filepath.Dir(dest))
}

// syncDir fsyncs a directory so a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return withCode(CodeIO, fmt.Errorf("open dir %s: %w", dir, err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return withCode(CodeIO, fmt.Errorf("fsync dir %s: %w", dir, err))
	}
	return nil
}
