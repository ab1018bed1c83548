package swarm

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// Piece length bounds. The library's default (32-256 KiB) measured 2-3x
// slower on a LAN, so pieces are never smaller than MinPieceLength.
const (
	MinPieceLength = 1 << 20
	MaxPieceLength = 8 << 20
	// targetPieces is the piece count ChoosePieceLength aims for before
	// clamping: enough pieces for peers to trade, few enough to keep
	// per-piece overhead low.
	targetPieces = 256
)

// ChoosePieceLength returns the piece length for a file of size bytes: a
// power of two giving about 256 pieces, clamped to [MinPieceLength,
// MaxPieceLength].
func ChoosePieceLength(size int64) int64 {
	l := int64(MinPieceLength)
	for l < MaxPieceLength && size/l > targetPieces {
		l *= 2
	}
	return l
}

// Built is the result of one read pass over a file: the torrent and the
// whole-file digest.
type Built struct {
	MetaInfo *metainfo.MetaInfo
	SHA256   string // hex
	Size     int64
	// Chain lets peers check SHA256 segment by segment (sha256chain.go).
	Chain SHA256Chain
}

// Build reads path once, hashing its pieces for the torrent and the whole
// file with SHA-256. pieceLen <= 0 chooses it with ChoosePieceLength. The
// metainfo has no announce list: peers get the announce URL from PeerConfig.
func Build(ctx context.Context, path string, pieceLen int64) (Built, error) {
	f, size, err := openSource(path)
	if err != nil {
		return Built{}, err
	}
	defer f.Close()
	if pieceLen <= 0 {
		pieceLen = ChoosePieceLength(size)
	}
	every := chainSegmentLen(size, pieceLen)
	sc, err := scanFile(ctx, f, size, pieceLen, true, every)
	if err != nil {
		return Built{}, fmt.Errorf("hash %s: %w", path, err)
	}
	info := metainfo.Info{
		Name:        filepath.Base(path),
		Length:      size,
		PieceLength: pieceLen,
		Pieces:      sc.pieces,
	}
	infoBytes, err := bencode.Marshal(info)
	if err != nil {
		return Built{}, fmt.Errorf("encode torrent info for %s: %w", path, err)
	}
	mi := &metainfo.MetaInfo{
		InfoBytes:    infoBytes,
		CreatedBy:    "murderctl",
		CreationDate: time.Now().Unix(),
	}
	return Built{MetaInfo: mi, SHA256: sc.sha256, Size: size, Chain: SHA256Chain{Every: every, States: sc.chain}}, nil
}

// BuildMetaInfo builds the torrent of the file at path. See Build.
func BuildMetaInfo(ctx context.Context, path string, pieceLen int64) (*metainfo.MetaInfo, error) {
	b, err := Build(ctx, path, pieceLen)
	return b.MetaInfo, err
}

// HashFile returns the hex SHA-256 and the size of the file at path.
func HashFile(ctx context.Context, path string) (string, int64, error) {
	f, size, err := openSource(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	sc, err := scanFile(ctx, f, size, MinPieceLength, false, 0)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return sc.sha256, size, nil
}

// openSource opens a regular, non-empty, readable file, refusing anything
// else with a clear error.
func openSource(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open source: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("stat source %s: %w", path, err)
	}
	switch {
	case st.IsDir():
		f.Close()
		return nil, 0, fmt.Errorf("source %s is a directory, not a file", path)
	case !st.Mode().IsRegular():
		f.Close()
		return nil, 0, fmt.Errorf("source %s is not a regular file", path)
	case st.Size() == 0:
		f.Close()
		return nil, 0, fmt.Errorf("source %s is empty", path)
	}
	return f, st.Size(), nil
}

// scanned is what one read pass over a file yields.
type scanned struct {
	sha256 string // hex, of the whole file
	pieces []byte // SHA-1 of each piece, when asked for
	chain  []byte // SHA-256 chaining values every chainEvery bytes, when asked for
}

// scanFile reads size bytes of r in pieceLen blocks. It returns the hex
// SHA-256 of the whole and, when withPieces, the concatenated SHA-1 piece
// hashes. The two hashes run concurrently on each block. chainEvery > 0, a
// multiple of pieceLen, also records the SHA-256 chain (sha256chain.go).
func scanFile(ctx context.Context, r io.ReaderAt, size, pieceLen int64, withPieces bool, chainEvery int64) (scanned, error) {
	whole := sha256.New()
	var out scanned
	if withPieces {
		out.pieces = make([]byte, 0, (size+pieceLen-1)/pieceLen*sha1.Size)
	}
	if chainEvery > 0 {
		if chainEvery%pieceLen != 0 {
			return scanned{}, fmt.Errorf("sha256 chain segment %d is not a whole number of %d-byte pieces", chainEvery, pieceLen)
		}
		out.chain = make([]byte, 0, chainLen(size, chainEvery))
	}
	buf := make([]byte, pieceLen)
	for off := int64(0); off < size; off += pieceLen {
		if err := ctx.Err(); err != nil {
			return scanned{}, err
		}
		if chainEvery > 0 && off > 0 && off%chainEvery == 0 {
			st, err := midstate(whole)
			if err != nil {
				return scanned{}, err
			}
			out.chain = append(out.chain, st[:]...)
		}
		n := min(pieceLen, size-off)
		if _, err := r.ReadAt(buf[:n], off); err != nil {
			if errors.Is(err, io.EOF) {
				return scanned{}, fmt.Errorf("file shorter than %d bytes: %w", size, io.ErrUnexpectedEOF)
			}
			return scanned{}, fmt.Errorf("read at %d: %w", off, err)
		}
		block := buf[:n]
		var wg sync.WaitGroup
		if withPieces {
			wg.Go(func() {
				s := sha1.Sum(block)
				out.pieces = append(out.pieces, s[:]...)
			})
		}
		whole.Write(block)
		wg.Wait()
	}
	out.sha256 = hex.EncodeToString(whole.Sum(nil))
	return out, nil
}

// verifyPieces reports which pieces of info match the data in r.
func verifyPieces(ctx context.Context, r io.ReaderAt, info *metainfo.Info) (string, []bool, error) {
	sc, err := scanFile(ctx, r, info.TotalLength(), info.PieceLength, true, 0)
	if err != nil {
		return "", nil, err
	}
	sum, pieces := sc.sha256, sc.pieces
	ok := make([]bool, info.NumPieces())
	for i := range ok {
		a := pieces[i*sha1.Size : (i+1)*sha1.Size]
		b := info.Pieces[i*sha1.Size : (i+1)*sha1.Size]
		ok[i] = string(a) == string(b)
	}
	return sum, ok, nil
}
