//go:build !linux

package torrent

import (
	"errors"
	"syscall"
)

func setRcvLowat(syscall.RawConn, int) error { return errors.ErrUnsupported }
