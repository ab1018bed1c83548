package swarm

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
)

// TestRequestsReachPastUnavailablePieces: a host must ask a peer for the
// pieces it holds even when more than 64 MiB of missing pieces that nobody
// has rank before them (the library's default MaxUnverifiedBytes window).
// On a deploy those are the pieces the origin has not handed out yet.
func TestRequestsReachPastUnavailablePieces(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const pieceLen, pieces, held = 1 << 20, 72, 4
	dir := t.TempDir()
	src := writeRandomFile(t, dir, "payload.bin", pieceLen*pieces)
	built, err := Build(ctx, src, pieceLen)
	if err != nil {
		t.Fatal(err)
	}
	info, err := loadInfo(built.MetaInfo)
	if err != nil {
		t.Fatal(err)
	}

	// The holder has only the last few pieces: every other piece has no
	// holder, and ranks first by availability.
	holderFile, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer holderFile.Close()
	has := make([]bool, pieces)
	for i := pieces - held; i < pieces; i++ {
		has[i] = true
	}
	holder := startTestClient(t, built, info, newFileStorage(holderFile, info, has, true))

	destFile, err := os.OpenFile(filepath.Join(dir, "dest.bin"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer destFile.Close()
	if err := destFile.Truncate(int64(pieceLen * pieces)); err != nil {
		t.Fatal(err)
	}
	fetcher := startTestClient(t, built, info, newFileStorage(destFile, info, make([]bool, pieces), false))
	fetcher.t.DownloadAll()
	fetcher.t.AddPeers(peerInfos([]string{holder.cl.ownListener.Addr().String()}, torrent.PeerSourceDirect, true))

	for ctx.Err() == nil {
		got := 0
		for i := pieces - held; i < pieces; i++ {
			if fetcher.t.Piece(i).State().Complete {
				got++
			}
		}
		if got == held {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the fetcher did not get the %d pieces its only peer holds", held)
}

type testClient struct {
	cl *client
	t  *torrent.Torrent
}

// startTestClient starts a loopback client serving built's torrent from st.
func startTestClient(t *testing.T, built Built, info *metainfo.Info, st *fileStorage) testClient {
	t.Helper()
	cl, err := newClient(clientOptions{ListenHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	tor, err := addTorrent(cl, built.MetaInfo, info, st)
	if err != nil {
		t.Fatal(err)
	}
	return testClient{cl: cl, t: tor}
}
