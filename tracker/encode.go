package tracker

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

// failure is the body of every refusal (BEP 3).
type failure struct {
	Reason string `bencode:"failure reason"`
}

// announceBody is the bencoded announce response. Peers is a byte string of
// 6-byte entries (BEP 23) or a list of peerDict; Peers6 holds 18-byte IPv6
// entries (BEP 7) in compact mode.
type announceBody struct {
	Interval    int64  `bencode:"interval"`
	MinInterval int64  `bencode:"min interval"`
	Complete    int    `bencode:"complete"`
	Incomplete  int    `bencode:"incomplete"`
	Peers       any    `bencode:"peers"`
	Peers6      []byte `bencode:"peers6,omitempty"`
}

type peerDict struct {
	ID   []byte `bencode:"peer id"`
	IP   string `bencode:"ip"`
	Port int    `bencode:"port"`
}

func encodeAnnounce(resp *AnnounceResponse, compact bool) announceBody {
	body := announceBody{
		Interval:    seconds(resp.Interval),
		MinInterval: seconds(resp.MinInterval),
		Complete:    resp.Complete,
		Incomplete:  resp.Incomplete,
	}
	if !compact {
		list := make([]peerDict, 0, len(resp.Peers))
		for _, p := range resp.Peers {
			list = append(list, peerDict{ID: p.ID[:], IP: p.IP.String(), Port: int(p.Port)})
		}
		body.Peers = list
		return body
	}
	v4 := make([]byte, 0, 6*len(resp.Peers))
	var v6 []byte
	for _, p := range resp.Peers {
		ip := p.IP.Unmap()
		if ip.Is4() {
			v4 = append(v4, ip.AsSlice()...)
			v4 = append(v4, byte(p.Port>>8), byte(p.Port))
		} else {
			v6 = append(v6, ip.AsSlice()...)
			v6 = append(v6, byte(p.Port>>8), byte(p.Port))
		}
	}
	body.Peers, body.Peers6 = v4, v6
	return body
}

// seconds rounds up, so a sub-second interval never becomes 0.
func seconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}

type scrapeFile struct {
	Complete   int `bencode:"complete"`
	Incomplete int `bencode:"incomplete"`
	Downloaded int `bencode:"downloaded"`
}

type scrapeBody struct {
	Files map[string]scrapeFile `bencode:"files"`
}

func encodeScrape(counts map[InfoHash]Counts) scrapeBody {
	files := make(map[string]scrapeFile, len(counts))
	for ih, c := range counts {
		files[string(ih[:])] = scrapeFile{Complete: c.Seeders, Incomplete: c.Leechers}
	}
	return scrapeBody{Files: files}
}

// maxScrape bounds the info hashes of one scrape.
const maxScrape = 64

func parseScrape(rawQuery string) ([]InfoHash, error) {
	if len(rawQuery) > maxQueryLen {
		return nil, clientErrorf("query too long: %d bytes (max %d)", len(rawQuery), maxQueryLen)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, clientErrorf("malformed query: %v", err)
	}
	vs := q["info_hash"]
	switch {
	case len(vs) == 0:
		return nil, clientErrorf("missing info_hash (full scrapes are not served)")
	case len(vs) > maxScrape:
		return nil, clientErrorf("too many info_hash: %d (max %d)", len(vs), maxScrape)
	}
	out := make([]InfoHash, 0, len(vs))
	for _, v := range vs {
		if len(v) != 20 {
			return nil, clientErrorf("invalid info_hash: %d bytes, want 20", len(v))
		}
		out = append(out, InfoHash([]byte(v)))
	}
	return out, nil
}

func writeBencode(w http.ResponseWriter, status int, v any) {
	b, err := bencode.Marshal(v)
	if err != nil { // only our own fixed types are encoded
		status = http.StatusInternalServerError
		b = []byte("d14:failure reason21:internal tracker errore")
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=binary")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}
