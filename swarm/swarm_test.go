package swarm

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/murderctl/murderctl/tracker"
	"github.com/murderctl/murderctl/tracker/memstore"
)

// writeRandomFile writes size random bytes to dir/name.
func writeRandomFile(t *testing.T, dir, name string, size int) string {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fixture is a source file with its torrent, a real tracker and a seeder.
type fixture struct {
	src, torrentPath, sha string
	size                  int64
	chain                 SHA256Chain
	mi                    *metainfo.MetaInfo
	announce              string
	seeder                *Seeder
	// stoppedAnnounces counts event=stopped announces the tracker got.
	stoppedAnnounces atomic.Int64
}

// seederLimit models the control node's uplink: the seeder is slower than
// the peers together, as on a real fleet.
const seederLimit = 24 << 20

func newFixture(t *testing.T, size int, withSeeder bool) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	fx := &fixture{src: writeRandomFile(t, dir, "payload.bin", size)}
	b, err := Build(ctx, fx.src, 0)
	if err != nil {
		t.Fatal(err)
	}
	fx.mi, fx.sha, fx.size, fx.chain = b.MetaInfo, b.SHA256, b.Size, b.Chain
	fx.torrentPath = filepath.Join(dir, "payload.torrent")
	f, err := os.Create(fx.torrentPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.mi.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	tr := tracker.New(tracker.Config{Token: "s3cret", AnnounceInterval: time.Second}, memstore.New(nil), nil, nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("event") == "stopped" {
			fx.stoppedAnnounces.Add(1)
		}
		tr.Handler().ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	fx.announce = tr.AnnounceURL("http://" + ln.Addr().String())

	if withSeeder {
		fx.seeder, err = StartSeeder(ctx, SeederConfig{ListenAddr: "127.0.0.1:0", Path: fx.src, MetaInfo: fx.mi, UploadLimit: seederLimit})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fx.seeder.Close() })
	}
	return fx
}

func (fx *fixture) peerConfig(i int, dest string) PeerConfig {
	cfg := PeerConfig{
		TorrentPath:        fx.torrentPath,
		SHA256:             fx.sha,
		SHA256Chain:        &fx.chain,
		Dest:               dest,
		AnnounceURL:        fx.announce,
		BindIP:             fmt.Sprintf("127.0.0.%d", 11+i),
		ProgressIntervalMS: 100,
	}
	if fx.seeder != nil {
		cfg.Seeders = []string{fmt.Sprintf("127.0.0.1:%d", fx.seeder.Port())}
	}
	return cfg
}

// runningPeer is a RunPeer in a goroutine, driven through pipes.
type runningPeer struct {
	control *io.PipeWriter
	events  chan Event
	exit    chan int
}

func startPeer(t *testing.T, ctx context.Context, cfg PeerConfig) *runningPeer {
	t.Helper()
	cr, cw := io.Pipe()
	er, ew := io.Pipe()
	p := &runningPeer{control: cw, events: make(chan Event, 1024), exit: make(chan int, 1)}
	go func() {
		code := RunPeer(ctx, cfg, cr, ew, nil)
		ew.Close()
		p.exit <- code
	}()
	go p.readEvents(t, er)
	t.Cleanup(func() { cw.Close() })
	return p
}

// readEvents decodes event lines from r until it closes.
func (p *runningPeer) readEvents(t *testing.T, r io.Reader) {
	defer close(p.events)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Errorf("peer wrote a bad event line %q: %v", sc.Text(), err)
			continue
		}
		p.events <- ev
	}
}

// jsonLine encodes v as one line.
func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}

// waitFor returns the first event of one of kinds, failing on timeout.
func (p *runningPeer) waitFor(t *testing.T, d time.Duration, kinds ...string) Event {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-p.events:
			if !ok {
				t.Fatalf("peer exited before any of %v", kinds)
			}
			for _, k := range kinds {
				if ev.Event == k {
					return ev
				}
			}
		case <-timer.C:
			t.Fatalf("no %v event within %s", kinds, d)
		}
	}
}

// finish drains events and returns the exit code and the last event.
func (p *runningPeer) finish(t *testing.T, d time.Duration) (int, Event) {
	t.Helper()
	var last Event
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-p.events:
			if !ok {
				select {
				case code := <-p.exit:
					return code, last
				case <-timer.C:
					t.Fatalf("peer did not exit within %s", d)
				}
			}
			last = ev
		case <-timer.C:
			t.Fatalf("peer did not exit within %s", d)
		}
	}
}

func (p *runningPeer) stop(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(p.control, `{"cmd":"stop"}`+"\n"); err != nil {
		t.Fatalf("write stop: %v", err)
	}
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	sum, _, err := HashFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".part") {
			t.Errorf("temp file %s left in %s", e.Name(), dir)
		}
	}
}
