package swarm

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
)

// peerTorrent is the torrent a peer downloads.
type peerTorrent struct {
	mi   *metainfo.MetaInfo
	info *metainfo.Info
	hash metainfo.Hash
}

// loadPeerTorrent reads the torrent inline in cfg or from its file.
func loadPeerTorrent(cfg PeerConfig) (*peerTorrent, error) {
	path := cfg.TorrentPath
	var mi *metainfo.MetaInfo
	var err error
	if len(cfg.Torrent) > 0 {
		path = "(inline)"
		mi, err = metainfo.Load(bytes.NewReader(cfg.Torrent))
	} else {
		mi, err = metainfo.LoadFromFile(path)
	}
	if err != nil {
		return nil, withCode(CodeConfig, fmt.Errorf("load torrent %s: %w", path, err))
	}
	info, err := loadInfo(mi)
	if err != nil {
		return nil, withCode(CodeConfig, fmt.Errorf("torrent %s: %w", path, err))
	}
	if c := cfg.SHA256Chain; c != nil {
		if err := c.fits(info.Length, info.PieceLength); err != nil {
			return nil, withCode(CodeConfig, fmt.Errorf("torrent %s: %w", path, err))
		}
	}
	return &peerTorrent{mi: mi, info: info, hash: mi.HashInfoBytes()}, nil
}

// RunPeer runs one peer of a deploy: it downloads the file into a private
// temp file beside the destination (or finds it already there), verifies,
// renames it into place, and seeds until told to stop on control or the
// control stream ends. It writes Events to events and returns the exit
// code. The destination is never left half-written.
func RunPeer(ctx context.Context, cfg PeerConfig, control io.Reader, events io.Writer, logger *slog.Logger) int {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	em := &emitter{w: events}
	if err := cfg.Validate(); err != nil {
		em.Emit(Event{Event: EventFailed, Code: CodeConfig, Reason: err.Error()})
		return ExitConfig
	}
	pt, err := loadPeerTorrent(cfg)
	if err != nil {
		em.Emit(Event{Event: EventFailed, Code: CodeConfig, Reason: err.Error()})
		return ExitConfig
	}
	ctrl := watchControl(control, logger)
	r := &peerRun{cfg: cfg, pt: pt, em: em, log: logger, ctrl: ctrl}
	code := r.run(ctx)
	r.cleanup()
	if r.exitEvent != nil {
		em.Emit(*r.exitEvent) // after cleanup: the temp file is gone
	}
	return code
}

// corruptReader is the FaultCorruptUploads test fault: a seeding peer that
// serves every piece with one byte flipped, as a lying or broken host would.
type corruptReader struct{ f *os.File }

func (c corruptReader) ReadAt(b []byte, off int64) (int, error) {
	n, err := c.f.ReadAt(b, off)
	if n > 0 {
		b[0] ^= 0xff
	}
	return n, err
}

func (c corruptReader) WriteAt(b []byte, off int64) (int, error) { return c.f.WriteAt(b, off) }

// wrapDownloadFile, when set (by tests only), wraps the temp file under
// the storage, to inject write errors such as ENOSPC mid-download.
var wrapDownloadFile func(*os.File) fileIO

// peerRun is the state of one RunPeer call.
type peerRun struct {
	cfg  PeerConfig
	pt   *peerTorrent
	em   *emitter
	log  *slog.Logger
	ctrl *controlWatch

	dest string
	tmp  string // removed at exit unless renamed or kept
	// keepPart keeps tmp after an interruption: the next run resumes it.
	keepPart bool
	renamed  bool
	f        *os.File
	st       *fileStorage
	cl       *client
	t        *torrent.Torrent
	stopAnn  context.CancelFunc
	annDone  chan struct{}
	badSeen  map[string]bool
	// completedHook asks the announcer for event=completed.
	completedHook func()
	// announcer is nil without an AnnounceURL.
	announcer  *announcer
	exitEvent  *Event
	stopBin    context.CancelFunc
	origin     *originPuller // nil without an OriginURL
	stopOrigin context.CancelFunc
	// stopWriteBehind ends the temp file's writeback ticker (writebehind.go).
	stopWriteBehind context.CancelFunc
	// chain checks the SHA-256 segment by segment as the download runs
	// (nil without a PeerConfig.SHA256Chain).
	chain *chainCheck
}

