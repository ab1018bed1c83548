package swarm

import (
	"context"
	"os"
	"time"
)

// Why the download is written behind as it goes: a host makes its file
// durable (fsync) before renaming it into place, and with the default
// dirty-page expiry of 30 s most of a file fetched in half a minute is
// still only in memory when the last piece arrives. The fsync then writes
// all of it at once, on every host of the fleet at about the same moment.
// Starting the writes every writeBehindEvery keeps what the fsync has left
// to do small, whatever the file's size.
const writeBehindEvery = time.Second

// writeBehind calls start (startWriteback, outside tests) with f's
// descriptor every period until ctx ends. Starting writeback does not wait
// for it to finish (it runs beside the peer's event loop in case the
// device's queue is full), and an error only leaves the work to the final
// fsync.
func writeBehind(ctx context.Context, f *os.File, period time.Duration, start func(fd uintptr)) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rc.Control(start)
	}
}
