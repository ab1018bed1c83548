package tracker_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"github.com/murderctl/murderctl/tracker"
	"github.com/murderctl/murderctl/tracker/memstore"
	"github.com/murderctl/murderctl/tracker/trackertest"
)

// fixture is a tracker on a memstore and a manual clock, served by httptest.
type fixture struct {
	t     *testing.T
	tr    *tracker.Tracker
	store *memstore.Store
	clock *trackertest.Clock
	srv   *httptest.Server
	ih    tracker.InfoHash
}

func newFixture(t *testing.T, cfg tracker.Config) *fixture {
	t.Helper()
	clock := trackertest.NewClock()
	store := memstore.New(clock)
	tr := tracker.New(cfg, store, nil, clock, nil)
	srv := httptest.NewServer(tr.Handler())
	t.Cleanup(srv.Close)
	return &fixture{t: t, tr: tr, store: store, clock: clock, srv: srv, ih: trackertest.InfoHashFixture()}
}

// announcer is one simulated host; query takes key, value pairs to
// override (an empty value drops the key). The test server sees loopback, so
// the `ip` parameter is honoured and each host can have its own address.
type announcer struct {
	id   tracker.PeerID
	addr netip.AddrPort
	left int64
}

func host(addr string, left int64) announcer {
	return announcer{id: trackertest.PeerIDFixture(), addr: netip.MustParseAddrPort(addr), left: left}
}

func (a announcer) query(ih tracker.InfoHash, extra ...string) string {
	q := url.Values{
		"info_hash": {string(ih[:])}, "peer_id": {string(a.id[:])},
		"port": {strconv.Itoa(int(a.addr.Port()))}, "left": {strconv.FormatInt(a.left, 10)},
		"uploaded": {"0"}, "downloaded": {"0"}, "ip": {a.addr.Addr().String()},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return q.Encode()
}

// get fetches path?rawQuery and decodes the bencoded body.
func (f *fixture) get(path, rawQuery string) (int, map[string]any) {
	f.t.Helper()
	resp, err := http.Get(f.srv.URL + path + "?" + rawQuery)
	if err != nil {
		f.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("read body: %v", err)
	}
	var body map[string]any
	if err := bencode.Unmarshal(raw, &body); err != nil {
		f.t.Fatalf("GET %s: status %d, body %q is not a bencoded dict: %v", path, resp.StatusCode, raw, err)
	}
	return resp.StatusCode, body
}

// announce announces a and fails the test unless it gets 200.
func (f *fixture) announce(a announcer, extra ...string) map[string]any {
	f.t.Helper()
	status, body := f.get("/announce", a.query(f.ih, extra...))
	if status != http.StatusOK || body["failure reason"] != nil {
		f.t.Fatalf("announce %s: status %d, body %v", a.addr, status, body)
	}
	return body
}

// compactPeers decodes a BEP 23 / BEP 7 compact peer string.
func compactPeers(t *testing.T, v any, ipLen int) []netip.AddrPort {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("compact peers is %T, want a byte string", v)
	}
	if len(s)%(ipLen+2) != 0 {
		t.Fatalf("compact peers length %d is not a multiple of %d", len(s), ipLen+2)
	}
	var out []netip.AddrPort
	for b := []byte(s); len(b) > 0; b = b[ipLen+2:] {
		ip, _ := netip.AddrFromSlice(b[:ipLen])
		out = append(out, netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[ipLen:])))
	}
	return out
}

func addrSet(aps []netip.AddrPort) map[netip.AddrPort]bool {
	m := make(map[netip.AddrPort]bool)
	for _, ap := range aps {
		m[ap] = true
	}
	return m
}

func TestAnnounceCompact(t *testing.T) {
	f := newFixture(t, tracker.Config{})
	a, b, c := host("10.0.0.1:6881", 100), host("10.0.0.2:6881", 100), host("10.0.0.3:7000", 0)
	first := f.announce(a, "event", "started")
	if got := compactPeers(t, first["peers"], 4); len(got) != 0 {
		t.Errorf("first announcer got peers %v, want none (never itself)", got)
	}
	f.announce(b)
	f.announce(c, "event", "completed")
	me := host("10.0.0.4:6881", 100)
	body := f.announce(me)

	got := addrSet(compactPeers(t, body["peers"], 4))
	want := []netip.AddrPort{a.addr, b.addr, c.addr}
	if len(got) != len(want) {
		t.Fatalf("peers = %v, want %v", got, want)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("peer %s missing from %v", w, got)
		}
	}
	checks := map[string]int64{"interval": 5, "min interval": 1, "complete": 1, "incomplete": 3}
	for k, v := range checks {
		if body[k] != v {
			t.Errorf("%s = %v, want %d", k, body[k], v)
		}
	}
	if _, ok := body["peers6"]; ok {
		t.Errorf("peers6 present without IPv6 peers: %v", body["peers6"])
	}
	st := f.tr.Stats()
	if st.Announces != 4 || st.Peers() != 4 || st.Seeders != 1 || st.Swarms != 1 {
		t.Errorf("Stats = %+v, want 4 announces, 4 peers (1 seeder) in 1 swarm", st)
	}
}

