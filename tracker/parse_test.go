package tracker

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

var (
	testIH  = InfoHash([]byte("\x00\x01abcdefghij+/ %&=\xff\x7f"))
	testPID = PeerID([]byte("-MC0001-123456789012"))
)

// query builds an announce query from the defaults, with overrides; a value
// of "\x00drop" removes the key.
func query(over map[string]string) string {
	q := url.Values{
		"info_hash":  {string(testIH[:])},
		"peer_id":    {string(testPID[:])},
		"port":       {"6881"},
		"uploaded":   {"10"},
		"downloaded": {"20"},
		"left":       {"30"},
	}
	for k, v := range over {
		if v == "\x00drop" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return q.Encode()
}

func TestParseAnnounce(t *testing.T) {
	remote := netip.MustParseAddr("10.0.0.7")
	base := AnnounceRequest{
		InfoHash: testIH, Peer: Peer{ID: testPID, IP: remote, Port: 6881, Left: 30},
		Uploaded: 10, Downloaded: 20, NumWant: -1, Compact: true,
	}
	tests := []struct {
		name    string
		raw     string
		remote  netip.Addr
		trustIP bool
		want    func(r *AnnounceRequest) // edits base into the expected request
		wantErr string                   // substring of the client error
	}{
		{name: "minimal", raw: query(nil), want: func(*AnnounceRequest) {}},
		{name: "started", raw: query(map[string]string{"event": "started"}), want: func(r *AnnounceRequest) { r.Event = EventStarted }},
		{name: "completed", raw: query(map[string]string{"event": "completed"}), want: func(r *AnnounceRequest) { r.Event = EventCompleted }},
		{name: "stopped", raw: query(map[string]string{"event": "stopped"}), want: func(r *AnnounceRequest) { r.Event = EventStopped }},
		{name: "empty event", raw: query(map[string]string{"event": "empty"}), want: func(*AnnounceRequest) {}},
		{name: "non-compact", raw: query(map[string]string{"compact": "0"}), want: func(r *AnnounceRequest) { r.Compact = false }},
		{name: "numwant", raw: query(map[string]string{"numwant": "12"}), want: func(r *AnnounceRequest) { r.NumWant = 12 }},
		{name: "numwant -1 means default", raw: query(map[string]string{"numwant": "-1"}), want: func(*AnnounceRequest) {}},
		{name: "huge numwant clamps", raw: query(map[string]string{"numwant": "99999999999"}), want: func(r *AnnounceRequest) { r.NumWant = 1<<31 - 1 }},
		{name: "uploaded optional", raw: query(map[string]string{"uploaded": "\x00drop", "downloaded": "\x00drop"}),
			want: func(r *AnnounceRequest) { r.Uploaded, r.Downloaded = 0, 0 }},
		{name: "seeder", raw: query(map[string]string{"left": "0"}), want: func(r *AnnounceRequest) { r.Peer.Left = 0 }},
		{name: "4in6 remote is unmapped", raw: query(nil), remote: netip.MustParseAddr("::ffff:10.0.0.7"), want: func(*AnnounceRequest) {}},
		{name: "ip ignored when untrusted", raw: query(map[string]string{"ip": "10.9.9.9"}), want: func(*AnnounceRequest) {}},
		{name: "ip honoured when trusted", raw: query(map[string]string{"ip": "10.9.9.9"}), trustIP: true,
			want: func(r *AnnounceRequest) { r.Peer.IP = netip.MustParseAddr("10.9.9.9") }},
		{name: "ipv6 ip", raw: query(map[string]string{"ip": "2001:db8::1"}), trustIP: true,
			want: func(r *AnnounceRequest) { r.Peer.IP = netip.MustParseAddr("2001:db8::1") }},
		{name: "several ip: first wins", raw: query(nil) + "&ip=10.1.1.1&ip=2001:db8::1", trustIP: true,
			want: func(r *AnnounceRequest) { r.Peer.IP = netip.MustParseAddr("10.1.1.1") }},

		{name: "missing info_hash", raw: query(map[string]string{"info_hash": "\x00drop"}), wantErr: "missing info_hash"},
		{name: "short info_hash", raw: query(map[string]string{"info_hash": strings.Repeat("a", 19)}), wantErr: "invalid info_hash: 19 bytes"},
		{name: "long info_hash", raw: query(map[string]string{"info_hash": strings.Repeat("a", 21)}), wantErr: "invalid info_hash: 21 bytes"},
		{name: "hex info_hash is too long", raw: query(map[string]string{"info_hash": testIH.String()}), wantErr: "40 bytes"},
		{name: "two info_hash", raw: query(nil) + "&info_hash=" + url.QueryEscape(string(testIH[:])), wantErr: "info_hash given 2 times"},
		{name: "missing peer_id", raw: query(map[string]string{"peer_id": "\x00drop"}), wantErr: "missing peer_id"},
		{name: "short peer_id", raw: query(map[string]string{"peer_id": "abc"}), wantErr: "invalid peer_id: 3 bytes"},
		{name: "missing port", raw: query(map[string]string{"port": "\x00drop"}), wantErr: "missing port"},
		{name: "port 0", raw: query(map[string]string{"port": "0"}), wantErr: "invalid port 0"},
		{name: "port too big", raw: query(map[string]string{"port": "65536"}), wantErr: "invalid port"},
		{name: "port negative", raw: query(map[string]string{"port": "-1"}), wantErr: "invalid port"},
		{name: "port not a number", raw: query(map[string]string{"port": "http"}), wantErr: "invalid port"},
		{name: "missing left", raw: query(map[string]string{"left": "\x00drop"}), wantErr: "missing left"},
		{name: "negative left", raw: query(map[string]string{"left": "-5"}), wantErr: "invalid left"},
		{name: "bad uploaded", raw: query(map[string]string{"uploaded": "1e3"}), wantErr: "invalid uploaded"},
		{name: "bad numwant", raw: query(map[string]string{"numwant": "lots"}), wantErr: "invalid numwant"},
		{name: "bad event", raw: query(map[string]string{"event": "paused"}), wantErr: `unknown event "paused"`},
		{name: "bad compact", raw: query(map[string]string{"compact": "yes"}), wantErr: "invalid compact"},
		{name: "bad ip", raw: query(map[string]string{"ip": "example.com"}), trustIP: true, wantErr: "invalid ip"},
		{name: "unspecified ip", raw: query(map[string]string{"ip": "0.0.0.0"}), trustIP: true, wantErr: "unusable peer address"},
		{name: "bad escape", raw: query(nil) + "&x=%zz", wantErr: "malformed query"},
		{name: "empty query", raw: "", wantErr: "missing info_hash"},
		{name: "too long", raw: query(nil) + "&pad=" + strings.Repeat("x", maxQueryLen), wantErr: "query too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.remote
			if !r.IsValid() {
				r = remote
			}
			got, err := parseAnnounce(tt.raw, r, tt.trustIP)
			if tt.wantErr != "" {
				var ce *ClientError
				if !errors.As(err, &ce) || !strings.Contains(ce.Msg, tt.wantErr) {
					t.Fatalf("err = %v, want a ClientError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			want := base
			tt.want(&want)
			if *got != want {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
		})
	}
}

// encodeAnnounceQuery is the inverse of parseAnnounce, for the fuzz test.
func encodeAnnounceQuery(r *AnnounceRequest) string {
	q := url.Values{
		"info_hash":  {string(r.InfoHash[:])},
		"peer_id":    {string(r.Peer.ID[:])},
		"port":       {strconv.Itoa(int(r.Peer.Port))},
		"left":       {strconv.FormatInt(r.Peer.Left, 10)},
		"uploaded":   {strconv.FormatInt(r.Uploaded, 10)},
		"downloaded": {strconv.FormatInt(r.Downloaded, 10)},
		"numwant":    {strconv.Itoa(r.NumWant)},
		"ip":         {r.Peer.IP.String()},
	}
	if r.Event != EventNone {
		q.Set("event", r.Event.String())
	}
	if !r.Compact {
		q.Set("compact", "0")
	}
	return q.Encode()
}

func FuzzParseAnnounce(f *testing.F) {
	f.Add(query(nil), "10.0.0.1", false)
	f.Add(query(map[string]string{"event": "started", "compact": "0", "numwant": "5"}), "127.0.0.1", true)
	f.Add(query(map[string]string{"ip": "2001:db8::1"}), "::1", true)
	f.Add(query(map[string]string{"port": "0"}), "10.0.0.1", false)
	f.Add("info_hash=%00%00&peer_id=x&port=1&left=0", "10.0.0.1", false)
	f.Add("info_hash=%zz", "fe80::1%eth0", false)
	f.Add(";;&&==", "", true)
	f.Fuzz(func(t *testing.T, raw, remoteStr string, trustIP bool) {
		remote, _ := netip.ParseAddr(remoteStr)
		req, err := parseAnnounce(raw, remote, trustIP)
		if err != nil {
			var ce *ClientError
			if !errors.As(err, &ce) || ce.Msg == "" {
				t.Fatalf("error %v is not a ClientError with a message", err)
			}
			return
		}
		if err := req.Peer.Validate(); err != nil {
			t.Fatalf("parsed an invalid peer from %q: %v", raw, err)
		}
		if req.NumWant < -1 || req.Uploaded < 0 || req.Downloaded < 0 || req.Event > EventStopped {
			t.Fatalf("out-of-range request from %q: %+v", raw, req)
		}
		again, err := parseAnnounce(encodeAnnounceQuery(req), netip.MustParseAddr("127.0.0.1"), true)
		if err != nil {
			t.Fatalf("re-encoded request does not parse: %v", err)
		}
		if *again != *req {
			t.Fatalf("round trip changed the request:\n %+v\n %+v", *req, *again)
		}
	})
}
