package swarm

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/iplist"
	"github.com/anacrolix/torrent/metainfo"
	pp "github.com/anacrolix/torrent/peer_protocol"
	"github.com/anacrolix/torrent/storage"
	"golang.org/x/time/rate"
)

// clientOptions configures the torrent client shared by seeder and peer.
type clientOptions struct {
	// ListenHost is the IP to listen and dial from; empty means all.
	ListenHost string
	ListenPort int
	// Allowed, when non-empty, is the allowlist of peer IPs (or CIDRs).
	Allowed []string
	// Listener, when set, is the only way in: the client opens no socket
	// of its own and never dials (the seeder's mode).
	Listener net.Listener
	// MaxConns caps established peer connections (0: 80). Fewer
	// connections mean each fresh piece is uploaded to fewer peers at once,
	// so it completes sooner at each and spreads as a tree.
	MaxConns int
	// Congestion lists TCP congestion-control algorithms for the client's
	// own sockets (not Listener's), the first the kernel accepts wins;
	// empty keeps the host's default.
	Congestion []string
	Logger     *slog.Logger
}

// newClient starts a TCP-only torrent client tuned for a LAN deploy: no
// DHT, PEX, uTP, trackers (swarm announces itself), encryption preference,
// or rate limits; connection limits fit for 50+ peers; always seeding.
func newClient(o clientOptions) (*client, error) {
	cfg := torrent.NewDefaultClientConfig()
	cfg.Seed = true
	// Every torrent brings its own storage. Setting a default that touches no
	// disk stops the library from creating .torrent.bolt.db (or an sqlite
	// file) in the working directory, which on a host is the user's home.
	cfg.DefaultStorage = storage.NewMMapWithCompletion(os.TempDir(), storage.NewMapPieceCompletion())
	cfg.NoDHT = true
	cfg.DisablePEX = true
	cfg.DisableUTP = true
	cfg.DisableTrackers = true
	cfg.DisableWebtorrent = true
	cfg.DisableWebseeds = true
	cfg.NoDefaultPortForwarding = true
	cfg.DisableAggressiveUpload = false
	cfg.EstablishedConnsPerTorrent = 80
	cfg.HalfOpenConnsPerTorrent = 40
	if o.MaxConns > 0 {
		cfg.EstablishedConnsPerTorrent = o.MaxConns
		cfg.HalfOpenConnsPerTorrent = min(40, max(4, o.MaxConns))
	}
	cfg.TotalHalfOpenConns = 160
	cfg.TorrentPeersHighWater = 1000
	cfg.TorrentPeersLowWater = 100
	cfg.DialRateLimiter = rate.NewLimiter(rate.Inf, 0)
	cfg.MinDialTimeout = 2 * time.Second
	cfg.NominalDialTimeout = 5 * time.Second
	cfg.HeaderObfuscationPolicy = torrent.HeaderObfuscationPolicy{}
	// The library opens no socket of its own: the seeder hands it a
	// listener, and a peer opens its own so that it can choose their
	// congestion control (the library's sockets take no options).
	cfg.DisableTCP = true
	cfg.DialForPeerConns = false
	cfg.StealRequestGrace = stealGrace
	cfg.MaxUnverifiedBytes = unverifiedWindow
	// One wake-up per piece message, not per segment: at 50 peers on two
	// cores this took the deploy's CPU from about 90% to 70% of the machine
	// (docs/benchmarks.md, seventh session).
	cfg.PieceDataRcvLowat = true
	cfg.Slogger = o.Logger
	if cfg.Slogger == nil {
		cfg.Slogger = slog.New(slog.DiscardHandler)
	}

	var bindIP net.IP
	if o.ListenHost != "" {
		bindIP = net.ParseIP(o.ListenHost)
		if bindIP == nil {
			return nil, fmt.Errorf("listen address %q is not an IP", o.ListenHost)
		}
		if bindIP.To4() != nil {
			cfg.DisableIPv6 = true
		} else {
			cfg.DisableIPv4 = true
		}
	}
	if len(o.Allowed) > 0 {
		al, err := newAllowList(o.Allowed)
		if err != nil {
			return nil, err
		}
		cfg.IPBlocklist = al
	}
	listener := o.Listener
	var dialer torrent.Dialer
	var err error
	if listener == nil {
		if listener, dialer, err = peerSockets(bindIP, o.ListenPort, o.Congestion); err != nil {
			return nil, err
		}
	}
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		if o.Listener == nil {
			listener.Close()
		}
		return nil, fmt.Errorf("start torrent client on %s: %w", net.JoinHostPort(o.ListenHost, fmt.Sprint(o.ListenPort)), err)
	}
	cl.AddListener(listener)
	c := &client{Client: cl}
	if dialer != nil {
		cl.AddDialer(dialer)
		c.ownListener = listener
	}
	return c, nil
}

// client is a torrent client with the listener it was given when that is
// the client's own: the library never closes a listener it was handed.
type client struct {
	*torrent.Client
	ownListener net.Listener
}

