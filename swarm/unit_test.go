package swarm

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

func TestChoosePieceLength(t *testing.T) {
	tests := []struct {
		size int64
		want int64
	}{
		{1, 1 << 20},
		{32 << 20, 1 << 20},
		{256 << 20, 1 << 20},
		{257 << 20, 2 << 20},
		{1 << 30, 4 << 20},
		{100 << 30, 8 << 20},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(time.Duration(tt.size).String(), "ns", "B"), func(t *testing.T) {
			if got := ChoosePieceLength(tt.size); got != tt.want {
				t.Errorf("ChoosePieceLength(%d) = %d, want %d", tt.size, got, tt.want)
			}
		})
	}
}

func TestBuildRefusesBadSources(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	unreadable := filepath.Join(dir, "secret")
	os.WriteFile(unreadable, []byte("x"), 0o000)
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"directory", dir, "is a directory"},
		{"empty", empty, "is empty"},
		{"unreadable", unreadable, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "unreadable" && os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
			_, err := Build(context.Background(), tt.path, 0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build: %v, want an error containing %q", err, tt.want)
			}
			if _, _, err := HashFile(context.Background(), tt.path); err == nil {
				t.Error("HashFile accepted it")
			}
		})
	}
}

func TestBuildOnePass(t *testing.T) {
	src := writeRandomFile(t, t.TempDir(), "f.bin", 3<<20+17)
	b, err := Build(context.Background(), src, 0)
	if err != nil {
		t.Fatal(err)
	}
	sum, size, err := HashFile(context.Background(), src)
	if err != nil || sum != b.SHA256 || size != b.Size {
		t.Fatalf("HashFile = %s %d %v; Build gave %s %d", sum, size, err, b.SHA256, b.Size)
	}
	info, err := loadInfo(b.MetaInfo)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "f.bin" || info.NumPieces() != 4 || len(b.MetaInfo.Announce) != 0 {
		t.Errorf("info %q with %d pieces, announce %q", info.Name, info.NumPieces(), b.MetaInfo.Announce)
	}
	f, _ := os.Open(src)
	defer f.Close()
	if _, ok, err := verifyPieces(context.Background(), f, info); err != nil || !allTrue(ok) {
		t.Errorf("pieces of the source do not verify: %v %v", ok, err)
	}
}

func allTrue(b []bool) bool {
	for _, v := range b {
		if !v {
			return false
		}
	}
	return true
}

func TestStartSeederRefusesChangedFile(t *testing.T) {
	dir := t.TempDir()
	src := writeRandomFile(t, dir, "f.bin", 2<<20)
	b, err := Build(context.Background(), src, 0)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(src, os.O_WRONLY, 0)
	f.WriteAt([]byte("tampered"), 1<<20+5)
	f.Close()
	_, err = StartSeeder(context.Background(), SeederConfig{ListenAddr: "127.0.0.1:0", Path: src, MetaInfo: b.MetaInfo})
	if err == nil || !strings.Contains(err.Error(), "piece 1 differs") {
		t.Errorf("StartSeeder: %v, want a changed-file error", err)
	}
}

func TestParseAnnounceResponse(t *testing.T) {
	enc := func(v any) []byte { b, _ := bencode.Marshal(v); return b }
	tests := []struct {
		name    string
		body    []byte
		want    []string
		wantErr string
	}{
		{"compact", enc(map[string]any{"interval": 3, "peers": []byte{10, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80}}),
			[]string{"10.0.0.1:6881", "10.0.0.2:80"}, ""},
		{"compact ipv6", enc(map[string]any{"interval": 3, "peers": []byte{}, "peers6": append(net.ParseIP("fd00::1").To16(), 0, 81)}),
			[]string{"[fd00::1]:81"}, ""},
		{"dict list", enc(map[string]any{"interval": 3, "peers": []map[string]any{{"ip": "10.0.0.3", "port": 7}, {"ip": "bogus", "port": 8}}}),
			[]string{"10.0.0.3:7"}, ""},
		{"zero port skipped", enc(map[string]any{"peers": []byte{10, 0, 0, 1, 0, 0}}), nil, ""},
		{"failure", enc(map[string]any{"failure reason": "bad token"}), nil, "bad token"},
		{"garbage", []byte("<html>"), nil, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := parseAnnounceResponse(tt.body)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v %v, want %v", got, err, tt.want)
			}
		})
	}
}

func TestPieceClassesSpreadPeers(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	const n = 64
	firsts := map[int]bool{}
	for range 8 {
		c := pieceClasses(n, rnd)
		counts := make([]int, len(priorityClasses))
		for i, k := range c {
			counts[k]++
			if k == 0 && (i == 0 || c[i-1] != 0) {
				firsts[i] = true
			}
		}
		for k, cnt := range counts {
			if cnt < n/len(priorityClasses)-1 || cnt > n/len(priorityClasses)+1 {
				t.Errorf("class %d holds %d of %d pieces", k, cnt, n)
			}
		}
	}
	if len(firsts) < 4 {
		t.Errorf("8 peers start at only %d distinct pieces: %v", len(firsts), firsts)
	}
	if got := pieceClasses(0, rnd); len(got) != 0 {
		t.Errorf("no pieces gave %v", got)
	}
}

