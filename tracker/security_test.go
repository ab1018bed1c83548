package tracker_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	httpTracker "github.com/anacrolix/torrent/tracker/http"
	"github.com/anacrolix/torrent/tracker/udp"

	"github.com/murderctl/murderctl/tracker"
	"github.com/murderctl/murderctl/tracker/memstore"
	"github.com/murderctl/murderctl/tracker/trackertest"
)

func TestRefusals(t *testing.T) {
	const token = "s3cr/t+?%x" // characters that must be escaped in a path
	f := newFixture(t, tracker.Config{Token: token})
	good := host("10.0.0.1:6881", 5).query(f.ih)
	announceURL := f.tr.AnnounceURL(f.srv.URL)
	goodPath := strings.TrimPrefix(announceURL, f.srv.URL)
	tokenPrefix := strings.TrimSuffix(goodPath, "announce")

	tests := []struct {
		name, method, path, query string
		status                    int
		reason                    string
	}{
		{"right token", "GET", goodPath, good, 200, ""},
		{"right token scrape", "GET", tokenPrefix + "scrape", "info_hash=" + url.QueryEscape(string(f.ih[:])), 200, ""},
		{"no token", "GET", "/announce", good, 403, "forbidden"},
		{"wrong token", "GET", "/s3cr3t/announce", good, 403, "forbidden"},
		{"token prefix", "GET", "/s3cr/announce", good, 403, "forbidden"},
		{"empty token", "GET", "//announce", good, 403, "forbidden"},
		{"other path", "GET", tokenPrefix + "stats", good, 404, "not found"},
		{"root", "GET", "/", "", 404, "not found"},
		{"extra segment", "GET", "/x" + goodPath, good, 404, "not found"},
		{"POST", "POST", goodPath, good, 405, "method not allowed"},
		{"bad info_hash", "GET", goodPath, host("10.0.0.1:6881", 5).query(f.ih, "info_hash", "short"), 400, "invalid info_hash: 5 bytes"},
		{"bad port", "GET", goodPath, host("10.0.0.1:6881", 5).query(f.ih, "port", "0"), 400, "invalid port"},
		{"missing fields", "GET", goodPath, "info_hash=" + url.QueryEscape(string(f.ih[:])), 400, "missing peer_id"},
	}
	rejected := uint64(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, f.srv.URL+tt.path+"?"+tt.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var body map[string]any
			if err := bencode.Unmarshal(raw, &body); err != nil {
				t.Fatalf("body %q is not bencoded: %v", raw, err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%v), want %d", resp.StatusCode, body, tt.status)
			}
			reason, _ := body["failure reason"].(string)
			if tt.reason == "" && reason != "" || !strings.Contains(reason, tt.reason) {
				t.Errorf("failure reason %q, want one containing %q", reason, tt.reason)
			}
			if tt.status != 200 {
				rejected++
			}
			if strings.Contains(string(raw), token) {
				t.Errorf("the response leaks the token: %q", raw)
			}
		})
	}
	if st := f.tr.Stats(); st.Rejected != rejected {
		t.Errorf("Stats.Rejected = %d, want %d", st.Rejected, rejected)
	}
}

// serveFrom runs one announce through the handler as if it came from remote.
func serveFrom(t *testing.T, tr *tracker.Tracker, remote string, query string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", "/announce?"+query, nil)
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	tr.Handler().ServeHTTP(rec, req)
	var body map[string]any
	if err := bencode.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not bencoded: %v", rec.Body.Bytes(), err)
	}
	reason, _ := body["failure reason"].(string)
	return rec.Code, reason
}

