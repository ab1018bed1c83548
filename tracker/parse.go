package tracker

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strconv"
)

// ClientError is a request the client got wrong: a missing or malformed
// parameter. The HTTP front end answers it with a bencoded failure reason
// carrying Msg, and the client can fix its request.
type ClientError struct {
	Msg string
}

func (e *ClientError) Error() string { return e.Msg }

func clientErrorf(format string, args ...any) *ClientError {
	return &ClientError{Msg: fmt.Sprintf(format, args...)}
}

// maxQueryLen bounds the raw query parsed; a real announce is under 600 bytes.
const maxQueryLen = 4096

// parseAnnounce parses the query of a BEP 3 announce from a client whose
// connection comes from remote. The announced IP is remote unless trustIP is
// set and the query carries an `ip` parameter. Every failure is a
// *ClientError.
func parseAnnounce(rawQuery string, remote netip.Addr, trustIP bool) (*AnnounceRequest, error) {
	if len(rawQuery) > maxQueryLen {
		return nil, clientErrorf("query too long: %d bytes (max %d)", len(rawQuery), maxQueryLen)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, clientErrorf("malformed query: %v", err)
	}
	req := &AnnounceRequest{NumWant: -1, Compact: true}

	if req.InfoHash, err = param20[InfoHash](q, "info_hash"); err != nil {
		return nil, err
	}
	if req.Peer.ID, err = param20[PeerID](q, "peer_id"); err != nil {
		return nil, err
	}
	port, err := paramInt(q, "port", true, 65535)
	if err != nil {
		return nil, err
	}
	if port == 0 {
		return nil, clientErrorf("invalid port 0")
	}
	req.Peer.Port = uint16(port)
	if req.Peer.Left, err = paramInt(q, "left", true, math.MaxInt64); err != nil {
		return nil, err
	}
	if req.Uploaded, err = paramInt(q, "uploaded", false, math.MaxInt64); err != nil {
		return nil, err
	}
	if req.Downloaded, err = paramInt(q, "downloaded", false, math.MaxInt64); err != nil {
		return nil, err
	}
	if nw, err := single(q, "numwant"); err != nil {
		return nil, err
	} else if nw != "" {
		n, err := strconv.ParseInt(nw, 10, 64)
		if err != nil {
			return nil, clientErrorf("invalid numwant %q: want an integer", nw)
		}
		// Negative means "the tracker's default", as some clients send -1.
		req.NumWant = int(max(-1, min(n, math.MaxInt32)))
	}

	ev, err := single(q, "event")
	if err != nil {
		return nil, err
	}
	switch ev {
	case "", "empty":
		req.Event = EventNone
	case "started":
		req.Event = EventStarted
	case "completed":
		req.Event = EventCompleted
	case "stopped":
		req.Event = EventStopped
	default:
		return nil, clientErrorf("unknown event %q", ev)
	}

	compact, err := single(q, "compact")
	if err != nil {
		return nil, err
	}
	switch compact {
	case "", "1":
		req.Compact = true
	case "0":
		req.Compact = false
	default:
		return nil, clientErrorf("invalid compact %q (want 0 or 1)", compact)
	}

	req.Peer.IP = remote.Unmap().WithZone("")
	if ips := q["ip"]; trustIP && len(ips) > 0 {
		// BEP 7 clients may list one address per family: take the first.
		ip, err := netip.ParseAddr(ips[0])
		if err != nil || ip.Zone() != "" {
			return nil, clientErrorf("invalid ip %q: want an IPv4 or IPv6 address", ips[0])
		}
		req.Peer.IP = ip.Unmap()
	}
	if !req.Peer.IP.IsValid() || req.Peer.IP.IsUnspecified() || req.Peer.IP.IsMulticast() {
		return nil, clientErrorf("unusable peer address %s", req.Peer.IP)
	}
	return req, nil
}

// single returns the only value of key, "" if absent.
func single(q url.Values, key string) (string, error) {
	switch vs := q[key]; len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	default:
		return "", clientErrorf("%s given %d times", key, len(vs))
	}
}

// param20 reads a required 20-byte binary parameter (info_hash, peer_id).
func param20[T ~[20]byte](q url.Values, key string) (T, error) {
	var out T
	v, err := single(q, key)
	if err != nil {
		return out, err
	}
	if !q.Has(key) {
		return out, clientErrorf("missing %s", key)
	}
	if len(v) != len(out) {
		return out, clientErrorf("invalid %s: %d bytes, want 20", key, len(v))
	}
	copy(out[:], v)
	return out, nil
}

// paramInt reads a decimal integer in [0, limit]; absent means 0 unless
// required.
func paramInt(q url.Values, key string, required bool, limit int64) (int64, error) {
	v, err := single(q, key)
	if err != nil {
		return 0, err
	}
	if !q.Has(key) {
		if required {
			return 0, clientErrorf("missing %s", key)
		}
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > limit {
		return 0, clientErrorf("invalid %s %q: want an integer from 0 to %d", key, v, limit)
	}
	return n, nil
}
