package swarm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// chainFixture is a file of an odd size cut into 64 KiB pieces and chain
// segments of every bytes (five, the last one short).
type chainFixture struct {
	path   string
	data   []byte
	info   *metainfo.Info
	chain  SHA256Chain
	digest []byte
}

func newChainFixture(t *testing.T, every int64) *chainFixture {
	t.Helper()
	const pieceLen = 64 << 10
	path := writeRandomFile(t, t.TempDir(), "f.bin", int(4*every+3*pieceLen+1234))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scanFile(context.Background(), bytes.NewReader(data), int64(len(data)), pieceLen, true, every)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if sc.sha256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("scanFile sha256 %s, want %x", sc.sha256, sum)
	}
	info := &metainfo.Info{Name: "f.bin", Length: int64(len(data)), PieceLength: pieceLen, Pieces: sc.pieces}
	chain := SHA256Chain{Every: every, States: sc.chain}
	if err := chain.fits(info.Length, pieceLen); err != nil {
		t.Fatal(err)
	}
	return &chainFixture{path: path, data: data, info: info, chain: chain, digest: sum[:]}
}

// TestSHA256ChainStates checks every recorded state against SHA-256 run
// over the file up to that boundary, and that resuming from each one
// reaches the next.
func TestSHA256ChainStates(t *testing.T) {
	fx := newChainFixture(t, 256<<10)
	if n := len(fx.chain.States) / chainStateSize; n != 4 {
		t.Fatalf("%d states, want 4", n)
	}
	for k := 1; k <= 4; k++ {
		h := sha256.New()
		h.Write(fx.data[:int64(k)*fx.chain.Every])
		want, err := midstate(h)
		if err != nil {
			t.Fatal(err)
		}
		if got := fx.chain.States[(k-1)*chainStateSize : k*chainStateSize]; !bytes.Equal(got, want[:]) {
			t.Errorf("state %d = %x, want %x", k, got, want)
		}
	}
	// Resume from the last state and finish: the whole file's digest.
	last := int64(4) * fx.chain.Every
	h, err := resumeSHA256(fx.chain.States[3*chainStateSize:], last)
	if err != nil {
		t.Fatal(err)
	}
	h.Write(fx.data[last:])
	if !bytes.Equal(h.Sum(nil), fx.digest) {
		t.Error("resumed SHA-256 does not reach the file's digest")
	}
	if _, err := resumeSHA256(fx.chain.States[:chainStateSize], 100); err == nil {
		t.Error("resumed at an offset inside a block")
	}
}

func TestChainSegmentLen(t *testing.T) {
	for _, tt := range []struct{ size, piece int64 }{
		{1, 64 << 10}, {32 << 20, 64 << 10}, {10 << 30, 4 << 20}, {1 << 40, 1 << 20},
	} {
		every := chainSegmentLen(tt.size, tt.piece)
		if every%tt.piece != 0 || (tt.size+every-1)/every > maxChainSegments {
			t.Errorf("chainSegmentLen(%d, %d) = %d: not whole pieces, or more than %d segments", tt.size, tt.piece, every, maxChainSegments)
		}
	}
	if got := chainSegmentLen(32<<20, 64<<10); got != 1<<20 {
		t.Errorf("32 MiB in 64 KiB pieces: segments of %d, want 1 MiB", got)
	}
}

func TestSHA256ChainFits(t *testing.T) {
	fx := newChainFixture(t, 256<<10)
	bad := []SHA256Chain{
		{Every: fx.chain.Every, States: fx.chain.States[:chainStateSize]},
		{Every: fx.chain.Every + 1, States: fx.chain.States},
		{Every: 0},
	}
	for _, c := range bad {
		if err := c.fits(fx.info.Length, fx.info.PieceLength); err == nil {
			t.Errorf("chain every %d with %d bytes of states fits a %d-byte file", c.Every, len(c.States), fx.info.Length)
		}
	}
}

// completeAll marks every piece of c complete, as the storage does.
func completeAll(c *chainCheck, info *metainfo.Info) {
	for p := range info.NumPieces() {
		c.completed(p, true)
	}
}

