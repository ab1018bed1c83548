package swarm

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// Origin serves the file's pieces from the control node over HTTP. It is the
// "seeder" of a deploy, built so the control node sends each piece about
// once: GET next hands every piece out once, one at a time at the full
// uplink rate, and the hosts trade everything else among themselves over
// BitTorrent. GET piece/<i> serves a piece again for a host that cannot get
// it from the fleet (its only holder died or stalled).
//
// A few requests are served at once (originSlots): pieces then reach the
// fleet roughly in sequence, while the uplink stays full even though each
// receiver's downlink is shared with the swarm's own traffic.
type Origin struct {
	f     *os.File
	info  *metainfo.Info
	log   *slog.Logger
	slots chan struct{}

	mu       sync.Mutex
	handed   []bool // pieces handed out by next
	left     int    // pieces never handed out
	verified []bool // pieces whose bytes matched the torrent's hash

	sent   atomic.Int64
	closed atomic.Bool
	// Ready, when set, holds GET next until it is closed: the caller keeps
	// its uplink quiet while it still has hosts to start.
	Ready      <-chan struct{}
	firstServe sync.Once
	// LeaveAfterHandout is a test fault: the origin stops serving once it
	// has sent every piece once, as a seeder that goes away would.
	LeaveAfterHandout bool
}

// originSlots is how many pieces the origin sends at once. With one, the
// origin's rate was the share it got of one receiver's downlink, where it
// competes with that host's peers: about 7.5 of 10 Mbit/s at 10 hosts, and
// every host finished just after the origin. Four kept it at 9.4 Mbit/s
// (docs/benchmarks.md, fifth session). Before requests stopped being stolen
// (stealGrace), four left late hosts behind, so one was kept then. A slot
// stays taken until all but the last few KiB of its piece have been sent
// only because the deploy's listener limits unsent bytes (LimitUnsent);
// with the kernel's default send buffers a slot was free again as soon as
// the piece was buffered.
const originSlots = 4

// Origin response headers.
const (
	HeaderPiece = "X-Murderctl-Piece"
)

// NewOrigin opens path, which must be the file the torrent was built from.
func NewOrigin(path string, mi *metainfo.MetaInfo, log *slog.Logger) (*Origin, error) {
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return nil, fmt.Errorf("origin: torrent info: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	if st, err := f.Stat(); err != nil || st.Size() != info.TotalLength() {
		f.Close()
		return nil, fmt.Errorf("origin: %s changed size since it was hashed", path)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := info.NumPieces()
	return &Origin{f: f, info: &info, log: log, slots: make(chan struct{}, originSlots),
		handed: make([]bool, n), left: n, verified: make([]bool, n)}, nil
}

// Uploaded is how many piece bytes the origin has sent.
func (o *Origin) Uploaded() int64 { return o.sent.Load() }

// Close stops serving; requests under way fail.
func (o *Origin) Close() error {
	o.closed.Store(true)
	return o.f.Close()
}

// ServeHTTP answers "next" and "piece/<i>" (the handler is mounted under a
// per-deploy secret prefix by the caller).
func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	if path == "next" && o.Ready != nil {
		select {
		case <-o.Ready:
		case <-r.Context().Done():
			return
		}
		o.firstServe.Do(func() { o.log.Debug("origin handing pieces out") })
	}
	select {
	case o.slots <- struct{}{}:
		defer func() { <-o.slots }()
	case <-r.Context().Done():
		return
	}
	if o.closed.Load() {
		http.Error(w, "origin closed", http.StatusServiceUnavailable)
		return
	}
	var i int
	switch {
	case path == "next":
		var ok bool
		if i, ok = o.lease(parseHave(r.URL.Query().Get("have"))); !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	case strings.HasPrefix(path, "piece/"):
		n, err := strconv.Atoi(strings.TrimPrefix(path, "piece/"))
		if err != nil || n < 0 || n >= o.info.NumPieces() {
			http.Error(w, "no such piece", http.StatusNotFound)
			return
		}
		i = n
	default:
		http.NotFound(w, r)
		return
	}
	o.sendPiece(r.Context(), w, i)
}

// lease hands out the first piece never handed out that the requester
// does not have (a resumed host already holds some).
func (o *Origin) lease(have []byte) (int, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.handed {
		if !o.handed[i] && !bitSet(have, i) {
			o.handed[i] = true
			o.left--
			return i, true
		}
	}
	return 0, false
}

// HandedOut reports whether every piece has been handed out once.
func (o *Origin) HandedOut() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.left == 0
}

// parseHave decodes the hex piece bitmap of a next request (bit i of byte
// i/8, most significant first, as in BitTorrent's bitfield). Bad input is
// treated as "has nothing".
func parseHave(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

func bitSet(bits []byte, i int) bool {
	return i/8 < len(bits) && bits[i/8]&(0x80>>(i%8)) != 0
}

// encodeHave is parseHave's inverse, for the puller.
func encodeHave(have func(int) bool, n int) string {
	b := make([]byte, (n+7)/8)
	for i := range n {
		if have(i) {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return hex.EncodeToString(b)
}

func (o *Origin) sendPiece(ctx context.Context, w http.ResponseWriter, i int) {
	p := o.info.Piece(i)
	buf := make([]byte, p.Length())
	if _, err := o.f.ReadAt(buf, p.Offset()); err != nil && err != io.EOF {
		o.log.Error("origin read", "piece", i, "err", err)
		http.Error(w, "read error", http.StatusInternalServerError)
		return
	}
	if err := o.verify(i, buf); err != nil {
		o.log.Error("origin", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// A reader that stalls (a stopped process, a dead link) must not hold
	// the send slot: allow the piece at 128 KiB/s at the slowest.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(5*time.Second + time.Duration(len(buf)/(128<<10))*time.Second))
	w.Header().Set(HeaderPiece, strconv.Itoa(i))
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	w.Header().Set("Content-Type", "application/octet-stream")
	n, err := io.Copy(w, bytes.NewReader(buf))
	o.sent.Add(n)
	if o.LeaveAfterHandout && o.HandedOut() {
		o.log.Info("origin leaving after handing every piece out once (test fault)")
		o.closed.Store(true)
	}
	if err != nil && ctx.Err() == nil {
		o.log.Debug("origin send", "piece", i, "err", err)
	}
}

// verify checks a piece against the torrent once: a source file changed
// after hashing must not be served as good data.
func (o *Origin) verify(i int, data []byte) error {
	o.mu.Lock()
	done := o.verified[i]
	o.mu.Unlock()
	if done {
		return nil
	}
	sum := sha1.Sum(data)
	if !bytes.Equal(sum[:], o.info.Piece(i).V1Hash().Value.Bytes()) {
		return fmt.Errorf("piece %d of the source no longer matches its hash: the file changed after hashing", i)
	}
	o.mu.Lock()
	o.verified[i] = true
	o.mu.Unlock()
	return nil
}
