package swarm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// originFixture serves fx's file from an Origin and points peers at it
// instead of a BitTorrent seeder, as a deploy does.
func originFixture(t *testing.T, size int) (*fixture, *Origin, string) {
	t.Helper()
	fx := newFixture(t, size, false)
	o, err := NewOrigin(fx.src, fx.mi, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o)
	t.Cleanup(func() { srv.Close(); o.Close() })
	return fx, o, srv.URL + "/"
}

func sumFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return err.Error()
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestOriginHandsEachPieceOutOnce(t *testing.T) {
	fx, o, url := originFixture(t, 12<<20)
	const peers = 5
	ctx := context.Background()
	var ps []*runningPeer
	var dests []string
	for i := range peers {
		dest := filepath.Join(t.TempDir(), "payload.bin")
		cfg := fx.peerConfig(i, dest)
		cfg.OriginURL = url
		dests = append(dests, dest)
		ps = append(ps, startPeer(t, ctx, cfg))
	}
	for _, p := range ps {
		p.waitFor(t, 60*time.Second, EventDone)
	}
	for _, p := range ps {
		p.stop(t)
		if code, _ := p.finish(t, 10*time.Second); code != ExitOK {
			t.Errorf("peer exit %d", code)
		}
	}
	for _, d := range dests {
		if got := sumFile(t, d); got != fx.sha {
			t.Errorf("%s: sha256 %s, want %s", d, got, fx.sha)
		}
	}
	ratio := float64(o.Uploaded()) / float64(fx.size)
	t.Logf("origin sent %.2fx the file to %d peers", ratio, peers)
	if !o.HandedOut() {
		t.Error("origin did not hand every piece out")
	}
	// Each piece once, plus at most a few stall fallbacks on a loaded machine.
	if ratio < 1 || ratio > 1.5 {
		t.Errorf("origin sent %.2fx the file, want about 1x", ratio)
	}
}

// A partial file left by an interrupted run is resumed: only the missing
// pieces travel.
func TestResumeFromPartialFile(t *testing.T) {
	fx, o, url := originFixture(t, 8<<20)
	dir := t.TempDir()
	dest := filepath.Join(dir, "payload.bin")
	src, err := os.ReadFile(fx.src)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := fx.mi.UnmarshalInfo()
	half := info.Piece(info.NumPieces() / 2).Offset()
	part := make([]byte, len(src))
	copy(part, src[:half]) // first half good, the rest zeros
	ih := fx.mi.HashInfoBytes().HexString()
	if err := os.WriteFile(tempPath(dest, ih), part, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fx.peerConfig(0, dest)
	cfg.OriginURL = url
	p := startPeer(t, context.Background(), cfg)
	started := p.waitFor(t, 30*time.Second, EventStarted)
	if started.Have != info.NumPieces()/2 {
		t.Errorf("started with %d pieces, want the %d the partial file holds", started.Have, info.NumPieces()/2)
	}
	done := p.waitFor(t, 60*time.Second, EventDone)
	p.stop(t)
	p.finish(t, 10*time.Second)
	if got := sumFile(t, dest); got != fx.sha {
		t.Fatalf("sha256 %s, want %s", got, fx.sha)
	}
	if want := fx.size - half; done.Downloaded != want || o.Uploaded() != want {
		t.Errorf("downloaded %d, origin sent %d; want only the missing %d bytes", done.Downloaded, o.Uploaded(), want)
	}
	if got := partFiles(t, dir); len(got) != 0 {
		t.Errorf("resume file left after success: %v", got)
	}
}

func TestResumeIgnoresForeignPartialFile(t *testing.T) {
	fx, _, url := originFixture(t, 4<<20)
	dir := t.TempDir()
	dest := filepath.Join(dir, "payload.bin")
	src, _ := os.ReadFile(fx.src)
	ih := fx.mi.HashInfoBytes().HexString()
	// World-readable: not ours to trust, so it is replaced, not resumed.
	if err := os.WriteFile(tempPath(dest, ih), src, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fx.peerConfig(0, dest)
	cfg.OriginURL = url
	p := startPeer(t, context.Background(), cfg)
	if ev := p.waitFor(t, 30*time.Second, EventStarted); ev.Have != 0 {
		t.Errorf("started with %d pieces from a file that was not private", ev.Have)
	}
	p.waitFor(t, 60*time.Second, EventDone)
	p.stop(t)
	p.finish(t, 10*time.Second)
}

func TestOriginHoldsNextUntilReady(t *testing.T) {
	fx := newFixture(t, 1<<20, false)
	o, err := NewOrigin(fx.src, fx.mi, nil)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	o.Ready = ready
	srv := httptest.NewServer(o)
	t.Cleanup(func() { srv.Close(); o.Close() })

	// A stalled host's fallback is not held.
	resp, err := http.Get(srv.URL + "/piece/0")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("piece/0 while held: %v %v", resp, err)
	}
	resp.Body.Close()

	got := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/next")
		if err != nil {
			t.Error(err)
		}
		got <- resp
	}()
	select {
	case resp := <-got:
		t.Fatalf("next answered before the origin was ready: %v", resp)
	case <-time.After(300 * time.Millisecond):
	}
	close(ready)
	select {
	case resp := <-got:
		if resp == nil || resp.StatusCode != http.StatusOK || resp.Header.Get(HeaderPiece) == "" {
			t.Fatalf("next once ready: %v", resp)
		}
		resp.Body.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("next still held after the origin became ready")
	}
}
