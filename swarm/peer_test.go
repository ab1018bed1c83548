package swarm

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSwarmDeployAndRerun(t *testing.T) {
	const peers = 7
	fx := newFixture(t, 24<<20, true)
	ctx := context.Background()
	dirs := make([]string, peers)
	for i := range dirs {
		dirs[i] = t.TempDir()
	}

	start := time.Now()
	running := make([]*runningPeer, peers)
	for i := range running {
		running[i] = startPeer(t, ctx, fx.peerConfig(i, dirs[i]+"/"))
	}
	for i, p := range running {
		ev := p.waitFor(t, 60*time.Second, EventDone, EventFailed)
		if ev.Event != EventDone || !ev.Changed {
			t.Fatalf("peer %d: got %+v, want done changed", i, ev)
		}
		if want := filepath.Join(dirs[i], "payload.bin"); ev.Dest != want {
			t.Errorf("peer %d: dest %q, want %q", i, ev.Dest, want)
		}
	}
	t.Logf("%d peers done in %s", peers, time.Since(start))
	var peerUploaded int64
	for i, p := range running {
		p.stop(t)
		code, last := p.finish(t, 10*time.Second)
		if code != ExitStopped || last.Event != EventExiting {
			t.Errorf("peer %d: exit %d, last event %+v", i, code, last)
		}
		peerUploaded += last.Uploaded
	}
	// Told to stop, the deploy is over and its tracker with it: no farewell.
	if n := fx.stoppedAnnounces.Load(); n != 0 {
		t.Errorf("%d event=stopped announces after a stop command, want none", n)
	}
	ratio := float64(fx.seeder.Uploaded()) / float64(fx.size)
	t.Logf("seeder sent %.2fx the file to %d peers; peers uploaded %.2fx between them",
		ratio, peers, float64(peerUploaded)/float64(fx.size))
	if ratio > float64(peers)*0.75 {
		t.Errorf("seeder sent %.2fx the file: peers did not share", ratio)
	}
	if peerUploaded == 0 {
		t.Error("no peer uploaded anything")
	}
	for i, d := range dirs {
		if got := fileSHA(t, filepath.Join(d, "payload.bin")); got != fx.sha {
			t.Errorf("peer %d: sha256 %s, want %s", i, got, fx.sha)
		}
		st, err := os.Stat(filepath.Join(d, "payload.bin"))
		if err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("peer %d: mode %v (%v), want 0644", i, st.Mode(), err)
		}
		noTempFiles(t, d)
	}

	// Idempotent: the same deploy again changes nothing and downloads nothing.
	before := fx.seeder.Uploaded()
	for i := range running {
		running[i] = startPeer(t, ctx, fx.peerConfig(i, dirs[i]))
	}
	for i, p := range running {
		ev := p.waitFor(t, 30*time.Second, EventDone, EventFailed)
		if ev.Event != EventDone || ev.Changed {
			t.Fatalf("rerun peer %d: got %+v, want done unchanged", i, ev)
		}
	}
	for i, p := range running {
		p.stop(t)
		code, last := p.finish(t, 10*time.Second)
		if code != ExitStopped || last.Downloaded != 0 {
			t.Errorf("rerun peer %d: exit %d, downloaded %d", i, code, last.Downloaded)
		}
	}
	if sent := fx.seeder.Uploaded() - before; sent != 0 {
		t.Errorf("seeder sent %d bytes on the rerun", sent)
	}
}
