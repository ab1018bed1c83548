package swarm

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"golang.org/x/sys/unix"
)

// partFiles lists the temp files in dir.
func partFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".*.part"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAbortBeforeDone(t *testing.T) {
	// No seeder: the peer can never finish, so every stop is an abort.
	fx := newFixture(t, 3<<20, false)
	for _, how := range []string{"stdin closed", "stop command", "context cancelled"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			dest := filepath.Join(dir, "payload.bin")
			old := []byte("the previous version, never to be half-overwritten")
			if err := os.WriteFile(dest, old, 0o640); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := startPeer(t, ctx, fx.peerConfig(0, dest))
			p.waitFor(t, 10*time.Second, EventStarted)
			if got := partFiles(t, dir); len(got) != 1 {
				t.Fatalf("temp files while downloading: %v, want one", got)
			} else if st, err := os.Stat(got[0]); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("temp file mode %v (%v), want 0600", st.Mode(), err)
			}
			switch how {
			case "stdin closed":
				p.control.Close()
			case "stop command":
				p.stop(t)
			default:
				cancel()
			}
			before := fx.stoppedAnnounces.Load()
			code, last := p.finish(t, 10*time.Second)
			// A peer leaving a deploy that goes on says so; one told to
			// stop does not (the deploy is over).
			want := int64(1)
			if how == "stop command" {
				want = 0
			}
			if got := fx.stoppedAnnounces.Load() - before; got != want {
				t.Errorf("%d event=stopped announces, want %d", got, want)
			}
			if code != ExitAborted || last.Event != EventExiting {
				t.Errorf("exit %d, last event %+v; want %d after exiting", code, last, ExitAborted)
			}
			// Interrupted, not failed: the partial file stays, private, in
			// the resume location for the next run.
			if got := partFiles(t, dir); len(got) != 1 {
				t.Errorf("temp files after abort: %v, want the one resume file", got)
			} else if st, err := os.Stat(got[0]); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("resume file mode %v (%v), want 0600", st.Mode(), err)
			}
			if b, err := os.ReadFile(dest); err != nil || !bytes.Equal(b, old) {
				t.Errorf("destination changed: %q, %v", b, err)
			}
		})
	}
}

func TestPeerFailures(t *testing.T) {
	fx := newFixture(t, 2<<20, true)
	tests := []struct {
		name     string
		edit     func(c *PeerConfig)
		wantCode string
		wantExit int
	}{
		{"dest parent missing", func(c *PeerConfig) { c.Dest = filepath.Join(t.TempDir(), "nope", "f") }, CodeDest, ExitFailed},
		{"dest parent is a file", func(c *PeerConfig) { c.Dest = filepath.Join(fx.torrentPath, "f") }, CodeDest, ExitFailed},
		{"missing torrent", func(c *PeerConfig) { c.TorrentPath = filepath.Join(t.TempDir(), "x.torrent") }, CodeConfig, ExitConfig},
		{"torrent not bencode", func(c *PeerConfig) { c.TorrentPath = fx.src }, CodeConfig, ExitConfig},
		{"bad sha256", func(c *PeerConfig) { c.SHA256 = "abc" }, CodeConfig, ExitConfig},
		{"wrong sha256", func(c *PeerConfig) { c.SHA256 = strings.Repeat("0", 64) }, CodeHash, ExitFailed},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := fx.peerConfig(i, dir+"/")
			tt.edit(&cfg)
			p := startPeer(t, context.Background(), cfg)
			ev := p.waitFor(t, 30*time.Second, EventFailed, EventDone)
			if ev.Event != EventFailed || ev.Code != tt.wantCode || ev.Reason == "" {
				t.Fatalf("got %+v, want failed with code %s", ev, tt.wantCode)
			}
			t.Logf("reason: %s", ev.Reason)
			if code, _ := p.finish(t, 10*time.Second); code != tt.wantExit {
				t.Errorf("exit %d, want %d", code, tt.wantExit)
			}
			if got := partFiles(t, dir); len(got) != 0 {
				t.Errorf("temp files left after a failure: %v", got)
			}
			if _, err := os.Stat(filepath.Join(dir, "payload.bin")); err == nil {
				t.Error("destination written despite the failure")
			}
		})
	}
}