func TestAnnounceNonCompactAndIPv6(t *testing.T) {
	f := newFixture(t, tracker.Config{})
	v4, v6 := host("10.0.0.1:6881", 5), host("[2001:db8::9]:51413", 5)
	f.announce(v4)
	f.announce(v6)
	me := host("10.0.0.2:6881", 5)

	body := f.announce(me)
	if got := compactPeers(t, body["peers"], 4); len(got) != 1 || got[0] != v4.addr {
		t.Errorf("compact peers = %v, want [%s]", got, v4.addr)
	}
	if got := compactPeers(t, body["peers6"], 16); len(got) != 1 || got[0] != v6.addr {
		t.Errorf("compact peers6 = %v, want [%s]", got, v6.addr)
	}

	body = f.announce(me, "compact", "0")
	list, ok := body["peers"].([]any)
	if !ok || len(list) != 2 {
		t.Fatalf("non-compact peers = %#v, want a list of 2 dicts", body["peers"])
	}
	seen := map[netip.AddrPort]tracker.PeerID{}
	for _, item := range list {
		d := item.(map[string]any)
		ap := netip.AddrPortFrom(netip.MustParseAddr(d["ip"].(string)), uint16(d["port"].(int64)))
		seen[ap] = tracker.PeerID([]byte(d["peer id"].(string)))
	}
	if seen[v4.addr] != v4.id || seen[v6.addr] != v6.id {
		t.Errorf("non-compact peers = %v, want %s=%s and %s=%s", seen, v4.addr, v4.id, v6.addr, v6.id)
	}
}

func TestAnnounceNeverSelf(t *testing.T) {
	f := newFixture(t, tracker.Config{})
	other := host("10.0.0.1:6881", 5)
	f.announce(other)
	me := host("10.0.0.2:6881", 5)
	f.announce(me)
	restarted := me // same address, new peer ID: the old entry is stale
	restarted.id = trackertest.PeerIDFixture()
	body := f.announce(restarted)
	if got := compactPeers(t, body["peers"], 4); len(got) != 1 || got[0] != other.addr {
		t.Errorf("peers = %v, want only %s (never the requester's own address)", got, other.addr)
	}
}

func TestSeederGetsOnlyLeechers(t *testing.T) {
	f := newFixture(t, tracker.Config{})
	seed, leech := host("10.0.0.1:6881", 0), host("10.0.0.2:6881", 9)
	f.announce(seed)
	f.announce(leech)
	body := f.announce(host("10.0.0.3:6881", 0))
	if got := compactPeers(t, body["peers"], 4); len(got) != 1 || got[0] != leech.addr {
		t.Errorf("seeder got %v, want only the leecher %s", got, leech.addr)
	}
}

func TestStoppedRemovesPeer(t *testing.T) {
	f := newFixture(t, tracker.Config{})
	a, b := host("10.0.0.1:6881", 5), host("10.0.0.2:6881", 5)
	f.announce(a)
	f.announce(b)
	body := f.announce(a, "event", "stopped")
	if got := compactPeers(t, body["peers"], 4); len(got) != 0 {
		t.Errorf("stopped announce got peers %v", got)
	}
	if body["incomplete"] != int64(1) {
		t.Errorf("incomplete after stop = %v, want 1", body["incomplete"])
	}
	body = f.announce(b)
	if got := compactPeers(t, body["peers"], 4); len(got) != 0 {
		t.Errorf("stopped peer still handed out: %v", got)
	}
	f.announce(a, "event", "stopped") // stopping twice is not an error
}

