// Package swarm moves the bytes: it builds the torrent, runs the seeder inside
// murderctl, and runs the peer on each host. It knows nothing of inventories,
// SSH or the orchestrator; the peer talks to its parent only through the
// line-oriented JSON protocol defined in this file.
package swarm

// The peer protocol. The orchestrator starts `murderctl peer` on a host over an
// SSH session. Nothing secret travels in argv: the first line the peer reads on
// stdin is a PeerConfig as JSON. After that, stdin carries Control lines. The
// peer writes Event lines on stdout, one JSON object per line, and free-form
// diagnostics on stderr. When stdin closes (the SSH session died, or the
// orchestrator is done), the peer stops, removes its temporary files and exits.

// PeerConfig is everything a peer needs for one deploy.
type PeerConfig struct {
	// TorrentPath is the .torrent file already pushed to the host. Torrent,
	// when set instead, is the .torrent itself (base64 in the JSON line).
	TorrentPath string `json:"torrent_path,omitempty"`
	Torrent     []byte `json:"torrent,omitempty"`
	// RemoveTorrent has the peer delete TorrentPath when it exits (it was
	// pushed for this run only).
	RemoveTorrent bool `json:"remove_torrent,omitempty"`
	// SHA256 is the hex digest of the whole file; the peer verifies it before
	// the file is renamed into place.
	SHA256 string `json:"sha256"`
	// SHA256Chain, when set, lets the peer check SHA256 segment by segment
	// while it downloads, so little is left to hash when the last piece
	// lands (sha256chain.go). It must fit the torrent's size and pieces.
	SHA256Chain *SHA256Chain `json:"sha256_chain,omitempty"`
	// Dest is the destination path. Relative paths are relative to the
	// peer's working directory (the remote user's home). An empty Dest or one
	// ending in "/" names a directory: the file keeps the torrent's name in it.
	// An existing directory is also written into, as scp does.
	Dest string `json:"dest"`
	// AnnounceURL is this deploy's tracker URL, secret token included.
	AnnounceURL string `json:"announce_url"`
	// OriginURL is the deploy's Origin (secret token included): the peer
	// pulls the pieces it is handed from there, and falls back to it for
	// pieces the swarm does not deliver. See Origin.
	OriginURL string `json:"origin_url,omitempty"`
	// AnnounceIP, when set, is sent as the announce's ip parameter: the
	// address other hosts reach this one at, for a peer whose announces
	// arrive through a tunnel.
	AnnounceIP string `json:"announce_ip,omitempty"`
	// Seeders are ip:port addresses of BitTorrent seeders to connect to
	// directly (optional; a deploy uses OriginURL instead).
	Seeders []string `json:"seeders,omitempty"`
	// BindIP, when set, is the local address the peer listens and announces
	// from (the in-process demo fleet gives each host its own 127.0.0.x).
	BindIP string `json:"bind_ip,omitempty"`
	// AllowedPeers, when non-empty, lists the IPs the peer accepts
	// connections from (the deploy's hosts and the seeder).
	AllowedPeers []string `json:"allowed_peers,omitempty"`
	// ServeBinary makes the peer serve its own executable, read-only, to
	// AllowedPeers on a separate port (reported as Event.BinaryPort), so
	// hosts that lack the peer binary fetch it from the fleet rather than
	// from the control node.
	ServeBinary bool `json:"serve_binary,omitempty"`
	// MaxConns is how many connections to other peers the peer seeks; it
	// accepts up to twice as many (0: the library's limit, and no seeking).
	MaxConns int `json:"max_conns,omitempty"`
	// Procs caps the cores the peer's Go runtime uses (GOMAXPROCS; 0: all).
	Procs int `json:"procs,omitempty"`
	// TCPCongestion lists TCP congestion-control algorithms for the peer's
	// BitTorrent sockets; the first the host lets it set is used. Empty
	// keeps the host's default.
	TCPCongestion []string `json:"tcp_congestion,omitempty"`
	// FaultCorruptUploads is a test fault: a peer that already holds the
	// file serves it with corrupted bytes, so the fleet's handling of a
	// lying peer can be exercised end to end. Never set in normal use.
	FaultCorruptUploads bool `json:"fault_corrupt_uploads,omitempty"`
	// ProgressIntervalMS is how often progress events are written (0: 500ms).
	ProgressIntervalMS int `json:"progress_interval_ms,omitempty"`
}

// Event kinds written by the peer, in the order they usually appear.
const (
	EventStarted  = "started"  // the peer runs and listens
	EventProgress = "progress" // periodic byte counts
	EventVerified = "verified" // the whole-file SHA-256 matched
	EventDone     = "done"     // the file is in place; the peer keeps seeding
	EventFailed   = "failed"   // the peer gave up; Reason says why
	EventBadPeer  = "bad_peer" // a remote peer sent data that failed its hash
	EventExiting  = "exiting"  // the peer is stopping; final counters
)

// Event is one line of the peer's stdout.
type Event struct {
	Event string `json:"event"`
	// Progress and final counters.
	Have       int   `json:"have,omitempty"`  // pieces verified
	Total      int   `json:"total,omitempty"` // pieces in the torrent
	Downloaded int64 `json:"downloaded,omitempty"`
	Uploaded   int64 `json:"uploaded,omitempty"`
	// Duplicate counts block bytes received that the host already had:
	// upload the swarm spent for nothing.
	Duplicate int64 `json:"duplicate,omitempty"`
	// Done: whether the destination changed, and where the file is.
	Changed bool   `json:"changed,omitempty"`
	Dest    string `json:"dest,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	// Failed: a human reason and a short machine code (see Code* constants).
	Reason string `json:"reason,omitempty"`
	Code   string `json:"code,omitempty"`
	// Started: the peer's listen address. BadPeer: the offending address.
	Addr string `json:"addr,omitempty"`
	// Started: the peer's process id on its host.
	Pid int `json:"pid,omitempty"`
	// Started: the port serving the peer binary when ServeBinary was asked.
	BinaryPort int `json:"binary_port,omitempty"`
}

// Failure codes carried by failed events and mirrored by the peer's exit code.
const (
	CodeConfig   = "config"   // bad or unreadable PeerConfig
	CodeNoSpace  = "no_space" // ENOSPC / EDQUOT while writing
	CodeDest     = "dest"     // destination parent missing or not writable
	CodeHash     = "hash"     // whole-file SHA-256 mismatch
	CodeIO       = "io"       // other local I/O error
	CodeInternal = "internal" // anything else
)

// Peer exit codes.
const (
	ExitOK      = 0
	ExitFailed  = 1 // a failed event was written
	ExitConfig  = 3 // the config could not be read
	ExitStopped = 0 // told to stop after done: a clean exit
	ExitAborted = 4 // stdin closed before the file was in place
)

// Control commands the orchestrator writes to the peer's stdin after the config.
const (
	// ControlStop: the fleet is done; stop seeding and exit.
	ControlStop = "stop"
)

// Control is one line on the peer's stdin after the config.
type Control struct {
	Cmd string `json:"cmd"`
}