// TestNoSpaceAtReserve asks for more bytes than the filesystem has: the
// reservation fails with ENOSPC, as on a full disk, without root.
func TestNoSpaceAtReserve(t *testing.T) {
	dir := t.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	size := free + 1<<30
	if size > 4<<40 {
		t.Skipf("filesystem too large (%d bytes free) to run out of space cheaply", free)
	}
	const pieceLen = 64 << 20
	n := (size + pieceLen - 1) / pieceLen
	info := metainfo.Info{Name: "huge.bin", Length: size, PieceLength: pieceLen, Pieces: make([]byte, n*20)}
	ib, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	tp := filepath.Join(t.TempDir(), "huge.torrent")
	f, _ := os.Create(tp)
	(&metainfo.MetaInfo{InfoBytes: ib}).Write(f)
	f.Close()
	cfg := PeerConfig{TorrentPath: tp, SHA256: strings.Repeat("a", 64), Dest: dir + "/", Seeders: []string{"127.0.0.1:1"}}
	var out bytes.Buffer
	code := RunPeer(context.Background(), cfg, strings.NewReader(""), &out, nil)
	if code != ExitFailed || !strings.Contains(out.String(), `"code":"no_space"`) {
		t.Fatalf("exit %d, events %s; want a no_space failure", code, out.String())
	}
	if got := partFiles(t, dir); len(got) != 0 {
		t.Errorf("temp files left: %v", got)
	}
}

// enospcAfter fails every write once limit bytes were written.
type enospcAfter struct {
	*os.File
	written, limit atomic.Int64
}

func (e *enospcAfter) WriteAt(b []byte, off int64) (int, error) {
	if e.written.Add(int64(len(b))) > e.limit.Load() {
		return 0, &os.PathError{Op: "write", Path: e.Name(), Err: syscall.ENOSPC}
	}
	return e.File.WriteAt(b, off)
}

// TestNoSpaceMidDownload makes the disk fill up after 1 MiB: the peer
// reports no_space, removes its temp file and exits without hanging.
func TestNoSpaceMidDownload(t *testing.T) {
	fx := newFixture(t, 4<<20, true)
	wrapDownloadFile = func(f *os.File) fileIO {
		e := &enospcAfter{File: f}
		e.limit.Store(1 << 20)
		return e
	}
	defer func() { wrapDownloadFile = nil }()
	dir := t.TempDir()
	p := startPeer(t, context.Background(), fx.peerConfig(0, dir+"/"))
	ev := p.waitFor(t, 30*time.Second, EventFailed, EventDone)
	if ev.Event != EventFailed || ev.Code != CodeNoSpace {
		t.Fatalf("got %+v, want failed no_space", ev)
	}
	if code, _ := p.finish(t, 10*time.Second); code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	if got := partFiles(t, dir); len(got) != 0 {
		t.Errorf("temp files left: %v", got)
	}
}

func TestServePeer(t *testing.T) {
	fx := newFixture(t, 2<<20, true)
	t.Run("bad config line", func(t *testing.T) {
		var out bytes.Buffer
		code := ServePeer(context.Background(), strings.NewReader("{not json\n"), &out, nil)
		if code != ExitConfig || !strings.Contains(out.String(), `"code":"config"`) {
			t.Errorf("exit %d, events %s", code, out.String())
		}
	})
	t.Run("stdin closed before config", func(t *testing.T) {
		var out bytes.Buffer
		if code := ServePeer(context.Background(), strings.NewReader(""), &out, nil); code != ExitConfig {
			t.Errorf("exit %d, events %s", code, out.String())
		}
	})
	t.Run("download then stop", func(t *testing.T) {
		dir := t.TempDir()
		line, _ := jsonLine(fx.peerConfig(0, dir))
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		exit := make(chan int, 1)
		go func() { exit <- ServePeer(context.Background(), inR, outW, nil); outW.Close() }()
		go inW.Write(line)
		p := &runningPeer{control: inW, events: make(chan Event, 1024), exit: exit}
		go p.readEvents(t, outR)
		ev := p.waitFor(t, 30*time.Second, EventDone, EventFailed)
		if ev.Event != EventDone || !ev.Changed {
			t.Fatalf("got %+v", ev)
		}
		p.stop(t)
		if code, last := p.finish(t, 10*time.Second); code != ExitStopped || last.Event != EventExiting {
			t.Errorf("exit %d, last %+v", code, last)
		}
		if got := fileSHA(t, filepath.Join(dir, "payload.bin")); got != fx.sha {
			t.Errorf("sha256 %s, want %s", got, fx.sha)
		}
	})
}
