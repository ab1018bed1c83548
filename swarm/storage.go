package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
)

// fileIO is the part of *os.File the storage uses: positioned reads and
// writes (pread/pwrite), so concurrent pieces never share a file offset.
type fileIO interface {
	io.ReaderAt
	io.WriterAt
}

// errReadOnly is returned for writes to a storage serving a finished file.
var errReadOnly = errors.New("storage is read-only")

// fileStorage is a storage.ClientImpl holding one single-file torrent in
// one open file. It keeps piece completion in memory, surfaces the first
// write error (ENOSPC included) on Failed, and can be switched to
// read-only once the file is complete, so a finished destination is never
// written again.
type fileStorage struct {
	f      fileIO
	length int64

	mu       sync.Mutex
	complete []bool
	have     int
	readOnly bool
	writeErr error
	failed   chan struct{} // closed on the first write error

	// chain, when set, is told of every write and completion change, so
	// its segment checks never trust bytes written after them.
	chain *chainCheck
}

// newFileStorage serves f, whose pieces listed in complete are already
// verified. complete may be nil (nothing verified yet).
func newFileStorage(f fileIO, info *metainfo.Info, complete []bool, readOnly bool) *fileStorage {
	s := &fileStorage{
		f:        f,
		length:   info.TotalLength(),
		complete: make([]bool, info.NumPieces()),
		readOnly: readOnly,
		failed:   make(chan struct{}),
	}
	for i, ok := range complete {
		if ok && i < len(s.complete) {
			s.complete[i] = true
			s.have++
		}
	}
	return s
}

// OpenTorrent implements storage.ClientImpl.
func (s *fileStorage) OpenTorrent(_ context.Context, info *metainfo.Info, _ metainfo.Hash) (storage.TorrentImpl, error) {
	if info.TotalLength() != s.length || info.NumPieces() != len(s.complete) {
		return storage.TorrentImpl{}, fmt.Errorf("storage holds %d bytes in %d pieces, torrent has %d in %d",
			s.length, len(s.complete), info.TotalLength(), info.NumPieces())
	}
	return storage.TorrentImpl{
		Piece: s.piece,
		Close: func() error { return nil }, // the owner closes the file
	}, nil
}

func (s *fileStorage) piece(p metainfo.Piece) storage.PieceImpl {
	return filePiece{s: s, index: p.Index(), off: p.Offset(), length: p.Length()}
}

// Have returns how many pieces are complete.
func (s *fileStorage) Have() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.have
}

// SetReadOnly refuses every later write.
func (s *fileStorage) SetReadOnly() {
	s.mu.Lock()
	s.readOnly = true
	s.mu.Unlock()
}

// Failed is closed after the first write error; Err returns it.
func (s *fileStorage) Failed() <-chan struct{} { return s.failed }

// Err returns the first write error, if any.
func (s *fileStorage) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeErr
}

func (s *fileStorage) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr == nil {
		s.writeErr = err
		close(s.failed)
	}
}

func (s *fileStorage) setComplete(i int, c bool) {
	s.mu.Lock()
	changed := s.complete[i] != c
	if changed {
		s.complete[i] = c
		if c {
			s.have++
		} else {
			s.have--
		}
	}
	s.mu.Unlock()
	if changed && s.chain != nil {
		s.chain.completed(i, c)
	}
}

// filePiece is one piece's window of the file.
type filePiece struct {
	s      *fileStorage
	index  int
	off    int64
	length int64
}

func (p filePiece) ReadAt(b []byte, off int64) (int, error) {
	if off >= p.length {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.length-off)]
	return p.s.f.ReadAt(b, p.off+off)
}

// hashBufs are the buffers WriteTo reads pieces through.
var hashBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// WriteTo implements io.WriterTo, which the library hashes a piece with:
// one pooled buffer, where its fallback (io.CopyN) allocates a fresh one
// for every piece, memory the kernel then faults in anew.
func (p filePiece) WriteTo(w io.Writer) (int64, error) {
	return copyRange(w, p.s.f, p.off, p.length)
}

// copyRange writes n bytes of r from off to w through a pooled buffer. A
// range that ends early is io.ErrUnexpectedEOF.
func copyRange(w io.Writer, r io.ReaderAt, off, n int64) (int64, error) {
	bp := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(bp)
	var done int64
	for done < n {
		buf := (*bp)[:min(int64(len(*bp)), n-done)]
		got, err := r.ReadAt(buf, off+done)
		if got > 0 {
			if _, werr := w.Write(buf[:got]); werr != nil {
				return done, werr
			}
			done += int64(got)
		}
		if got < len(buf) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return done, err
		}
	}
	return done, nil
}

func (p filePiece) WriteAt(b []byte, off int64) (int, error) {
	p.s.mu.Lock()
	ro, failed := p.s.readOnly, p.s.writeErr
	p.s.mu.Unlock()
	if ro {
		return 0, errReadOnly
	}
	if failed != nil {
		return 0, failed
	}
	if off+int64(len(b)) > p.length {
		return 0, fmt.Errorf("write of %d bytes at %d overflows piece %d", len(b), off, p.index)
	}
	n, err := p.s.f.WriteAt(b, p.off+off)
	if p.s.chain != nil {
		p.s.chain.written(p.index)
	}
	if err != nil {
		err = fmt.Errorf("write piece %d: %w", p.index, err)
		p.s.fail(err)
	}
	return n, err
}

func (p filePiece) MarkComplete() error {
	p.s.setComplete(p.index, true)
	return nil
}

func (p filePiece) MarkNotComplete() error {
	p.s.setComplete(p.index, false)
	return nil
}

func (p filePiece) Completion() storage.Completion {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return storage.Completion{Ok: true, Complete: p.s.complete[p.index]}
}
