package swarm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

// Announce timing during a deploy: the first announce is immediate, later
// ones follow the tracker's interval clamped to [minAnnounce, maxAnnounce],
// and failures retry after retryAnnounce.
const (
	minAnnounce   = 1 * time.Second
	maxAnnounce   = 5 * time.Second
	retryAnnounce = 1 * time.Second
	// defaultNumWant is asked for when the peer has no connection target.
	defaultNumWant = 50
)

// announceStats is what an announce reports about the local peer.
type announceStats struct {
	Uploaded, Downloaded, Left int64
}

// announcer is a small BEP 3 HTTP tracker client. It replaces the
// library's, whose failed announces back off for a minute.
type announcer struct {
	URL      string
	InfoHash [20]byte
	PeerID   [20]byte
	Port     int
	LocalIP  net.IP // announce from this address when set
	// AnnounceIP is sent as the ip parameter when set.
	AnnounceIP string
	Stats      func() announceStats
	// Want, when set, says how many peers to ask for and whether to
	// announce again soon (the peer is short of connections). Nil asks
	// for defaultNumWant at the tracker's pace.
	Want     func() (numWant int, soon bool)
	AddPeers func(addrs []string)
	Logger   *slog.Logger

	client    *http.Client
	completed chan struct{} // signalled once when the download finishes
	// silentExit skips the event=stopped announce when Run ends.
	silentExit atomic.Bool
}

func (a *announcer) init() {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if a.LocalIP != nil {
		d.LocalAddr = &net.TCPAddr{IP: a.LocalIP}
	}
	a.client = &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, Proxy: nil, MaxIdleConns: 1},
	}
	a.completed = make(chan struct{}, 1)
}

// Completed asks for an event=completed announce now.
func (a *announcer) Completed() {
	select {
	case a.completed <- struct{}{}:
	default:
	}
}

// LeaveSilently makes Run end without an event=stopped announce: the
// whole deploy is over and its tracker with it. At 50 hosts the farewell
// cost each peer 70-180 ms of its exit on a busy machine, and the deploy
// waits for the last peer to exit (docs/benchmarks.md, ninth session).
func (a *announcer) LeaveSilently() { a.silentExit.Store(true) }

// Run announces until ctx ends, then sends event=stopped (bounded by a
// short timeout of its own) unless told to LeaveSilently.
func (a *announcer) Run(ctx context.Context) {
	event := "started"
	for {
		wait := retryAnnounce
		numWant, soon := defaultNumWant, false
		if a.Want != nil {
			numWant, soon = a.Want()
		}
		interval, err := a.announce(ctx, event, numWant)
		if err == nil {
			event = ""
			wait = min(max(interval, minAnnounce), maxAnnounce)
			if soon {
				wait = minAnnounce
			}
		} else if ctx.Err() == nil {
			a.Logger.Warn("announce failed", "url", redactURL(a.URL), "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if a.silentExit.Load() {
				return
			}
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			a.announce(sctx, "stopped", 0)
			cancel()
			return
		case <-a.completed:
			t.Stop()
			event = "completed"
		case <-t.C:
		}
	}
}

// announce sends one request and adds the returned peers.
func (a *announcer) announce(ctx context.Context, event string, numWant int) (time.Duration, error) {
	u, err := url.Parse(a.URL)
	if err != nil {
		return 0, fmt.Errorf("announce url: %w", err)
	}
	st := a.Stats()
	q := u.RawQuery
	if q != "" {
		q += "&"
	}
	q += "info_hash=" + url.QueryEscape(string(a.InfoHash[:])) +
		"&peer_id=" + url.QueryEscape(string(a.PeerID[:])) +
		"&port=" + strconv.Itoa(a.Port) +
		"&uploaded=" + strconv.FormatInt(st.Uploaded, 10) +
		"&downloaded=" + strconv.FormatInt(st.Downloaded, 10) +
		"&left=" + strconv.FormatInt(st.Left, 10) +
		"&compact=1&numwant=" + strconv.Itoa(numWant)
	if event != "" {
		q += "&event=" + event
	}
	if a.AnnounceIP != "" {
		q += "&ip=" + url.QueryEscape(a.AnnounceIP)
	}
	u.RawQuery = q
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("announce request: %w", err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("announce to %s: %w", redactURL(a.URL), redactErr(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("read announce response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("announce: tracker answered %s", resp.Status)
	}
	interval, peers, err := parseAnnounceResponse(body)
	if err != nil {
		return 0, err
	}
	if len(peers) > 0 {
		a.AddPeers(peers)
	}
	return interval, nil
}

// announceResponse is a BEP 3 tracker answer. Peers is kept raw: it is a
// BEP 23 compact string or a list of dictionaries.
type announceResponse struct {
	FailureReason string        `bencode:"failure reason"`
	Interval      int64         `bencode:"interval"`
	MinInterval   int64         `bencode:"min interval"`
	Peers         bencode.Bytes `bencode:"peers"`
	Peers6        []byte        `bencode:"peers6"`
}

// parseAnnounceResponse decodes a tracker answer into its interval and
// ip:port peer addresses.
func parseAnnounceResponse(body []byte) (time.Duration, []string, error) {
	var r announceResponse
	if err := bencode.Unmarshal(body, &r); err != nil {
		return 0, nil, fmt.Errorf("decode announce response: %w", err)
	}
	if r.FailureReason != "" {
		return 0, nil, fmt.Errorf("tracker refused announce: %s", r.FailureReason)
	}
	var peers []string
	if len(r.Peers) > 0 {
		if r.Peers[0] == 'l' {
			var list []struct {
				IP   string `bencode:"ip"`
				Port int    `bencode:"port"`
			}
			if err := bencode.Unmarshal(r.Peers, &list); err != nil {
				return 0, nil, fmt.Errorf("decode peer list: %w", err)
			}
			for _, p := range list {
				if a, err := netip.ParseAddr(p.IP); err == nil && p.Port > 0 && p.Port < 65536 {
					peers = append(peers, netip.AddrPortFrom(a, uint16(p.Port)).String())
				}
			}
		} else {
			var compact []byte
			if err := bencode.Unmarshal(r.Peers, &compact); err != nil {
				return 0, nil, fmt.Errorf("decode compact peers: %w", err)
			}
			peers = append(peers, compactPeers(compact, 4)...)
		}
	}
	peers = append(peers, compactPeers(r.Peers6, 16)...)
	return time.Duration(r.Interval) * time.Second, peers, nil
}

// compactPeers splits a BEP 23 (ipLen 4) or BEP 7 (ipLen 16) string.
func compactPeers(b []byte, ipLen int) []string {
	n := ipLen + 2
	var out []string
	for i := 0; i+n <= len(b); i += n {
		a, _ := netip.AddrFromSlice(b[i : i+ipLen])
		port := binary.BigEndian.Uint16(b[i+ipLen : i+n])
		if port != 0 {
			out = append(out, netip.AddrPortFrom(a.Unmap(), port).String())
		}
	}
	return out
}

// redactURL drops the query (which holds the deploy's secret token).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<bad url>"
	}
	u.RawQuery = ""
	u.User = nil
	return u.String()
}

// redactErr strips the request URL from a *url.Error.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
