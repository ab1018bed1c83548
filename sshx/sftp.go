package sshx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/pkg/sftp"
)

// sftpClient returns the client's SFTP session, opening it on first use and
// again after it died.
func (c *Client) sftpClient() (*sftp.Client, error) {
	c.sftpMu.Lock()
	defer c.sftpMu.Unlock()
	select {
	case <-c.done:
		return nil, fmt.Errorf("sftp on %s: %w", c.cfg.Host, ErrClosed)
	default:
	}
	if c.sftp != nil {
		return c.sftp, nil
	}
	sc, err := sftp.NewClient(c.conn, sftp.UseConcurrentWrites(true))
	if err != nil {
		return nil, c.sessionErr("sftp start", err)
	}
	c.sftp = sc
	go func() {
		sc.Wait()
		c.sftpMu.Lock()
		if c.sftp == sc {
			c.sftp = nil
		}
		c.sftpMu.Unlock()
	}()
	return sc, nil
}

// Upload writes size bytes from r to remotePath atomically: readers of
// remotePath see the old file or the complete new one, never a part. A
// relative remotePath is relative to the login directory.
//
// The bytes go to a unique private directory (mode 0700, created beside
// remotePath, named .murderctl-upload-*) so they are never readable by others
// while being written, whatever the server's umask. The file is synced (when
// the server supports fsync@openssh.com), given perm, and renamed over
// remotePath with posix-rename@openssh.com (falling back to remove+rename
// where the extension is missing, which is not atomic). On any error, or when
// r yields fewer or more than size bytes, the temporary file and directory
// are removed and remotePath is untouched. A negative size means "until EOF".
func (c *Client) Upload(ctx context.Context, r io.Reader, size int64, remotePath string, perm os.FileMode) (err error) {
	if remotePath == "" || remotePath == "." || remotePath == "/" {
		return fmt.Errorf("sftp upload to %s: invalid remote path %q", c.cfg.Host, remotePath)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sftp upload %s:%s: %w", c.cfg.Host, remotePath, err)
	}
	sc, err := c.sftpClient()
	if err != nil {
		return err
	}
	wrap := func(op string, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		if c.connDead(0) {
			return fmt.Errorf("sftp %s %s:%s: %w: %w: %w", op, c.cfg.Host, remotePath, ErrUnreachable, ErrConnLost, err)
		}
		return fmt.Errorf("sftp %s %s:%s: %w", op, c.cfg.Host, remotePath, err)
	}
	dir, base := path.Split(remotePath)
	if base == "" {
		return fmt.Errorf("sftp upload to %s: remote path %q names a directory", c.cfg.Host, remotePath)
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmpDir := path.Join(dir, ".murderctl-upload-"+hex.EncodeToString(rnd[:]))
	if err := sc.Mkdir(tmpDir); err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist):
			err = fmt.Errorf("parent directory %q does not exist: %w", path.Clean(dir), err)
		case errors.Is(err, os.ErrPermission):
			err = fmt.Errorf("parent directory %q is not writable: %w", path.Clean(dir), err)
		}
		return wrap("upload", err)
	}
	tmp := path.Join(tmpDir, base)
	defer func() {
		if err != nil {
			sc.Remove(tmp)
		}
		sc.RemoveDirectory(tmpDir)
	}()
	if err := sc.Chmod(tmpDir, 0o700); err != nil {
		return wrap("chmod temporary directory", err)
	}
	f, err := sc.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return wrap("create temporary file", err)
	}
	src := io.Reader(&ctxReader{ctx: ctx, r: r})
	if size >= 0 {
		src = io.LimitReader(src, size)
	}
	n, err := f.ReadFromWithConcurrency(src, 0)
	if err == nil && size >= 0 {
		switch {
		case n != size:
			err = fmt.Errorf("source ended after %d of %d bytes", n, size)
		case hasMore(r):
			err = fmt.Errorf("source holds more than the %d bytes announced", size)
		}
	}
	if err == nil {
		if _, ok := sc.HasExtension("fsync@openssh.com"); ok {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return wrap("write", err)
	}
	if err := sc.Chmod(tmp, perm.Perm()); err != nil {
		return wrap("chmod", err)
	}
	if err := ctx.Err(); err != nil {
		return wrap("upload", err)
	}
	if _, ok := sc.HasExtension("posix-rename@openssh.com"); ok {
		err = sc.PosixRename(tmp, remotePath)
	} else {
		if rerr := sc.Remove(remotePath); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return wrap("remove old", rerr)
		}
		err = sc.Rename(tmp, remotePath)
	}
	if err != nil {
		return wrap("rename", err)
	}
	return nil
}

// hasMore reports whether r still yields a byte.
func hasMore(r io.Reader) bool {
	var b [1]byte
	for range 3 {
		n, err := r.Read(b[:])
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}

// ctxReader fails reads once ctx ends, which stops an upload in flight.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// MkdirAll creates dir and any missing parents with mode perm, like
// os.MkdirAll. Existing directories are left as they are.
func (c *Client) MkdirAll(ctx context.Context, dir string, perm os.FileMode) error {
	return c.sftpDo(ctx, "mkdir -p", dir, func(sc *sftp.Client) error {
		var prefix string
		if path.IsAbs(dir) {
			prefix = "/"
		}
		for _, part := range splitPath(dir) {
			prefix = path.Join(prefix, part)
			fi, err := sc.Stat(prefix)
			if err == nil {
				if !fi.IsDir() {
					return fmt.Errorf("%s exists and is not a directory", prefix)
				}
				continue
			}
			if !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if err := sc.Mkdir(prefix); err != nil {
				if fi, serr := sc.Stat(prefix); serr == nil && fi.IsDir() {
					continue // made concurrently
				}
				return err
			}
			if err := sc.Chmod(prefix, perm.Perm()); err != nil {
				return err
			}
		}
		return nil
	})
}

func splitPath(p string) []string {
	var out []string
	for _, s := range splitAll(path.Clean(p)) {
		if s != "" && s != "/" {
			out = append(out, s)
		}
	}
	return out
}

func splitAll(p string) []string {
	dir, file := path.Split(p)
	if dir == "" || dir == p {
		return []string{file}
	}
	return append(splitAll(path.Clean(dir)), file)
}

// Stat returns the remote file's information (errors.Is(err,
// os.ErrNotExist) when it is missing). Symbolic links are followed.
func (c *Client) Stat(ctx context.Context, p string) (os.FileInfo, error) {
	var fi os.FileInfo
	err := c.sftpDo(ctx, "stat", p, func(sc *sftp.Client) (err error) {
		fi, err = sc.Stat(p)
		return err
	})
	return fi, err
}

// Remove removes a remote file or empty directory.
func (c *Client) Remove(ctx context.Context, p string) error {
	return c.sftpDo(ctx, "remove", p, func(sc *sftp.Client) error { return sc.Remove(p) })
}

// sftpDo runs fn on the SFTP session, returning early when ctx ends.
func (c *Client) sftpDo(ctx context.Context, op, p string, fn func(*sftp.Client) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sftp %s %s:%s: %w", op, c.cfg.Host, p, err)
	}
	sc, err := c.sftpClient()
	if err != nil {
		return err
	}
	res := make(chan error, 1)
	go func() { res <- fn(sc) }()
	select {
	case err = <-res:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		if c.connDead(0) {
			return fmt.Errorf("sftp %s %s:%s: %w: %w: %w", op, c.cfg.Host, p, ErrUnreachable, ErrConnLost, err)
		}
		return fmt.Errorf("sftp %s %s:%s: %w", op, c.cfg.Host, p, err)
	}
	return nil
}
