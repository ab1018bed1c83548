package swarm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/anacrolix/torrent/metainfo"
)

// errChainMismatch is a segment whose bytes do not lead from its recorded
// SHA-256 chaining value to the next one: the file differs from the source.
var errChainMismatch = errors.New("sha256 chain mismatch")

// chainCheck checks a download's whole-file SHA-256 segment by segment
// (sha256chain.go) while the download runs. A segment is hashed as soon as
// all its pieces are verified, from the page cache while it is warm, so
// the final check only hashes what completed last.
//
// A check is trusted only while nothing has written into its segment since
// it began: the storage reports every write and every piece that goes back
// to incomplete, and each bumps the segment's generation. finish hashes
// again any segment whose passing check is older than its last write.
type chainCheck struct {
	f        io.ReaderAt
	size     int64
	every    int64
	pieceLen int64
	states   []byte
	digest   []byte // the expected whole-file SHA-256

	mu        sync.Mutex
	missing   []int    // pieces of each segment not yet complete
	gen       []uint64 // bumped after each write into the segment
	passed    []bool
	passedGen []uint64 // the generation a passing check started at

	ready  chan int // segments whose last piece just completed
	cancel context.CancelFunc
	done   chan struct{} // closed when the background checks have stopped

	hashed atomic.Int64 // bytes hashed: each segment once, unless rewritten
}

// newChainCheck checks the file f of info against chain and digest.
// complete lists the pieces already verified (nil: none).
func newChainCheck(f io.ReaderAt, info *metainfo.Info, chain SHA256Chain, digest []byte, complete []bool) *chainCheck {
	n := int((info.Length + chain.Every - 1) / chain.Every)
	c := &chainCheck{
		f: f, size: info.Length, every: chain.Every, pieceLen: info.PieceLength,
		states: chain.States, digest: digest,
		missing: make([]int, n), gen: make([]uint64, n),
		passed: make([]bool, n), passedGen: make([]uint64, n),
		ready: make(chan int, n),
	}
	for p := range info.NumPieces() {
		if p >= len(complete) || !complete[p] {
			c.missing[c.segment(p)]++
		}
	}
	for s, m := range c.missing {
		if m == 0 {
			c.ready <- s
		}
	}
	return c
}

func (c *chainCheck) segment(piece int) int {
	return int(int64(piece) * c.pieceLen / c.every)
}

// start checks segments in the background until finish or ctx ends.
func (c *chainCheck) start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-c.ready:
				// A failure is not final here: finish checks the segment
				// again and reports it.
				_ = c.check(ctx, s)
			}
		}
	}()
}

// halt stops the background checks. One already hashing its segment
// finishes it (cancellation is checked per segment), so finish never
// hashes a segment twice.
func (c *chainCheck) halt() {
	if c.done != nil {
		c.cancel()
		<-c.done
	}
}

// written records a write into piece (called after the write).
func (c *chainCheck) written(piece int) {
	c.mu.Lock()
	c.gen[c.segment(piece)]++
	c.mu.Unlock()
}

// completed records a piece becoming complete or incomplete.
func (c *chainCheck) completed(piece int, complete bool) {
	s := c.segment(piece)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !complete {
		c.missing[s]++
		c.gen[s]++
		return
	}
	c.missing[s]--
	if c.missing[s] == 0 {
		select {
		case c.ready <- s:
		default: // finish checks it
		}
	}
}

// finish stops the background checks and checks every segment that has
// no passing check since its last write. It returns nil when the whole
// file has the expected SHA-256, errChainMismatch (wrapped) when it has
// not, or the read error that stopped it.
func (c *chainCheck) finish(ctx context.Context) error {
	c.halt()
	for s := range c.missing {
		c.mu.Lock()
		ok := c.passed[s] && c.passedGen[s] == c.gen[s]
		c.mu.Unlock()
		if ok {
			continue
		}
		if err := c.check(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// check hashes segment s and records a pass.
func (c *chainCheck) check(ctx context.Context, s int) error {
	c.mu.Lock()
	g := c.gen[s]
	c.mu.Unlock()
	if err := c.hashSegment(ctx, s); err != nil {
		return err
	}
	c.mu.Lock()
	c.passed[s], c.passedGen[s] = true, g
	c.mu.Unlock()
	return nil
}

// hashSegment resumes SHA-256 at segment s's start, feeds it the segment
// and compares the result with the next chaining value, or for the last
// segment with the digest.
func (c *chainCheck) hashSegment(ctx context.Context, s int) error {
	off := int64(s) * c.every
	end := min(off+c.every, c.size)
	var start []byte
	if s > 0 {
		start = c.states[(s-1)*chainStateSize : s*chainStateSize]
	}
	h, err := resumeSHA256(start, off)
	if err != nil {
		return err
	}
	// Cancellation is checked per segment: at most 1/256 of the file.
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := copyRange(h, c.f, off, end-off)
	c.hashed.Add(n)
	if err != nil {
		return fmt.Errorf("read bytes %d-%d: %w", off, end, err)
	}
	if end == c.size {
		if !bytes.Equal(h.Sum(nil), c.digest) {
			return fmt.Errorf("bytes %d-%d: %w", off, end, errChainMismatch)
		}
		return nil
	}
	got, err := midstate(h)
	if err != nil {
		return err
	}
	if !bytes.Equal(got[:], c.states[s*chainStateSize:(s+1)*chainStateSize]) {
		return fmt.Errorf("bytes %d-%d: %w", off, end, errChainMismatch)
	}
	return nil
}
