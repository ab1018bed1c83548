package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/murderctl/murderctl/tracker"
	"github.com/murderctl/murderctl/tracker/redisstore"
	"github.com/murderctl/murderctl/tracker/storetest"
	"github.com/murderctl/murderctl/tracker/trackertest"
)

// startRedis runs a private redis-server on a random loopback port for the
// test and returns a client to it. Both are torn down by t.Cleanup.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not found in PATH: install Debian's redis-server package to run the Redis store tests")
	}
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		dir := t.TempDir()
		cmd := exec.Command(bin,
			"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
			"--save", "", "--appendonly", "no", "--daemonize", "no",
			"--logfile", filepath.Join(dir, "redis.log"))
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
		if waitReady(rdb, exited) {
			t.Cleanup(func() { rdb.Close(); stop() })
			return rdb
		}
		rdb.Close()
		stop()
		if attempt == 2 { // the port may have been taken meanwhile: retry twice
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server did not become ready on port %d:\n%s", port, log)
		}
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitReady(rdb *redis.Client, exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func uniquePrefix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "test:" + hex.EncodeToString(b) + ":"
}

func TestConformance(t *testing.T) {
	rdb := startRedis(t)
	storetest.Run(t, func(_ *testing.T, c tracker.Clock) tracker.Store {
		return redisstore.New(rdb, c, uniquePrefix())
	})
}

func TestSharedAcrossProcesses(t *testing.T) {
	rdb := startRedis(t)
	other := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr})
	defer other.Close()
	clock, prefix := trackertest.NewClock(), uniquePrefix()
	a, b := redisstore.New(rdb, clock, prefix), redisstore.New(other, clock, prefix)
	ctx, ih, p := context.Background(), trackertest.InfoHashFixture(), trackertest.PeerFixture()
	if err := a.PutPeer(ctx, ih, p, clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := b.Peers(ctx, ih)
	if err != nil || len(got) != 1 || got[0] != p {
		t.Fatalf("the second tracker sees %v, %v; want [%+v]", got, err, p)
	}
	key := prefix + "swarm:" + ih.String()
	if ttl := rdb.PTTL(ctx, key).Val(); ttl <= time.Minute || ttl > 2*time.Minute+time.Second {
		t.Errorf("swarm key TTL = %v, want about the peer TTL plus a minute", ttl)
	}
}

func TestCorruptRecordIsAnError(t *testing.T) {
	rdb := startRedis(t)
	clock, prefix := trackertest.NewClock(), uniquePrefix()
	s := redisstore.New(rdb, clock, prefix)
	ctx, ih, id := context.Background(), trackertest.InfoHashFixture(), trackertest.PeerIDFixture()
	rdb.HSet(ctx, prefix+"swarm:"+ih.String(), string(id[:]), "garbage")
	_, err := s.Peers(ctx, ih)
	if err == nil || errors.Is(err, tracker.ErrPeerNotFound) {
		t.Errorf("Peers over a corrupt record = %v, want a storage error", err)
	}
}

func TestUnreachableRedis(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	s := redisstore.New(rdb, nil, "")
	err := s.PutPeer(context.Background(), trackertest.InfoHashFixture(), trackertest.PeerFixture(), time.Now().Add(time.Minute))
	if err == nil || errors.Is(err, tracker.ErrPeerNotFound) || errors.Is(err, tracker.ErrInvalidPeer) {
		t.Errorf("PutPeer with Redis down = %v, want a storage error", err)
	}
}
