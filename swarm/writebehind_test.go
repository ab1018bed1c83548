package swarm

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestWriteBehindTicksUntilCancelled(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "part"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls atomic.Int64
	start := func(fd uintptr) {
		if fd != f.Fd() {
			t.Errorf("writeback of fd %d, want the file's %d", fd, f.Fd())
		}
		calls.Add(1)
		startWriteback(fd) // the real call must accept a regular file
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { writeBehind(ctx, f, 10*time.Millisecond, start); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if calls.Load() < 3 {
		t.Fatalf("%d writebacks started in 5 s, want a steady tick", calls.Load())
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("writeBehind still running after its context ended")
	}
	n := calls.Load()
	time.Sleep(50 * time.Millisecond)
	if calls.Load() != n {
		t.Error("writebacks continued after writeBehind returned")
	}
}