// slowReader delays every read, so a background check is still running
// when the download ends.
type slowReader struct{ r io.ReaderAt }

func (s slowReader) ReadAt(b []byte, off int64) (int, error) {
	time.Sleep(20 * time.Millisecond)
	return s.r.ReadAt(b, off)
}

// TestChainCheckPassesTheFile completes the file while background checks
// run: it passes, and each byte is hashed once, the check that was running
// when the download ended included.
func TestChainCheckPassesTheFile(t *testing.T) {
	fx := newChainFixture(t, 1<<20) // segments of four reads

	c := newChainCheck(slowReader{bytes.NewReader(fx.data)}, fx.info, fx.chain, fx.digest, nil)
	c.start(context.Background())
	completeAll(c, fx.info)
	time.Sleep(50 * time.Millisecond) // the background check is mid-segment
	if err := c.finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.hashed.Load(); got != fx.info.Length {
		t.Errorf("hashed %d bytes of a %d-byte file", got, fx.info.Length)
	}
}

// TestChainCheckCatchesChangedBytes changes one byte in each segment in
// turn: the check fails, naming the segment.
func TestChainCheckCatchesChangedBytes(t *testing.T) {
	fx := newChainFixture(t, 256<<10)
	for s := range 5 {
		data := bytes.Clone(fx.data)
		data[int64(s)*fx.chain.Every+77] ^= 1
		c := newChainCheck(bytes.NewReader(data), fx.info, fx.chain, fx.digest, nil)
		completeAll(c, fx.info)
		if err := c.finish(context.Background()); !errors.Is(err, errChainMismatch) {
			t.Errorf("byte changed in segment %d: %v, want a mismatch", s, err)
		}
	}
}

// TestChainCheckDistrustsOldChecks lets the background check pass a
// segment, then writes into it: finish must hash it again and see the
// change. A check that starts before a write and reads its bytes only
// partly is the case this guards.
func TestChainCheckDistrustsOldChecks(t *testing.T) {
	fx := newChainFixture(t, 256<<10)
	data := bytes.Clone(fx.data)
	c := newChainCheck(bytes.NewReader(data), fx.info, fx.chain, fx.digest, nil)
	completeAll(c, fx.info)
	// Every segment is queued; check them all now, as the worker would.
	for s := range 5 {
		if err := c.check(context.Background(), <-c.ready); err != nil {
			t.Fatalf("segment %d: %v", s, err)
		}
	}
	data[2*fx.chain.Every+5] ^= 1
	c.written(int(2 * fx.chain.Every / fx.info.PieceLength))
	if err := c.finish(context.Background()); !errors.Is(err, errChainMismatch) {
		t.Fatalf("finish after a write: %v, want a mismatch", err)
	}
	// Without the write notice the old pass would stand: the notice is
	// what makes finish look again.
	c2 := newChainCheck(bytes.NewReader(data), fx.info, fx.chain, fx.digest, nil)
	completeAll(c2, fx.info)
	if err := c2.finish(context.Background()); !errors.Is(err, errChainMismatch) {
		t.Fatalf("fresh check of the changed file: %v, want a mismatch", err)
	}
}

// TestChainCheckResumed starts from a partly complete file: the complete
// segments are queued at once, and a piece that goes back to incomplete
// voids its segment's pass.
func TestChainCheckResumed(t *testing.T) {
	fx := newChainFixture(t, 256<<10)
	complete := make([]bool, fx.info.NumPieces())
	for p := range 8 { // segments 0 and 1 (4 pieces each)
		complete[p] = true
	}
	c := newChainCheck(bytes.NewReader(fx.data), fx.info, fx.chain, fx.digest, complete)
	if len(c.ready) != 2 {
		t.Fatalf("%d segments queued at start, want 2", len(c.ready))
	}
	for range 2 {
		if err := c.check(context.Background(), <-c.ready); err != nil {
			t.Fatal(err)
		}
	}
	c.completed(5, false)
	if c.passed[1] && c.passedGen[1] == c.gen[1] {
		t.Error("segment 1 still trusted after its piece went incomplete")
	}
}
