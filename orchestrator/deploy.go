package orchestrator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"golang.org/x/sync/semaphore"

	"github.com/murderctl/murderctl/swarm"
	"github.com/murderctl/murderctl/tracker"
	"github.com/murderctl/murderctl/tracker/memstore"
)

// DeployOptions describe one deploy of one file to a set of targets.
type DeployOptions struct {
	// Source is the local file to distribute.
	Source string
	// Dest is the remote destination: empty for the login directory under the
	// file's own name (as scp does), "DIR/" to write inside DIR, else the path.
	Dest    string
	Targets []Target
	Dialer  Dialer
	// Forks bounds concurrent connection set-up. Peers, once launched, all
	// run at once: a swarm needs every member.
	Forks int
	// Timeout bounds the whole deploy; zero means none.
	Timeout time.Duration
	// BindAddr is the local IP the tracker and seeder listen on (default all).
	BindAddr string
	// AdvertiseAddr overrides the address hosts are told to reach us at. By
	// default it is the local address of each host's SSH connection.
	AdvertiseAddr string
	// PieceLength overrides the piece size chosen for speed.
	PieceLength int64
	// Binaries finds peer binaries per platform.
	Binaries *BinarySet
	// BindPeers makes each peer listen on its target's SSH address (for
	// fleets that share one machine, like the demo's 127.0.0.x hosts).
	BindPeers bool
	// PeerConns caps each peer's connections to other peers (0:
	// DefaultPeerConns; negative: the swarm library's own limit).
	PeerConns int
	// PeerProcs caps the cores each peer's runtime uses (0:
	// DefaultPeerProcs; negative: all the host's cores).
	PeerProcs int
	// PeerTCPCongestion lists, comma-separated, the TCP congestion-control
	// algorithms for the peers' sockets; each host uses the first it
	// accepts ("": DefaultPeerTCPCongestion; "default": the host's own).
	PeerTCPCongestion string
	// StallTimeout fails a host whose peer makes no progress for this long
	// (0: DefaultStallTimeout; negative: never).
	StallTimeout time.Duration
	// Faults inject failures for end-to-end tests of the fleet's resilience.
	Faults Faults
	// NoBinaryRelay pushes the peer binary from the control node to every
	// host that lacks it, instead of letting hosts fetch it from each other.
	NoBinaryRelay bool
	// OnEvent, if set, sees every peer event as it arrives (live progress).
	OnEvent func(host string, ev swarm.Event)
	Logger  *slog.Logger
}

// DefaultPeerConns is each peer's connection cap. A fresh piece is then
// uploaded to few peers at once, so it completes at each sooner and spreads
// as a tree, and each piece event touches few connections. Measured side by
// side at 30 hosts on 10 Mbit/s links (docs/benchmarks.md): 6 connections
// against the library's 80 took 1.68 T instead of 2.08 T, half the CPU,
// and 1.08 S instead of 1.16 S from the control node.
const DefaultPeerConns = 6

// DefaultPeerProcs is how many cores a peer's Go runtime may use. The peer
// is a guest on hosts that do other work, and the torrent library does most
// of its work under one lock, so more cores buy it little; on a crowded
// machine fewer runtime threads also spin less (measured at 50 hosts on
// two cores: 1 core per peer cut the peers' CPU time by a tenth).
const DefaultPeerProcs = 2

// Faults are test-only failure injections, reachable from hidden flags.
type Faults struct {
	// OriginLeaves stops the origin once it has sent every piece once.
	OriginLeaves bool
	// CorruptHosts are hosts whose peer, if it already holds the file,
	// serves corrupted data.
	CorruptHosts []string
}

// Report is the outcome of a deploy.
type Report struct {
	Results  Results       `json:"results"`
	SHA256   string        `json:"sha256"`
	Size     int64         `json:"size"`
	Duration time.Duration `json:"duration_ns"`
	// SeederUploaded is the file bytes murderctl's origin sent, all hosts
	// together (the wire adds HTTP and TCP overhead).
	SeederUploaded int64 `json:"seeder_uploaded"`
}

// deploy is the state shared by the per-host goroutines of one deploy.
type deploy struct {
	start    time.Time
	opts     DeployOptions
	log      *slog.Logger
	mi       *metainfo.MetaInfo
	torrent  []byte // mi encoded: the .torrent every host gets
	infoHash string
	name     string // the file's base name, as in the torrent
	sha256   string
	chain    *swarm.SHA256Chain // nil for a file of one chain segment
	size     int64
	token    string
	trackerP int
	allowed  []string
	hostIPs  map[string]string // target name -> resolved IP
	setup    *semaphore.Weighted
	tcpCC    []string     // the peers' congestion-control choices
	relay    *binaryRelay // nil when disabled
	gate     *originGate

	mu      sync.Mutex
	pending int
	allDone chan struct{}
}