func (r *peerRun) fail(err error) int {
	code := errorCode(err)
	r.log.Error("peer failed", "code", code, "err", err)
	r.em.Emit(Event{Event: EventFailed, Code: code, Reason: err.Error()})
	if code == CodeConfig {
		return ExitConfig
	}
	return ExitFailed
}

func (r *peerRun) run(ctx context.Context) int {
	var err error
	if r.dest, err = resolveDest(r.cfg.Dest, r.pt.info.Name); err != nil {
		return r.fail(err)
	}
	existing, err := matchingDest(ctx, r.dest, r.cfg.SHA256, r.pt)
	if err != nil {
		return r.fail(err)
	}
	if existing != nil {
		r.f = existing
		all := make([]bool, r.pt.info.NumPieces())
		for i := range all {
			all[i] = true
		}
		var fio fileIO = r.f
		if r.cfg.FaultCorruptUploads {
			fio = corruptReader{r.f}
		}
		r.st = newFileStorage(fio, r.pt.info, all, true)
	} else {
		r.tmp = tempPath(r.dest, r.pt.hash.HexString())
		var resumed []bool
		if r.f, resumed, err = openTemp(ctx, r.tmp, r.pt.info); err != nil {
			r.tmp = "" // createTemp removes what it created
			return r.fail(err)
		}
		adviseRandom(r.f)
		wctx, stop := context.WithCancel(ctx)
		r.stopWriteBehind = stop
		go writeBehind(wctx, r.f, writeBehindEvery, startWriteback)
		var fio fileIO = r.f
		if wrapDownloadFile != nil {
			fio = wrapDownloadFile(r.f)
		}
		r.st = newFileStorage(fio, r.pt.info, resumed, false)
		if c := r.cfg.SHA256Chain; c != nil {
			digest, _ := hex.DecodeString(r.cfg.SHA256) // Validate checked it
			r.chain = newChainCheck(r.f, r.pt.info, *c, digest, resumed)
			r.st.chain = r.chain
			r.chain.start(ctx)
		}
	}
	if ctx.Err() != nil {
		return r.exit(false)
	}
	if err := r.startTorrent(); err != nil {
		return r.fail(err)
	}
	started := Event{Event: EventStarted, Addr: r.listenAddr(), Pid: os.Getpid(), Have: r.st.Have(), Total: r.pt.info.NumPieces()}
	if r.cfg.ServeBinary {
		// Best effort: without it, hosts get the binary from the control node.
		bctx, cancel := context.WithCancel(ctx)
		r.stopBin = cancel // stop serving when the peer exits, not only on ctx
		if port, err := serveBinary(bctx, r.cfg.BindIP, r.cfg.AllowedPeers, r.log); err == nil {
			started.BinaryPort = port
		} else {
			r.log.Warn("cannot serve the peer binary", "err", err)
		}
	}
	r.em.Emit(started)
	done := existing != nil
	if done {
		r.em.Emit(Event{Event: EventDone, Changed: false, Dest: r.dest, SHA256: r.cfg.SHA256})
	}
	return r.loop(ctx, done)
}

