package torrent

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	requestStrategy "github.com/anacrolix/torrent/internal/request-strategy"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
)

// completionStorage reports the completion the test sets; the request
// choice never reads or writes piece data.
type completionStorage struct{ complete []bool }

func (s *completionStorage) OpenTorrent(context.Context, *metainfo.Info, metainfo.Hash) (storage.TorrentImpl, error) {
	return storage.TorrentImpl{Piece: func(p metainfo.Piece) storage.PieceImpl {
		return completionPiece{s, p.Index()}
	}}, nil
}

type completionPiece struct {
	s *completionStorage
	i int
}

func (p completionPiece) ReadAt([]byte, int64) (int, error)  { panic("not used") }
func (p completionPiece) WriteAt([]byte, int64) (int, error) { panic("not used") }
func (p completionPiece) MarkComplete() error                { panic("not used") }
func (p completionPiece) MarkNotComplete() error             { panic("not used") }
func (p completionPiece) Completion() storage.Completion {
	return storage.Completion{Ok: true, Complete: p.s.complete[p.i]}
}

// TestPeerPiecesGatherMatchesOrderScan: getDesiredRequestState gathers the
// same requests, and the same interest, from the peer's pieces as from a
// scan of the whole piece request order, over random priorities,
// completions, availabilities, dirty chunks, hashing, allowed-fast and
// peer piece sets.
func TestPeerPiecesGatherMatchesOrderScan(t *testing.T) {
	const pieces, pieceLen = 300, 64 << 10
	cfg := TestingConfig(t)
	cfg.DisableTCP, cfg.DisableUTP = true, true
	cl, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	st := &completionStorage{complete: make([]bool, pieces)}
	tor, _ := cl.AddTorrentOpt(AddTorrentOpts{InfoHash: metainfo.Hash{1}, Storage: st})
	tor.disableTriggers = true
	if err := tor.setInfoUnlocked(&metainfo.Info{
		Pieces:      make([]byte, pieces*metainfo.HashSize),
		PieceLength: pieceLen,
		Length:      pieces * pieceLen,
	}); err != nil {
		t.Fatal(err)
	}
	tor.setChunkSize(16 << 10)
	cl.lock()
	defer cl.unlock()
	conns := make([]*PeerConn, 4)
	for i := range conns {
		conns[i] = cl.newConnection(nil, newConnectionOpts{network: "test"})
		conns[i].setTorrent(tor)
	}
	// The connections are not the torrent's, so closing it would not
	// take back the availability they added.
	defer func() {
		for _, c := range conns {
			for i := range c._peerPieces.Iterate {
				tor.decPieceAvailability(int(i))
			}
		}
	}()
	p := conns[0]
	p.peerChoking = false

	rnd := rand.New(rand.NewPCG(3, 4))
	priorities := []PiecePriority{PiecePriorityNone, PiecePriorityNormal, PiecePriorityHigh, PiecePriorityNext}
	for i := range pieces {
		tor.pieces[i].priority.Raise(priorities[rnd.IntN(len(priorities))])
		tor.updatePiecePriorityNoRequests(i)
	}
	gathered := func(limit int64) ([]RequestIndex, bool, bool) {
		cl.config.MaxUnverifiedBytes = limit
		fast := p.iterPeerRequestablePieces(func(metainfo.Hash, int, requestStrategy.PieceRequestOrderState) bool { return true })
		d := p.getDesiredRequestState()
		got := slices.Clone(d.Requests.requestIndexes)
		tor.cacheNextRequestIndexesForReuse(d.Requests.requestIndexes)
		slices.Sort(got)
		return got, d.Interested, fast
	}
	for round := range 300 {
		i := rnd.IntN(pieces)
		switch rnd.IntN(5) {
		case 0:
			st.complete[i] = !st.complete[i]
			tor.updatePieceCompletion(i)
		case 1:
			c := conns[rnd.IntN(len(conns))]
			if !c._peerPieces.Contains(uint32(i)) {
				c._peerPieces.Add(uint32(i))
				tor.incPieceAvailability(i)
			}
		case 2:
			tor.dirtyChunks.Add(RequestIndex(i*pieceLen/(16<<10) + rnd.IntN(4)))
			tor.updatePieceRequestOrderPiece(i)
		case 3:
			p.peerAllowedFast.Add(i)
		case 4:
			// A piece being hashed leaves the order but keeps its priority.
			tor.pieces[i].hashing = !tor.pieces[i].hashing
			tor.updatePieceRequestOrderPiece(i)
		}
		fastReqs, fastInterest, used := gathered(0)
		if !used {
			t.Fatalf("round %d: the peer-pieces gather did not apply", round)
		}
		scanReqs, scanInterest, used := gathered(tor.length())
		if used {
			t.Fatalf("round %d: the peer-pieces gather applied under a window it cannot honour", round)
		}
		if !slices.Equal(fastReqs, scanReqs) || fastInterest != scanInterest {
			t.Fatalf("round %d: gather from peer pieces: %d requests, interested %v; order scan: %d, %v",
				round, len(fastReqs), fastInterest, len(scanReqs), scanInterest)
		}
	}
	if n, _, _ := gathered(0); len(n) == 0 {
		t.Fatal("the test never made a piece requestable from the peer")
	}
}
