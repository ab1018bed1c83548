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
	sum, pieces, err := scanFile(ctx, f, size, pieceLen, true)
	if err != nil {
		return Built{}, fmt.Errorf("hash %s: %w", path, err)
	}
	info := metainfo.Info{
		Name:        filepath.Base(path),
		Length:      size,
		PieceLength: pieceLen,
		Pieces:      pieces,
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
	return Built{MetaInfo: mi, SHA256: sum, Size: size}, nil
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
	sum, _, err := scanFile(ctx, f, size, MinPieceLength, false)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return sum, size, nil
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

// scanFile reads size bytes of r in pieceLen blocks. It returns the hex
// SHA-256 of the whole and, when withPieces, the concatenated SHA-1 piece
// hashes. The two hashes run concurrently on each block.
func scanFile(ctx context.Context, r io.ReaderAt, size, pieceLen int64, withPieces bool) (string, []byte, error) {
	whole := sha256.New()
	var pieces []byte
	if withPieces {
		pieces = make([]byte, 0, (size+pieceLen-1)/pieceLen*sha1.Size)
	}
	buf := make([]byte, pieceLen)
	for off := int64(0); off < size; off += pieceLen {
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		n := min(pieceLen, size-off)
		if _, err := r.ReadAt(buf[:n], off); err != nil {
			if errors.Is(err, io.EOF) {
				return "", nil, fmt.Errorf("file shorter than %d bytes: %w", size, io.ErrUnexpectedEOF)
			}
			return "", nil, fmt.Errorf("read at %d: %w", off, err)
		}
		block := buf[:n]
		var wg sync.WaitGroup
		if withPieces {
			wg.Go(func() {
				s := sha1.Sum(block)
				pieces = append(pieces, s[:]...)
			})
		}
		whole.Write(block)
		wg.Wait()
	}
	return hex.EncodeToString(whole.Sum(nil)), pieces, nil
}

// verifyPieces reports which pieces of info match the data in r.
func verifyPieces(ctx context.Context, r io.ReaderAt, info *metainfo.Info) (string, []bool, error) {
	sum, pieces, err := scanFile(ctx, r, info.TotalLength(), info.PieceLength, true)
	if err != nil {
		return "", nil, err
	}
	ok := make([]bool, info.NumPieces())
	for i := range ok {
		a := pieces[i*sha1.Size : (i+1)*sha1.Size]
		b := info.Pieces[i*sha1.Size : (i+1)*sha1.Size]
		ok[i] = string(a) == string(b)
	}
	return sum, ok, nil
}
