package swarm

import (
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
)

// Stall thresholds for falling back to the origin: a piece no connected
// peer has is fetched after stallZeroAvail without progress; any missing
// piece after stallAny (its holders may be stopped or lying).
const (
	stallZeroAvail = 3 * time.Second
	stallAny       = 10 * time.Second
)

// originPuller fetches pieces from the deploy's Origin: every piece it is
// handed by GET next, until the origin has handed each piece out once;
// then, while the file is incomplete and the swarm makes no progress, the
// pieces the swarm cannot provide. Pieces are checked, written through the
// storage and verified by the torrent, which then offers them to peers.
type originPuller struct {
	base   string // ends in "/"
	client *http.Client
	t      *torrent.Torrent
	st     *fileStorage
	info   *metainfo.Info
	log    *slog.Logger

	got atomic.Int64 // piece bytes received from the origin
}

func newOriginPuller(base, bindIP string, t *torrent.Torrent, st *fileStorage, info *metainfo.Info, log *slog.Logger) *originPuller {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if ip := net.ParseIP(bindIP); ip != nil {
		dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 2, Proxy: nil}
	if base != "" && base[len(base)-1] != '/' {
		base += "/"
	}
	return &originPuller{base: base, client: &http.Client{Transport: tr}, t: t, st: st, info: info, log: log}
}

func (p *originPuller) complete() bool { return p.st.Have() == p.info.NumPieces() }

// run pulls until the file is complete or ctx ends.
func (p *originPuller) run(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil && !p.complete() && failures < 5 {
		have := encodeHave(func(i int) bool { return p.t.Piece(i).State().Complete }, p.info.NumPieces())
		status, err := p.fetch(ctx, "next?have="+have)
		if status == http.StatusNoContent {
			break
		}
		if err != nil {
			failures++
			p.log.Debug("origin next", "err", err)
			sleepCtx(ctx, 500*time.Millisecond)
			continue
		}
		failures = 0
	}
	p.watch(ctx)
}

// watch falls back to the origin for pieces the swarm does not deliver.
func (p *originPuller) watch(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, lastChange := p.progress(), time.Now()
	for !p.complete() {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if now := p.progress(); now != last {
			last, lastChange = now, time.Now()
			continue
		}
		stalled := time.Since(lastChange)
		if stalled < stallZeroAvail {
			continue
		}
		i, ok := p.pickMissing(stalled >= stallAny)
		if !ok {
			continue
		}
		p.log.Info("swarm stalled; fetching a piece from the origin", "piece", i, "stalled", stalled.Round(time.Second))
		if _, err := p.fetch(ctx, "piece/"+strconv.Itoa(i)); err != nil {
			p.log.Debug("origin piece", "piece", i, "err", err)
		}
		lastChange = time.Now()
	}
}

// progress is the bytes received so far, from peers and the origin.
func (p *originPuller) progress() int64 {
	s := p.t.Stats()
	return s.BytesReadUsefulData.Int64() + p.got.Load()
}

// pickMissing chooses a missing piece no connected peer has, or with any
// set, any missing piece; at random, so stalled hosts ask for different ones.
func (p *originPuller) pickMissing(anyMissing bool) (int, bool) {
	conns := p.t.PeerConns()
	var zero, missing []int
	for i := range p.info.NumPieces() {
		if p.t.Piece(i).State().Complete {
			continue
		}
		missing = append(missing, i)
		avail := false
		for _, c := range conns {
			if c.PeerPieces().Contains(uint32(i)) {
				avail = true
				break
			}
		}
		if !avail {
			zero = append(zero, i)
		}
	}
	switch {
	case len(zero) > 0:
		return zero[rand.IntN(len(zero))], true
	case anyMissing && len(missing) > 0:
		return missing[rand.IntN(len(missing))], true
	}
	return 0, false
}

// fetch GETs one piece from the origin and hands it to the torrent.
func (p *originPuller) fetch(ctx context.Context, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		if resp.StatusCode == http.StatusNoContent {
			return resp.StatusCode, nil
		}
		return resp.StatusCode, fmt.Errorf("origin %s: %s", path, resp.Status)
	}
	i, err := strconv.Atoi(resp.Header.Get(HeaderPiece))
	if err != nil || i < 0 || i >= p.info.NumPieces() {
		return resp.StatusCode, fmt.Errorf("origin %s: bad piece header %q", path, resp.Header.Get(HeaderPiece))
	}
	piece := p.info.Piece(i)
	data := make([]byte, piece.Length())
	if _, err := io.ReadFull(resp.Body, data); err != nil {
		return resp.StatusCode, fmt.Errorf("origin piece %d: %w", i, err)
	}
	p.got.Add(int64(len(data)))
	return resp.StatusCode, p.inject(ctx, piece, data)
}

// inject writes a piece the origin sent and has the torrent verify it.
func (p *originPuller) inject(ctx context.Context, piece metainfo.Piece, data []byte) error {
	i := piece.Index()
	sum := sha1.Sum(data)
	if !bytes.Equal(sum[:], piece.V1Hash().Value.Bytes()) {
		return fmt.Errorf("origin piece %d failed its hash", i)
	}
	if p.t.Piece(i).State().Complete {
		return nil
	}
	if _, err := p.st.piece(piece).WriteAt(data, 0); err != nil {
		return err // the storage has recorded it; the peer fails with its code
	}
	return p.t.Piece(i).VerifyDataContext(ctx)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
