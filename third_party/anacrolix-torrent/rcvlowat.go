package torrent

// Patched in by murderctl (PATCHED.md): not part of upstream anacrolix/torrent.

import (
	"fmt"
	"io"
	"net"
	"syscall"
)

// maxRcvLowat bounds the wait for piece data: the kernel raises the receive buffer to hold what a
// reader waits for, and one chunk is all a piece message carries.
const maxRcvLowat = 1 << 20

// rcvLowatReader reads a plaintext TCP connection. While the body of a piece message is on the
// way it sets SO_RCVLOWAT to what remains of it, so the kernel wakes the reading goroutine once
// for the whole body instead of once per arriving segment; at other times the mark is 1 byte, so a
// small message never waits. The body's bytes are certain to follow (a peer writes a message
// whole), so waiting for them cannot stall the connection.
type rcvLowatReader struct {
	r       io.Reader
	raw     syscall.RawConn
	pending int // piece-data bytes still to come from r
	mark    int // the socket's SO_RCVLOWAT as last set
}

// newRcvLowatReader wraps r, which reads nc's bytes one for one. It returns nil when nc is not a
// socket that can take the option.
func newRcvLowatReader(r io.Reader, nc net.Conn) *rcvLowatReader {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return &rcvLowatReader{r: r, raw: raw, mark: 1}
}

// expect is peer_protocol.Decoder.ExpectPieceData.
func (l *rcvLowatReader) expect(n int) { l.pending = n }

func (l *rcvLowatReader) Read(b []byte) (int, error) {
	want := 1
	if l.pending > 0 {
		want = min(l.pending, len(b), maxRcvLowat)
	}
	if want != l.mark && l.raw != nil {
		if err := setRcvLowat(l.raw, want); err == nil {
			l.mark = want
		} else if err := l.giveUp(); err != nil {
			return 0, err
		}
	}
	n, err := l.r.Read(b)
	l.pending = max(0, l.pending-n)
	return n, err
}

// giveUp stops using the option after a failed set. A mark left above what is still to come would
// stall the connection, so it goes back to 1 byte, or the connection ends.
func (l *rcvLowatReader) giveUp() error {
	raw := l.raw
	l.raw = nil
	if l.mark == 1 {
		return nil
	}
	if err := setRcvLowat(raw, 1); err != nil {
		return fmt.Errorf("resetting SO_RCVLOWAT: %w", err)
	}
	l.mark = 1
	return nil
}