func (r *peerRun) startTorrent() error {
	var err error
	// MaxConns is the number of connections the peer seeks; it accepts up
	// to twice that, so a peer that joins late or lost its neighbours
	// always finds someone who takes its connection.
	r.cl, err = newClient(clientOptions{ListenHost: r.cfg.BindIP, Allowed: r.cfg.AllowedPeers, MaxConns: 2 * r.cfg.MaxConns, Congestion: r.cfg.TCPCongestion, Logger: r.log})
	if err != nil {
		return withCode(CodeInternal, err)
	}
	if r.t, err = addTorrent(r.cl, r.pt.mi, r.pt.info, r.st); err != nil {
		return withCode(CodeInternal, err)
	}
	r.t.SetOnWriteChunkError(r.st.fail)
	if r.st.Have() < r.pt.info.NumPieces() {
		r.t.DownloadAll()
		// With an origin, each piece enters the fleet at one host, so the
		// library's rarest-first order already spreads fresh pieces;
		// priority classes would override rarity and leave them to wait.
		// Without one, every peer would pull the same pieces from the
		// seeders unless each starts somewhere else.
		if r.cfg.OriginURL == "" {
			randomizePriorities(r.t, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
		}
	}
	r.t.AddPeers(peerInfos(r.cfg.Seeders, torrent.PeerSourceDirect, true))
	if r.cfg.OriginURL != "" && r.st.Have() < r.pt.info.NumPieces() {
		r.origin = newOriginPuller(r.cfg.OriginURL, r.cfg.BindIP, r.t, r.st, r.pt.info, r.log)
		octx, cancel := context.WithCancel(context.Background())
		r.stopOrigin = cancel
		go r.origin.run(octx)
	}
	actx, cancel := context.WithCancel(context.Background())
	r.stopAnn, r.annDone = cancel, make(chan struct{})
	if r.cfg.AnnounceURL == "" {
		close(r.annDone)
		return nil
	}
	a := &announcer{
		URL:        r.cfg.AnnounceURL,
		InfoHash:   r.t.InfoHash(),
		PeerID:     r.cl.PeerID(),
		Port:       r.cl.LocalPort(),
		LocalIP:    net.ParseIP(r.cfg.BindIP),
		AnnounceIP: r.cfg.AnnounceIP,
		Stats:      r.announceStats,
		Want:       r.peerWant,
		AddPeers:   func(addrs []string) { r.t.AddPeers(peerInfos(addrs, torrent.PeerSourceTracker, false)) },
		Logger:     r.log,
	}
	a.init()
	r.completedHook = a.Completed
	r.announcer = a
	go func() {
		defer close(r.annDone)
		a.Run(actx)
	}()
	return nil
}

// peerWant sizes each announce's numwant to the connections the peer
// still seeks (PeerConfig.MaxConns), at most half of them at a time: a
// peer dials about half its neighbours and is dialled by the others, so
// every peer gets connections and none is asked by everyone at once.
// A peer that has the whole file is in no hurry: only a downloading peer
// re-announces early, which keeps the tracker's load bounded in a large
// fleet whose finished hosts lose neighbours.
func (r *peerRun) peerWant() (int, bool) {
	n, soon := connWant(r.cfg.MaxConns, r.t.Stats().ActivePeers)
	return n, soon && r.st.Have() < r.pt.info.NumPieces()
}

func connWant(target, active int) (numWant int, soon bool) {
	if target <= 0 {
		return defaultNumWant, false
	}
	half := (target + 1) / 2
	return min(half, max(0, target-active)), active < half
}

func (r *peerRun) announceStats() announceStats {
	s := r.t.Stats()
	return announceStats{
		Uploaded:   s.BytesWrittenData.Int64(),
		Downloaded: s.BytesReadUsefulData.Int64(),
		Left:       r.t.BytesMissing(),
	}
}

func (r *peerRun) listenAddr() string {
	return net.JoinHostPort(r.cfg.BindIP, strconv.Itoa(r.cl.LocalPort()))
}

// counters fills an event with the current counts.
func (r *peerRun) counters(kind string) Event {
	ev := Event{Event: kind, Have: r.st.Have(), Total: r.pt.info.NumPieces()}
	if r.t != nil {
		s := r.t.Stats()
		ev.Downloaded = s.BytesReadUsefulData.Int64()
		if r.origin != nil {
			ev.Downloaded += r.origin.got.Load()
		}
		ev.Uploaded = s.BytesWrittenData.Int64()
		ev.Duplicate = s.BytesReadData.Int64() - s.BytesReadUsefulData.Int64()
	}
	return ev
}

// loop runs until the file is in place and the parent says stop, or
// until something fails or the parent goes away.
func (r *peerRun) loop(ctx context.Context, done bool) int {
	interval := time.Duration(r.cfg.ProgressIntervalMS) * time.Millisecond
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var complete <-chan struct{}
	if !done {
		complete = r.t.Complete().On()
	}
	for {
		select {
		case <-ctx.Done():
			return r.exit(done)
		case <-r.ctrl.eof:
			return r.exit(done)
		case <-r.ctrl.stop:
			return r.exit(done)
		case <-r.st.Failed():
			return r.fail(withCode(CodeIO, r.st.Err()))
		case <-complete:
			complete = nil
			if err := r.finish(ctx); err != nil {
				if ctx.Err() != nil {
					return r.exit(false)
				}
				return r.fail(err)
			}
			done = true
		case <-tick.C:
			r.em.Emit(r.counters(EventProgress))
			r.reportBadPeers()
		}
	}
}

// finish verifies, renames into place and reports done.
func (r *peerRun) finish(ctx context.Context) error {
	if r.stopWriteBehind != nil {
		r.stopWriteBehind() // the fsync in finalize does the rest
	}
	if err := checkSHA256(ctx, r.f, r.tmp, r.cfg.SHA256, r.pt.info.Length, r.chain, r.log); err != nil {
		return err
	}
	if err := finalize(r.f, r.tmp, r.dest); err != nil {
		return err
	}
	r.renamed = true
	r.st.SetReadOnly()
	r.em.Emit(Event{Event: EventVerified, SHA256: r.cfg.SHA256})
	ev := r.counters(EventDone)
	ev.Changed, ev.Dest, ev.SHA256 = true, r.dest, r.cfg.SHA256
	r.em.Emit(ev)
	if r.completedHook != nil {
		r.completedHook()
	}
	return nil
}

// exit emits the final counters and returns the exit code for a stop.
func (r *peerRun) exit(done bool) int {
	ev := r.counters(EventExiting)
	r.exitEvent = &ev
	if done {
		return ExitStopped
	}
	// Interrupted, not failed: keep the partial file for the next run.
	r.keepPart = true
	return ExitAborted
}

// reportBadPeers emits bad_peer once for each IP the client banned for
// sending data that failed its hash.
func (r *peerRun) reportBadPeers() {
	for _, ip := range r.cl.BadPeerIPs() {
		// The client may list an IPv4 peer in its IPv4-mapped IPv6 form;
		// report the address the fleet knows the host by.
		if a, err := netip.ParseAddr(ip); err == nil {
			ip = a.Unmap().String()
		}
		if r.badSeen == nil {
			r.badSeen = map[string]bool{}
		}
		if !r.badSeen[ip] {
			r.badSeen[ip] = true
			r.em.Emit(Event{Event: EventBadPeer, Addr: ip})
		}
	}
}

// cleanup stops the announcer and the client and removes the temp file
// unless it was renamed into place.
func (r *peerRun) cleanup() {
	if r.stopWriteBehind != nil {
		r.stopWriteBehind()
	}
	if r.chain != nil {
		r.chain.halt()
	}
	if r.stopBin != nil {
		r.stopBin()
	}
	if r.stopOrigin != nil {
		r.stopOrigin()
	}
	if r.stopAnn != nil {
		if r.ctrl.stopped() && r.announcer != nil {
			r.announcer.LeaveSilently() // its tracker goes with the deploy
		}
		r.stopAnn()
		<-r.annDone
	}
	if r.cl != nil {
		r.cl.Close()
	}
	// r.f is not closed here: it closes when the process exits or the
	// garbage collector finds it unreachable. anacrolix reads for peer
	// requests outside its lock and may start one even after Client.Close
	// returns; a read that fails on a closed file then trips a panicif in
	// its request server (v1.61.0 peerconn.go servePeerRequest) and takes
	// the whole peer down. Removing or renaming the file below works with
	// it open.
	// The .torrent was pushed for this run only.
	if r.cfg.RemoveTorrent && r.cfg.TorrentPath != "" {
		if err := os.Remove(r.cfg.TorrentPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			r.log.Warn("remove torrent file", "path", r.cfg.TorrentPath, "err", err)
		}
	}
	if r.tmp != "" && !r.renamed && !r.keepPart {
		if err := os.Remove(r.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			r.log.Warn("remove temp file", "path", r.tmp, "err", err)
		}
	}
}