func TestExpiry(t *testing.T) {
	f := newFixture(t, tracker.Config{AnnounceInterval: 10 * time.Second, PeerTTL: 30 * time.Second})
	gone, stays := host("10.0.0.1:6881", 5), host("10.0.0.2:6881", 5)
	f.announce(gone)
	for range 4 { // stays announces every interval; gone falls silent
		f.clock.Advance(10 * time.Second)
		f.announce(stays)
	}
	body := f.announce(host("10.0.0.3:6881", 5))
	if got := compactPeers(t, body["peers"], 4); len(got) != 1 || got[0] != stays.addr {
		t.Errorf("after 40s: peers = %v, want only %s (the silent peer expired after 30s)", got, stays.addr)
	}
	if body["interval"] != int64(10) {
		t.Errorf("interval = %v, want 10", body["interval"])
	}
}

func TestNumWant(t *testing.T) {
	f := newFixture(t, tracker.Config{})
	for i := range 260 {
		p := trackertest.PeerFixtureAt(fmt.Sprintf("10.0.%d.%d:6881", i/200, i%200+1), 5)
		if err := f.store.PutPeer(context.Background(), f.ih, p, f.clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	me := host("10.9.0.1:6881", 5)
	tests := []struct {
		numwant string
		want    int
	}{{"", 50}, {"-1", 50}, {"0", 0}, {"3", 3}, {"199", 199}, {"1000", 200}}
	for _, tt := range tests {
		t.Run("numwant="+tt.numwant, func(t *testing.T) {
			var extra []string
			if tt.numwant != "" {
				extra = []string{"numwant", tt.numwant}
			}
			body := f.announce(me, extra...)
			if got := compactPeers(t, body["peers"], 4); len(got) != tt.want {
				t.Errorf("got %d peers, want %d", len(got), tt.want)
			}
			if body["incomplete"] != int64(261) {
				t.Errorf("incomplete = %v, want 261", body["incomplete"])
			}
		})
	}
}

func TestScrape(t *testing.T) {
	f := newFixture(t, tracker.Config{})
	f.announce(host("10.0.0.1:6881", 0))
	f.announce(host("10.0.0.2:6881", 7))
	other := trackertest.InfoHashFixture()
	q := url.Values{"info_hash": {string(f.ih[:]), string(other[:])}}
	status, body := f.get("/scrape", q.Encode())
	files, ok := body["files"].(map[string]any)
	if status != http.StatusOK || !ok || len(files) != 2 {
		t.Fatalf("scrape: status %d, body %v", status, body)
	}
	got := files[string(f.ih[:])].(map[string]any)
	if got["complete"] != int64(1) || got["incomplete"] != int64(1) {
		t.Errorf("scrape counts = %v, want 1 seeder, 1 leecher", got)
	}
	if status, body := f.get("/scrape", ""); status != http.StatusBadRequest || body["failure reason"] == nil {
		t.Errorf("scrape without info_hash: status %d, body %v", status, body)
	}
}

// brokenStore fails every call, as a Redis outage would.
type brokenStore struct{}

var errOutage = errors.New("connection refused")

func (brokenStore) PutPeer(context.Context, tracker.InfoHash, tracker.Peer, time.Time) error {
	return errOutage
}
func (brokenStore) DeletePeer(context.Context, tracker.InfoHash, tracker.PeerID) error {
	return errOutage
}
func (brokenStore) Peers(context.Context, tracker.InfoHash) ([]tracker.Peer, error) {
	return nil, errOutage
}
func (brokenStore) Counts(context.Context, tracker.InfoHash) (tracker.Counts, error) {
	return tracker.Counts{}, errOutage
}

func TestStoreFailureIsServerError(t *testing.T) {
	tr := tracker.New(tracker.Config{}, brokenStore{}, nil, nil, nil)
	srv := httptest.NewServer(tr.Handler())
	defer srv.Close()
	f := &fixture{t: t, tr: tr, srv: srv, ih: trackertest.InfoHashFixture()}
	status, body := f.get("/announce", host("10.0.0.1:6881", 5).query(f.ih))
	if status != http.StatusInternalServerError || body["failure reason"] != "internal tracker error" {
		t.Errorf("status %d, body %v; want 500 with a generic failure reason", status, body)
	}
	if strings.Contains(fmt.Sprint(body), "refused") {
		t.Errorf("store error details leaked to the client: %v", body)
	}
	if st := tr.Stats(); st.Failures != 1 || st.Announces != 0 {
		t.Errorf("Stats = %+v, want 1 failure and 0 announces", st)
	}
	_, err := tr.Announce(context.Background(), &tracker.AnnounceRequest{Peer: trackertest.PeerFixture()})
	if !errors.Is(err, errOutage) {
		t.Errorf("Announce error = %v, want it to wrap the store's", err)
	}
}
