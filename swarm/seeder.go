package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
)

// SeederConfig configures the seeder murderctl runs in its own process.
type SeederConfig struct {
	// ListenAddr is ip:port to listen on ("0.0.0.0:0" or "10.0.0.1:0").
	ListenAddr string
	// Path is the complete source file the torrent was built from.
	Path     string
	MetaInfo *metainfo.MetaInfo
	// AnnounceURL, when set, lists the seeder on the tracker too. Peers
	// reach it through PeerConfig.Seeders in any case.
	AnnounceURL string
	// AllowedPeers, when non-empty, is the IP allowlist for connections.
	AllowedPeers []string
	// UploadLimit caps the seeder's bytes on the wire per second (0:
	// unlimited), to model the control node's uplink in tests and demos.
	UploadLimit int64
	Logger      *slog.Logger
}

// Seeder serves one complete file, read-only, to the swarm.
type Seeder struct {
	cl     *client
	t      *torrent.Torrent
	f      *os.File
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}
}

// StartSeeder verifies every piece of cfg.Path against cfg.MetaInfo (a
// seeder must never serve data it has not checked) and starts serving it.
func StartSeeder(ctx context.Context, cfg SeederConfig) (*Seeder, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MetaInfo == nil {
		return nil, errors.New("start seeder: no torrent")
	}
	info, err := loadInfo(cfg.MetaInfo)
	if err != nil {
		return nil, fmt.Errorf("start seeder: %w", err)
	}
	host, _, err := net.SplitHostPort(cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("seeder listen address %q: %w", cfg.ListenAddr, err)
	}
	f, size, err := openSource(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("start seeder: %w", err)
	}
	if size != info.Length {
		f.Close()
		return nil, fmt.Errorf("start seeder: %s is %d bytes, the torrent says %d", cfg.Path, size, info.Length)
	}
	_, ok, err := verifyPieces(ctx, f, info)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("start seeder: verify %s: %w", cfg.Path, err)
	}
	for i, good := range ok {
		if !good {
			f.Close()
			return nil, fmt.Errorf("start seeder: %s changed since the torrent was built (piece %d differs)", cfg.Path, i)
		}
	}
	st := newFileStorage(f, info, ok, true)
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("start seeder: listen on %s: %w", cfg.ListenAddr, err)
	}
	if cfg.UploadLimit > 0 {
		ln = newLimitedListener(ln, cfg.UploadLimit)
	}
	cl, err := newClient(clientOptions{Listener: ln, Allowed: cfg.AllowedPeers, Logger: logger})
	if err != nil {
		ln.Close()
		f.Close()
		return nil, fmt.Errorf("start seeder: %w", err)
	}
	t, err := addTorrent(cl, cfg.MetaInfo, info, st)
	if err != nil {
		cl.Close()
		ln.Close()
		f.Close()
		return nil, fmt.Errorf("start seeder: %w", err)
	}
	actx, cancel := context.WithCancel(context.Background())
	s := &Seeder{cl: cl, t: t, f: f, ln: ln, cancel: cancel, done: make(chan struct{})}
	if cfg.AnnounceURL == "" {
		close(s.done)
		return s, nil
	}
	a := &announcer{
		URL:      cfg.AnnounceURL,
		InfoHash: t.InfoHash(),
		PeerID:   cl.PeerID(),
		Port:     cl.LocalPort(),
		LocalIP:  localIP(host),
		Stats: func() announceStats {
			return announceStats{Uploaded: s.Uploaded()}
		},
		AddPeers: func([]string) {}, // peers dial the seeder
		Logger:   logger,
	}
	a.init()
	go func() {
		defer close(s.done)
		a.Run(actx)
	}()
	return s, nil
}

// Port is the TCP port the seeder listens on.
func (s *Seeder) Port() int { return s.cl.LocalPort() }

// Uploaded is the number of file bytes the seeder has sent.
func (s *Seeder) Uploaded() int64 {
	st := s.t.Stats()
	return st.BytesWrittenData.Int64()
}

// Close stops serving.
func (s *Seeder) Close() error {
	s.cancel()
	<-s.done
	errs := s.cl.Close()
	// s.f is left to the garbage collector, for the reason peerRun.cleanup
	// gives: a late peer-request read must not find it closed.
	errs = append(errs, s.ln.Close())
	return errors.Join(errs...)
}

// loadInfo decodes and sanity-checks a single-file torrent's info.
func loadInfo(mi *metainfo.MetaInfo) (*metainfo.Info, error) {
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return nil, fmt.Errorf("decode torrent info: %w", err)
	}
	switch {
	case info.IsDir():
		return nil, errors.New("torrent holds a directory; murderctl ships single files")
	case info.Length <= 0:
		return nil, errors.New("torrent has no data")
	case info.PieceLength <= 0:
		return nil, errors.New("torrent has no piece length")
	case len(info.Pieces)%20 != 0 || int64(len(info.Pieces)/20) != (info.Length+info.PieceLength-1)/info.PieceLength:
		return nil, errors.New("torrent piece hashes do not match its length")
	}
	return &info, nil
}

// localIP is host as an IP to dial from, or nil for any.
func localIP(host string) net.IP {
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil
	}
	return ip
}
