package swarm

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"time"
)

// binaryServeTimeout bounds one transfer of the peer binary, so a stalled
// reader cannot pin a goroutine for the life of the peer.
const binaryServeTimeout = 2 * time.Minute

// serveBinary listens on bindIP (all addresses when empty) and streams the
// gzip archive of this process's own executable (kept beside it as
// <executable>.gz) to every connection from an allowed IP, then closes it.
// The protocol is raw bytes, so a host with nothing but bash can fetch with
// /dev/tcp; the fetching side checks the SHA-256 of what it unpacks before
// use. It returns the port; serving stops when ctx ends.
func serveBinary(ctx context.Context, bindIP string, allowed []string, log *slog.Logger) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	self := exe + ".gz"
	if _, err := os.Stat(self); err != nil {
		return 0, fmt.Errorf("no archive to serve: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(bindIP, "0"))
	if err != nil {
		return 0, err
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go sendFile(c, self, allowed, log)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func sendFile(c net.Conn, path string, allowed []string, log *slog.Logger) {
	defer c.Close()
	if len(allowed) > 0 {
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		ip := net.ParseIP(host)
		if ip == nil || !slices.ContainsFunc(allowed, func(a string) bool { return net.ParseIP(a).Equal(ip) }) {
			log.Warn("refused binary fetch from a host outside the fleet", "addr", c.RemoteAddr().String())
			return
		}
	}
	f, err := os.Open(path)
	if err != nil {
		log.Warn("serve peer binary", "err", err)
		return
	}
	defer f.Close()
	c.SetDeadline(time.Now().Add(binaryServeTimeout))
	if _, err := io.Copy(c, f); err != nil {
		log.Debug("serve peer binary", "addr", c.RemoteAddr().String(), "err", err)
	}
}
