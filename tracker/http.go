package tracker

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Handler returns the HTTP front end: GET /<token>/announce (BEP 3, 23, 7)
// and GET /<token>/scrape, or /announce and /scrape when Config.Token is
// empty. Every refusal carries a bencoded `failure reason`:
//
//	400 a malformed announce (missing or bad parameter)
//	403 a wrong or missing token, or an address not in Config.AllowedIPs
//	404 any other path
//	405 a method other than GET or HEAD
//	500 a store failure (details are logged, not sent)
func (t *Tracker) Handler() http.Handler { return http.HandlerFunc(t.serveHTTP) }

// AnnounceURL returns the announce URL for a tracker reachable at base, such
// as "http://10.0.0.1:6969", with the token in its path.
func (t *Tracker) AnnounceURL(base string) string {
	return strings.TrimSuffix(base, "/") + t.pathPrefix() + "announce"
}

func (t *Tracker) pathPrefix() string {
	if t.cfg.Token == "" {
		return "/"
	}
	return "/" + url.PathEscape(t.cfg.Token) + "/"
}

func (t *Tracker) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		t.refuse(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	action, status := t.route(r.URL.EscapedPath())
	if status != http.StatusOK {
		msg := "not found"
		if status == http.StatusForbidden {
			msg = "forbidden: wrong or missing tracker token"
		}
		t.refuse(w, status, msg)
		return
	}
	remote, err := remoteAddr(r.RemoteAddr)
	if err != nil || !t.allowedRemote(remote) {
		t.refuse(w, http.StatusForbidden, "forbidden: address not allowed")
		return
	}
	switch action {
	case "announce":
		t.serveAnnounce(w, r, remote)
	case "scrape":
		t.serveScrape(w, r)
	}
}

// route maps a path to "announce" or "scrape". With a token, a path of the
// right shape with the wrong token is 403; anything else is 404.
func (t *Tracker) route(escapedPath string) (string, int) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	action := segs[len(segs)-1]
	if action != "announce" && action != "scrape" {
		return "", http.StatusNotFound
	}
	switch {
	case t.cfg.Token == "" && len(segs) == 1:
		return action, http.StatusOK
	case t.cfg.Token == "":
		return "", http.StatusNotFound
	case len(segs) > 2:
		return "", http.StatusNotFound
	}
	given := ""
	if len(segs) == 2 {
		if u, err := url.PathUnescape(segs[0]); err == nil {
			given = u
		}
	}
	// Hash both sides so the comparison is constant-time in the length too.
	a, b := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(t.cfg.Token))
	if len(segs) != 2 || subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return "", http.StatusForbidden
	}
	return action, http.StatusOK
}

func remoteAddr(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), nil
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, err := netip.ParseAddr(host)
	return a.Unmap().WithZone(""), err
}

// allowedRemote: loopback connections come from the tracker's own machine
// and are always let in; their announced `ip` is checked instead.
func (t *Tracker) allowedRemote(a netip.Addr) bool {
	return len(t.cfg.AllowedIPs) == 0 || a.IsLoopback() || t.allowedIP(a)
}

func (t *Tracker) allowedIP(a netip.Addr) bool {
	if len(t.cfg.AllowedIPs) == 0 {
		return true
	}
	return slices.ContainsFunc(t.cfg.AllowedIPs, func(b netip.Addr) bool { return b.Unmap() == a })
}

func (t *Tracker) serveAnnounce(w http.ResponseWriter, r *http.Request, remote netip.Addr) {
	req, err := parseAnnounce(r.URL.RawQuery, remote, t.cfg.TrustIPParam || remote.IsLoopback())
	if err != nil {
		t.refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	if !t.allowedIP(req.Peer.IP) {
		t.refuse(w, http.StatusForbidden, "forbidden: address not allowed")
		return
	}
	resp, err := t.Announce(r.Context(), req)
	if err != nil {
		t.serverError(w, err)
		return
	}
	writeBencode(w, http.StatusOK, encodeAnnounce(resp, req.Compact))
}

func (t *Tracker) serveScrape(w http.ResponseWriter, r *http.Request) {
	ihs, err := parseScrape(r.URL.RawQuery)
	if err != nil {
		t.refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	counts, err := t.Scrape(r.Context(), ihs)
	if err != nil {
		t.serverError(w, err)
		return
	}
	writeBencode(w, http.StatusOK, encodeScrape(counts))
}

func (t *Tracker) refuse(w http.ResponseWriter, status int, reason string) {
	t.rejected.Add(1)
	t.log.Debug("tracker refused request", "status", status, "reason", reason)
	writeBencode(w, status, failure{Reason: reason})
}

func (t *Tracker) serverError(w http.ResponseWriter, err error) {
	reason := "internal tracker error"
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		reason = "request cancelled"
	}
	writeBencode(w, http.StatusInternalServerError, failure{Reason: reason})
}

// Serve answers tracker requests on ln until ctx ends, then shuts down,
// giving in-flight requests a second to finish. It returns nil after a
// shutdown caused by ctx.
func (t *Tracker) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           t.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	stopped := make(chan struct{})
	serveDone := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				srv.Close()
			}
		case <-serveDone:
		}
	}()
	err := srv.Serve(ln)
	close(serveDone)
	<-stopped // in-flight requests are done (or cut off) before we return
	if errors.Is(err, http.ErrServerClosed) && ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("tracker serve %s: %w", ln.Addr(), err)
}