func (c *client) Close() []error {
	errs := c.Client.Close()
	if c.ownListener != nil {
		if err := c.ownListener.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// peerSockets opens a peer's listening socket on bindIP (all addresses if
// nil) and the dialer to go with it, with the congestion control the peer
// was told to use.
func peerSockets(bindIP net.IP, port int, congestion []string) (net.Listener, torrent.Dialer, error) {
	network, host := "tcp", ""
	control := socketControl(congestion)
	d := &net.Dialer{KeepAlive: -1, Control: control} // BitTorrent keeps its own keep-alives
	if bindIP != nil {
		network, host = "tcp4", bindIP.String()
		if bindIP.To4() == nil {
			network = "tcp6"
		}
		// Dial from the bound address too, so allowlists on the other side
		// see the address this peer announced.
		d.LocalAddr = &net.TCPAddr{IP: bindIP}
	}
	lc := net.ListenConfig{KeepAlive: -1, Control: control}
	ln, err := lc.Listen(context.Background(), network, net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, nil, fmt.Errorf("start torrent client: %w", err)
	}
	// The listener's option is not inherited by the sockets it accepts.
	return LimitUnsent(ln), torrent.NetworkDialer{Network: network, Dialer: d}, nil
}

// stealGrace is how long a block request stays with the peer it was sent
// to before another connection may take it over. The library otherwise
// moves a request to whichever connection most recently delivered, and
// cancels it at the first holder; but with whole-piece blocks and queues of
// 100 ms and more the first holder has usually sent the block already, so
// both copies arrive and one is thrown away. Measured with the library's
// ChunksReadWasted (docs/benchmarks.md, fifth session): with no grace one
// block in six received was a duplicate at 10 hosts; at 50 hosts one in
// eight with 1 s and one in 230 with 5 s. A request still moves after 5 s,
// so a stalled holder does not keep a block for long.
const stealGrace = 5 * time.Second

// unverifiedWindow is the library's MaxUnverifiedBytes: 0, no limit. The
// library's 64 MiB default is not a memory bound: when choosing requests it
// considers only the first 64 MiB of missing pieces in its piece order,
// which ranks pieces no connected peer has first. On a file larger than
// that, a host's window held mostly pieces the origin had not handed out
// yet, and it asked its peers for nothing they held beyond it. A 256 MiB
// deploy to 10 hosts took 1.98 T against 1.12 T without the limit
// (docs/benchmarks.md, eleventh session). Outstanding requests per
// connection bound the unverified data instead.
const unverifiedWindow = 0

// maxChunk is the largest block a peer requests at once. The protocol's
// customary 16 KiB costs a request, a message, a write and a bookkeeping
// round per 16 KiB; at 50 peers sharing two cores that per-block work was
// the limit. Whole 128 KiB pieces per request, measured side by side at 50
// hosts (docs/benchmarks.md): user CPU -25%, and with loss-based congestion
// control 1.47-1.52 T against 1.60-1.73 T. Only murderctl peers talk to
// each other, and the library accepts requests of any length it can serve.
const maxChunk = 128 << 10

// addTorrent adds mi (whose parsed info is info) to cl over st, without
// trackers or web seeds.
func addTorrent(cl *client, mi *metainfo.MetaInfo, info *metainfo.Info, st *fileStorage) (*torrent.Torrent, error) {
	spec, err := torrent.TorrentSpecFromMetaInfoErr(mi)
	if err != nil {
		return nil, fmt.Errorf("read torrent: %w", err)
	}
	spec.ChunkSize = pp.Integer(min(info.PieceLength, maxChunk))
	spec.Trackers = nil
	spec.Webseeds = nil
	spec.DhtNodes = nil
	spec.Storage = st
	t, _, err := cl.AddTorrentSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("add torrent: %w", err)
	}
	return t, nil
}

// allowList is an iplist.Ranger that blocks every IP outside its prefixes,
// turning the library's blocklist hook into an allowlist for both
// accepted and dialled connections.
type allowList struct{ prefixes []netip.Prefix }

func newAllowList(entries []string) (*allowList, error) {
	al := &allowList{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("allowed peer %q: %w", e, err)
			}
			al.prefixes = append(al.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("allowed peer %q: %w", e, err)
		}
		a = a.Unmap()
		al.prefixes = append(al.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return al, nil
}

// Lookup reports ip as blocked unless an allowed prefix holds it.
func (al *allowList) Lookup(ip net.IP) (iplist.Range, bool) {
	a, ok := netip.AddrFromSlice(ip)
	if ok {
		a = a.Unmap()
		for _, p := range al.prefixes {
			if p.Contains(a) {
				return iplist.Range{}, false
			}
		}
	}
	return iplist.Range{First: ip, Last: ip, Description: "not an allowed peer"}, true
}

// NumRanges implements iplist.Ranger.
func (al *allowList) NumRanges() int { return len(al.prefixes) }

// peerInfos turns ip:port strings into torrent peers from source src.
func peerInfos(addrs []string, src torrent.PeerSource, trusted bool) []torrent.PeerInfo {
	out := make([]torrent.PeerInfo, 0, len(addrs))
	for _, a := range addrs {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			continue
		}
		out = append(out, torrent.PeerInfo{
			Addr:    &net.TCPAddr{IP: ap.Addr().Unmap().AsSlice(), Port: int(ap.Port())},
			Source:  src,
			Trusted: trusted,
		})
	}
	return out
}