func TestAllowList(t *testing.T) {
	al, err := newAllowList([]string{"10.0.0.1", "192.168.1.0/24", "fd00::5"})
	if err != nil {
		t.Fatal(err)
	}
	for ip, allowed := range map[string]bool{
		"10.0.0.1": true, "10.0.0.2": false, "192.168.1.77": true, "192.168.2.1": false,
		"fd00::5": true, "fd00::6": false, "::ffff:10.0.0.1": true,
	} {
		if _, blocked := al.Lookup(net.ParseIP(ip)); blocked == allowed {
			t.Errorf("%s: blocked=%v, want allowed=%v", ip, blocked, allowed)
		}
	}
	if _, err := newAllowList([]string{"not-an-ip"}); err == nil {
		t.Error("accepted a bad entry")
	}
}

func TestResolveDest(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	tests := []struct {
		name, dest, want, code string
	}{
		{"exact path", filepath.Join(dir, "x.bin"), filepath.Join(dir, "x.bin"), ""},
		{"trailing slash", dir + "/", filepath.Join(dir, "f.bin"), ""},
		{"existing dir", dir, filepath.Join(dir, "f.bin"), ""},
		{"empty means cwd", "", filepath.Join(wd, "f.bin"), ""},
		{"relative", "rel.bin", filepath.Join(wd, "rel.bin"), ""},
		{"missing parent", filepath.Join(dir, "a", "b"), "", CodeDest},
		{"missing dir with slash", filepath.Join(dir, "a") + "/", "", CodeDest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveDest(tt.dest, "f.bin")
			if tt.code != "" {
				if errorCode(err) != tt.code {
					t.Fatalf("got %q, %v; want code %s", got, err, tt.code)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := resolveDest(dir, "../evil"); errorCode(err) != CodeConfig {
		t.Errorf("a torrent name with a slash: %v", err)
	}
}

func TestAllowedPeersBlocksOthers(t *testing.T) {
	fx := newFixture(t, 2<<20, true)
	dir := t.TempDir()
	cfg := fx.peerConfig(0, dir+"/")
	cfg.AllowedPeers = []string{"127.0.0.99"} // not the seeder
	p := startPeer(t, context.Background(), cfg)
	p.waitFor(t, 10*time.Second, EventStarted)
	time.Sleep(1500 * time.Millisecond)
	p.control.Close()
	if code, last := p.finish(t, 10*time.Second); code != ExitAborted || last.Downloaded != 0 {
		t.Errorf("exit %d, downloaded %d: a peer outside the allowlist served data", code, last.Downloaded)
	}

	cfg.AllowedPeers = []string{"127.0.0.1"}
	p = startPeer(t, context.Background(), cfg)
	if ev := p.waitFor(t, 30*time.Second, EventDone, EventFailed); ev.Event != EventDone {
		t.Fatalf("with the seeder allowed: %+v", ev)
	}
	p.stop(t)
	p.finish(t, 10*time.Second)
}

func TestParseConfigLine(t *testing.T) {
	good := PeerConfig{TorrentPath: "/t", SHA256: strings.Repeat("ab", 32), AnnounceURL: "http://10.0.0.1:1/x/announce"}
	tests := []struct {
		name    string
		edit    func(*PeerConfig)
		wantErr string
	}{
		{"good", func(*PeerConfig) {}, ""},
		{"no torrent", func(c *PeerConfig) { c.TorrentPath = "" }, "torrent_path"},
		{"inline torrent", func(c *PeerConfig) { c.TorrentPath, c.Torrent = "", []byte("d4:infod...ee") }, ""},
		{"both torrents", func(c *PeerConfig) { c.Torrent = []byte("d4:infod...ee") }, "exactly one"},
		{"negative procs", func(c *PeerConfig) { c.Procs = -1 }, "procs"},
		{"short sha", func(c *PeerConfig) { c.SHA256 = "ab" }, "sha256"},
		{"nowhere to go", func(c *PeerConfig) { c.AnnounceURL = "" }, "announce_url or seeders"},
		{"ftp announce", func(c *PeerConfig) { c.AnnounceURL = "ftp://x/" }, "http"},
		{"bad seeder", func(c *PeerConfig) { c.Seeders = []string{"host:1"} }, "seeder"},
		{"bad bind", func(c *PeerConfig) { c.BindIP = "eth0" }, "bind_ip"},
		{"bad allowed", func(c *PeerConfig) { c.AllowedPeers = []string{"x"} }, "allowed peer"},
		{"negative interval", func(c *PeerConfig) { c.ProgressIntervalMS = -1 }, "progress_interval_ms"},
		{"congestion", func(c *PeerConfig) { c.TCPCongestion = []string{"cubic", "reno"} }, ""},
		{"bad congestion", func(c *PeerConfig) { c.TCPCongestion = []string{"reno", "x;rm -rf"} }, "tcp_congestion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			line, _ := json.Marshal(c)
			_, err := ParseConfigLine(line)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
	if _, err := ParseConfigLine([]byte("")); err == nil {
		t.Error("empty line accepted")
	}
}

func TestParseControlLine(t *testing.T) {
	for line, want := range map[string]string{`{"cmd":"stop"}`: "stop", "  ": "", `{"cmd":"reboot"}`: "error", "stop": "error"} {
		c, err := ParseControlLine([]byte(line))
		got := c.Cmd
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("%q: got %q, want %q", line, got, want)
		}
	}
}

func FuzzParseConfigLine(f *testing.F) {
	f.Add([]byte(`{"torrent_path":"/t","sha256":"` + strings.Repeat("ab", 32) + `","announce_url":"http://h:1/a"}`))
	f.Add([]byte(`{"torrent_path":"t","sha256":"` + strings.Repeat("0", 64) + `","seeders":["127.0.0.1:1"],"bind_ip":"::1","allowed_peers":["10.0.0.0/8"]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"progress_interval_ms":1e99}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := ParseConfigLine(line)
		if err != nil {
			return
		}
		again, _ := json.Marshal(c)
		if _, err := ParseConfigLine(again); err != nil {
			t.Fatalf("accepted %q, but not its re-encoding %q: %v", line, again, err)
		}
	})
}

func FuzzParseControlLine(f *testing.F) {
	for _, s := range []string{`{"cmd":"stop"}`, ``, `{"cmd":""}`, `[]`, `{"cmd":"stop","x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := ParseControlLine(line)
		if err == nil && c.Cmd != "" && c.Cmd != ControlStop {
			t.Fatalf("accepted unknown cmd %q", c.Cmd)
		}
	})
}

func TestConnWant(t *testing.T) {
	tests := []struct {
		target, active, want int
		soon                 bool
	}{
		{0, 0, defaultNumWant, false}, // no target: the library's way
		{6, 0, 3, true},               // alone: dial half, others dial us
		{6, 2, 3, true},               // still short of half: hurry
		{6, 3, 3, false},              // half there
		{6, 5, 1, false},              // nearly full: ask for the rest
		{6, 6, 0, false},              // full: ask for nobody
		{6, 11, 0, false},             // over target (accepted dials): nobody
		{1, 0, 1, true},
	}
	for _, tt := range tests {
		n, soon := connWant(tt.target, tt.active)
		if n != tt.want || soon != tt.soon {
			t.Errorf("connWant(%d, %d) = %d, %v; want %d, %v", tt.target, tt.active, n, soon, tt.want, tt.soon)
		}
	}
}

// The announcer asks for as many peers as Want says, and for none on the
// final stopped announce.
// testAnnouncer runs an announcer against a test tracker that answers
// with interval seconds and reports each request as "numwant event" on
// got. stop ends Run and waits for it.
func testAnnouncer(t *testing.T, want func() (int, bool), interval int) (a *announcer, got chan string, stop func()) {
	t.Helper()
	got = make(chan string, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query().Get("numwant") + " " + r.URL.Query().Get("event")
		fmt.Fprintf(w, "d8:intervali%de5:peers0:e", interval)
	}))
	t.Cleanup(srv.Close)
	a = &announcer{URL: srv.URL + "/announce", Port: 1, Logger: slog.New(slog.DiscardHandler),
		Stats:    func() announceStats { return announceStats{Left: 1} },
		Want:     want,
		AddPeers: func([]string) {}}
	a.init()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	return a, got, func() { cancel(); <-done }
}

func TestAnnouncerNumWant(t *testing.T) {
	_, got, stop := testAnnouncer(t, func() (int, bool) { return 3, true }, 1)
	if first := <-got; first != "3 started" {
		t.Errorf("first announce: numwant/event %q, want %q", first, "3 started")
	}
	stop()
	var last string
	for len(got) > 0 {
		last = <-got
	}
	if last != "0 stopped" {
		t.Errorf("last announce %q, want %q", last, "0 stopped")
	}
}

// TestAnnouncerLeavesSilently: at the end of a deploy its tracker goes
// away with it, so a peer told to stop sends no event=stopped; a peer that
// leaves a running deploy (ctx ended, no LeaveSilently) still does, as
// TestAnnouncerNumWant checks.
func TestAnnouncerLeavesSilently(t *testing.T) {
	a, got, stop := testAnnouncer(t, func() (int, bool) { return 3, false }, 60)
	if first := <-got; first != "3 started" {
		t.Fatalf("first announce %q, want %q", first, "3 started")
	}
	a.LeaveSilently()
	stop()
	if len(got) != 0 {
		t.Errorf("announced %q after LeaveSilently", <-got)
	}
}