// Deploy distributes opts.Source to every target peer-to-peer and returns a
// result per target. The error is non-nil only when the deploy could not
// start at all (bad source, no listener); host failures are in the Report.
func Deploy(ctx context.Context, opts DeployOptions) (*Report, error) {
	start := time.Now()
	if len(opts.Targets) == 0 {
		return nil, errors.New("no hosts to deploy to")
	}
	d := &deploy{start: start, opts: opts, log: opts.Logger, allDone: make(chan struct{}), pending: len(opts.Targets)}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.opts.Dialer == nil {
		d.opts.Dialer = SSHDialer{}
	}
	if d.opts.Binaries == nil {
		d.opts.Binaries = &BinarySet{}
	}
	var err error
	if d.tcpCC, err = peerCongestion(opts.PeerTCPCongestion); err != nil {
		return nil, err
	}
	forks := opts.Forks
	if forks <= 0 {
		forks = DefaultForks
	}
	d.setup = semaphore.NewWeighted(int64(forks))
	if !opts.NoBinaryRelay {
		d.relay = newBinaryRelay()
	}

	if err := d.prepare(ctx); err != nil {
		return nil, err
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, opts.Timeout, fmt.Errorf("deploy timed out after %s", opts.Timeout))
		defer cancel()
	}

	tl, trk, err := d.startTracker()
	if err != nil {
		return nil, err
	}
	origin, err := swarm.NewOrigin(opts.Source, d.mi, d.log)
	if err != nil {
		tl.Close()
		return nil, err
	}
	defer origin.Close()
	origin.LeaveAfterHandout = opts.Faults.OriginLeaves
	d.gate = newOriginGate(len(opts.Targets), originHoldMax)
	defer d.gate.release()
	origin.Ready = d.gate.Ready()
	srv := &http.Server{Handler: d.routes(trk.Handler(), origin), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(tl)
	defer srv.Close()
	d.trackerP = tl.Addr().(*net.TCPAddr).Port

	results := make(Results, len(opts.Targets))
	var wg sync.WaitGroup
	for i, t := range opts.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hs := time.Now()
			h := &hostRun{d: d, t: t, r: &results[i]}
			h.r.Host = t.Name
			h.run(ctx)
			h.r.Duration = time.Since(hs)
		}()
	}
	wg.Wait()
	return &Report{
		Results:        results,
		SHA256:         d.sha256,
		Size:           d.size,
		Duration:       time.Since(start),
		SeederUploaded: origin.Uploaded(),
	}, nil
}

// prepare hashes the source, builds the torrent and the peer allowlist.
func (d *deploy) prepare(ctx context.Context) error {
	st, err := os.Stat(d.opts.Source)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if st.IsDir() {
		return fmt.Errorf("source %s is a directory, not a file", d.opts.Source)
	}
	pl := d.opts.PieceLength
	if pl <= 0 {
		pl = pieceLength(st.Size(), len(d.opts.Targets))
	}
	built, err := swarm.Build(ctx, d.opts.Source, pl)
	if err != nil {
		return err
	}
	d.mi, d.sha256, d.size = built.MetaInfo, built.SHA256, built.Size
	if len(built.Chain.States) > 0 {
		d.chain = &built.Chain
	}
	var buf bytes.Buffer
	if err := d.mi.Write(&buf); err != nil {
		return fmt.Errorf("encode torrent: %w", err)
	}
	d.torrent = buf.Bytes()
	d.infoHash = d.mi.HashInfoBytes().HexString()
	d.name = filepath.Base(d.opts.Source)
	d.token = randomHex(16)
	d.allowed, d.hostIPs = allowList(ctx, d.opts.Targets)
	return nil
}

func (d *deploy) startTracker() (net.Listener, *tracker.Tracker, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(d.opts.BindAddr, "0"))
	if err != nil {
		return nil, nil, fmt.Errorf("tracker listen: %w", err)
	}
	// The origin's replies share this listener: each piece must leave at
	// the rate the origin's slots assume, not sit in a send buffer.
	l = swarm.LimitUnsent(l)
	cfg := tracker.Config{Token: d.token}
	policy, err := tracker.PolicyByName(tracker.PolicyCompleteness)
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	clock := tracker.SystemClock{}
	return l, tracker.New(cfg, memstore.New(clock), policy, clock, d.log), nil
}

// routes serves the tracker, and the origin under /<token>/origin/: both
// behind the deploy's secret.
func (d *deploy) routes(tracker http.Handler, origin http.Handler) http.Handler {
	prefix := "/" + d.token + "/origin"
	originH := http.StripPrefix(prefix, origin)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, prefix+"/") {
			originH.ServeHTTP(w, r)
			return
		}
		tracker.ServeHTTP(w, r)
	})
}

// settle marks one host finished (done, failed or unreachable). When every
// host has settled the fleet is done and peers may stop seeding.
func (d *deploy) settle() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending--
	if d.pending == 0 {
		close(d.allDone)
	}
}

// allowList resolves every target's address: peers accept connections only
// from the fleet, plus this machine's own addresses for the seeder. It also
// returns each target's first address.
func allowList(ctx context.Context, targets []Target) ([]string, map[string]string) {
	hostIPs := map[string]string{}
	seen := map[string]bool{}
	var out []string
	add := func(ip string) {
		if !seen[ip] {
			seen[ip] = true
			out = append(out, ip)
		}
	}
	for _, t := range targets {
		if ip := net.ParseIP(t.SSH.Host); ip != nil {
			add(ip.String())
			hostIPs[t.Name] = ip.String()
			continue
		}
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip", t.SSH.Host)
		if err != nil || len(ips) == 0 {
			continue
		}
		hostIPs[t.Name] = ips[0].String()
		for _, ip := range ips {
			add(ip.String())
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				add(n.IP.String())
			}
		}
	}
	return out, hostIPs
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
