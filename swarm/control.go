package swarm

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"sync"
)

// maxLine bounds one protocol line on stdin.
const maxLine = 1 << 20

// ParseConfigLine decodes and validates the PeerConfig line.
func ParseConfigLine(line []byte) (PeerConfig, error) {
	var c PeerConfig
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return c, errors.New("peer config: empty line")
	}
	if len(line) > maxLine {
		return c, fmt.Errorf("peer config: line longer than %d bytes", maxLine)
	}
	if err := json.Unmarshal(line, &c); err != nil {
		return PeerConfig{}, fmt.Errorf("peer config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return PeerConfig{}, err
	}
	return c, nil
}

// Validate reports the first invalid field of c.
func (c PeerConfig) Validate() error {
	if (c.TorrentPath == "") == (len(c.Torrent) == 0) {
		return errors.New("peer config: exactly one of torrent_path and torrent is required")
	}
	if strings.ContainsRune(c.TorrentPath, 0) || strings.ContainsRune(c.Dest, 0) {
		return errors.New("peer config: paths must not contain NUL")
	}
	if b, err := hex.DecodeString(c.SHA256); err != nil || len(b) != 32 {
		return fmt.Errorf("peer config: sha256 %q is not 64 hex digits", c.SHA256)
	}
	if c.AnnounceURL == "" && len(c.Seeders) == 0 {
		return errors.New("peer config: need announce_url or seeders")
	}
	if c.AnnounceURL != "" {
		u, err := url.Parse(c.AnnounceURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("peer config: announce_url %q is not an http(s) URL", redactURL(c.AnnounceURL))
		}
	}
	for _, s := range c.Seeders {
		if _, err := netip.ParseAddrPort(s); err != nil {
			return fmt.Errorf("peer config: seeder %q is not ip:port", s)
		}
	}
	if c.AnnounceIP != "" {
		if _, err := netip.ParseAddr(c.AnnounceIP); err != nil {
			return fmt.Errorf("peer config: announce_ip %q is not an IP", c.AnnounceIP)
		}
	}
	if c.BindIP != "" {
		if _, err := netip.ParseAddr(c.BindIP); err != nil {
			return fmt.Errorf("peer config: bind_ip %q is not an IP", c.BindIP)
		}
	}
	if _, err := newAllowList(c.AllowedPeers); err != nil {
		return fmt.Errorf("peer config: %w", err)
	}
	if c.Procs < 0 || c.MaxConns < 0 {
		return errors.New("peer config: procs and max_conns must not be negative")
	}
	for _, a := range c.TCPCongestion {
		if !ValidCongestionName(a) {
			return fmt.Errorf("peer config: tcp_congestion %q is not a congestion-control name", a)
		}
	}
	if c.ProgressIntervalMS < 0 || c.ProgressIntervalMS > 3_600_000 {
		return fmt.Errorf("peer config: progress_interval_ms %d out of range", c.ProgressIntervalMS)
	}
	return nil
}

// ParseControlLine decodes one Control line. Blank lines give a zero
// Control and no error; unknown commands are an error.
func ParseControlLine(line []byte) (Control, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return Control{}, nil
	}
	var c Control
	if err := json.Unmarshal(line, &c); err != nil {
		return Control{}, fmt.Errorf("control line: %w", err)
	}
	switch c.Cmd {
	case ControlStop:
		return c, nil
	default:
		return Control{}, fmt.Errorf("control line: unknown cmd %q", c.Cmd)
	}
}

// emitter writes Event lines; it is safe for concurrent use.
type emitter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

// Emit writes e as one JSON line. After a write error it stays silent: the
// parent is gone, and stdin closing will stop the peer.
func (e *emitter) Emit(ev Event) {
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	b = append(b, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}
