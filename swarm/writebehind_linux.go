package swarm

import "golang.org/x/sys/unix"

// startWriteback asks the kernel to start writing fd's dirty pages, the
// whole file, without waiting for them.
func startWriteback(fd uintptr) {
	_ = unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