func TestAllowedIPs(t *testing.T) {
	allowed := []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("2001:db8::5")}
	ih := trackertest.InfoHashFixture()
	tests := []struct {
		name, remote, ip string
		trustIP          bool
		status           int
	}{
		{"allowed host", "10.0.0.5:40000", "", false, 200},
		{"allowed 4in6 remote", "[::ffff:10.0.0.5]:40000", "", false, 200},
		{"allowed ipv6 host", "[2001:db8::5]:40000", "", false, 200},
		{"stranger", "10.0.0.6:40000", "", false, 403},
		{"stranger claiming an allowed ip", "10.0.0.6:40000", "10.0.0.5", true, 403},
		{"allowed host claiming a stranger's ip", "10.0.0.5:40000", "10.0.0.6", true, 403},
		{"loopback for an allowed host", "127.0.0.1:40000", "10.0.0.5", false, 200},
		{"loopback for a stranger", "127.0.0.1:40000", "10.0.0.6", false, 403},
		{"loopback without ip", "127.0.0.1:40000", "", false, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := trackertest.NewClock()
			tr := tracker.New(tracker.Config{AllowedIPs: allowed, TrustIPParam: tt.trustIP}, memstore.New(clock), nil, clock, nil)
			a := host("10.0.0.5:6881", 5)
			q := a.query(ih, "ip", tt.ip)
			status, reason := serveFrom(t, tr, tt.remote, q)
			if status != tt.status {
				t.Fatalf("status %d (%q), want %d", status, reason, tt.status)
			}
			if status == 403 && !strings.Contains(reason, "address not allowed") {
				t.Errorf("reason %q, want it to say the address is not allowed", reason)
			}
		})
	}
}

func TestIPParamHonouredOnlyWhenTrusted(t *testing.T) {
	tests := []struct {
		name, remote string
		trust        bool
		want         string
	}{
		{"remote host: ignored", "10.0.0.5:40000", false, "10.0.0.5"},
		{"remote host, trusted: honoured", "10.0.0.5:40000", true, "10.9.9.9"},
		{"loopback: honoured", "127.0.0.1:40000", false, "10.9.9.9"},
		{"ipv6 loopback: honoured", "[::1]:40000", false, "10.9.9.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := trackertest.NewClock()
			store := memstore.New(clock)
			tr := tracker.New(tracker.Config{TrustIPParam: tt.trust}, store, nil, clock, nil)
			ih := trackertest.InfoHashFixture()
			if status, reason := serveFrom(t, tr, tt.remote, host("10.9.9.9:6881", 5).query(ih)); status != 200 {
				t.Fatalf("status %d: %s", status, reason)
			}
			ps, err := store.Peers(context.Background(), ih)
			if err != nil || len(ps) != 1 {
				t.Fatalf("Peers = %v, %v", ps, err)
			}
			if got := ps[0].IP.String(); got != tt.want {
				t.Errorf("stored IP %s, want %s", got, tt.want)
			}
		})
	}
}

// TestAnacrolixClient announces with the BitTorrent client murderctl's peers
// use, so the wire format is checked by a real decoder.
func TestAnacrolixClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := tracker.New(tracker.Config{Token: "deploy-secret"}, memstore.New(nil), nil, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- tr.Serve(ctx, ln) }()

	u, err := url.Parse(tr.AnnounceURL("http://" + ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	cl := httpTracker.NewClient(u, httpTracker.NewClientOpts{})
	ih := trackertest.InfoHashFixture()
	announce := func(port uint16, left int64) httpTracker.AnnounceResponse {
		t.Helper()
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		defer acancel()
		resp, err := cl.Announce(actx, udp.AnnounceRequest{
			InfoHash: [20]byte(ih), PeerId: [20]byte(trackertest.PeerIDFixture()), Left: left, Port: port, NumWant: -1,
		}, httpTracker.AnnounceOpt{})
		if err != nil {
			t.Fatalf("anacrolix announce: %v", err)
		}
		return resp
	}
	announce(7001, 0)
	announce(7002, 100)
	resp := announce(7003, 100)
	if resp.Seeders != 1 || resp.Leechers != 2 || resp.Interval != 5 || len(resp.Peers) != 2 {
		t.Errorf("anacrolix saw %+v, want 1 seeder, 2 leechers, interval 5, 2 peers", resp)
	}
	for _, p := range resp.Peers {
		if !p.IP.Equal(net.IPv4(127, 0, 0, 1)) || p.Port == 7003 {
			t.Errorf("unexpected peer %s", p)
		}
	}

	bad := httpTracker.NewClient(&url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/wrong/announce"}, httpTracker.NewClientOpts{})
	_, err = bad.Announce(ctx, udp.AnnounceRequest{InfoHash: [20]byte(ih), PeerId: [20]byte(trackertest.PeerIDFixture()), Port: 1}, httpTracker.AnnounceOpt{})
	if err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("announce with a wrong token: err = %v, want a forbidden failure", err)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
}
