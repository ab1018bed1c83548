package tracker

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// InfoHash is the SHA-1 of a torrent's info dictionary: the swarm's name.
type InfoHash [20]byte

// String returns the info hash in lower-case hex.
func (h InfoHash) String() string { return hex.EncodeToString(h[:]) }

// PeerID is the 20-byte identifier a client picks for itself.
type PeerID [20]byte

// String returns the peer ID in lower-case hex (peer IDs are often binary).
func (id PeerID) String() string { return hex.EncodeToString(id[:]) }

// Peer is one member of a swarm as the tracker knows it.
type Peer struct {
	ID   PeerID
	IP   netip.Addr // always unmapped: an IPv4 peer has a 4-byte address
	Port uint16
	// Left is how many bytes the peer still needs; 0 means it is a seeder.
	Left int64
	// Origin marks murderctl's own seeder (see Config.OriginPeerIDs).
	Origin bool
}

// Seeder reports whether the peer holds the whole file.
func (p Peer) Seeder() bool { return p.Left == 0 }

// AddrPort is the address other peers connect to.
func (p Peer) AddrPort() netip.AddrPort { return netip.AddrPortFrom(p.IP, p.Port) }

// ErrInvalidPeer is returned (wrapped) by Peer.Validate and by stores given a
// peer that no one could connect to.
var ErrInvalidPeer = errors.New("invalid peer")

// Validate checks that the peer has a usable address and a sane Left.
func (p Peer) Validate() error {
	switch {
	case !p.IP.IsValid():
		return fmt.Errorf("peer %s: no IP address: %w", p.ID, ErrInvalidPeer)
	case p.IP.Is4In6() || p.IP.Zone() != "":
		return fmt.Errorf("peer %s: address %s must be unmapped and without zone: %w", p.ID, p.IP, ErrInvalidPeer)
	case p.IP.IsUnspecified():
		return fmt.Errorf("peer %s: unspecified address %s: %w", p.ID, p.IP, ErrInvalidPeer)
	case p.Port == 0:
		return fmt.Errorf("peer %s: port 0: %w", p.ID, ErrInvalidPeer)
	case p.Left < 0:
		return fmt.Errorf("peer %s: negative left %d: %w", p.ID, p.Left, ErrInvalidPeer)
	}
	return nil
}

// Event is the optional event of an announce (BEP 3).
type Event uint8

// Announce events.
const (
	EventNone Event = iota
	EventStarted
	EventCompleted
	EventStopped
)

var eventNames = [...]string{"", "started", "completed", "stopped"}

// String returns the event as it appears on the wire ("" for EventNone).
func (e Event) String() string {
	if int(e) < len(eventNames) {
		return eventNames[e]
	}
	return fmt.Sprintf("event(%d)", uint8(e))
}

// AnnounceRequest is a parsed announce, independent of the wire format.
type AnnounceRequest struct {
	InfoHash InfoHash
	// Peer is the announcing peer: its ID, the address others should dial
	// (the connection's remote IP unless an `ip` parameter was honoured),
	// its port and how much it still needs.
	Peer       Peer
	Uploaded   int64
	Downloaded int64
	Event      Event
	// NumWant is how many peers the client asked for; -1 means it did not
	// say, and the tracker's default applies.
	NumWant int
	// Compact asks for BEP 23 compact peer lists (the default).
	Compact bool
}

// AnnounceResponse is the tracker's answer, independent of the wire format.
type AnnounceResponse struct {
	Interval    time.Duration
	MinInterval time.Duration
	// Complete and Incomplete count the swarm's seeders and leechers,
	// the requester included.
	Complete   int
	Incomplete int
	// Peers holds IPv4 and IPv6 peers in the policy's order; the HTTP
	// front end splits them into `peers` and `peers6`.
	Peers []Peer
}

// Counts are the sizes of one swarm.
type Counts struct {
	Seeders  int
	Leechers int
}
