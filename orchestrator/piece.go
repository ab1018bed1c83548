package orchestrator

import (
	"math/bits"

	"github.com/murderctl/murderctl/swarm"
)

// minPieceLength is the smallest piece chosen for a large fleet. Smaller
// pieces cost the swarm per-piece work; larger ones slow the spread. Once
// peers woke once per piece message (SO_RCVLOWAT), 64 KiB pieces took the
// 50-host benchmark from 1.34-1.36 T to 1.28 T, at about 90% of the two
// cores against 70% (docs/benchmarks.md, seventh session).
const minPieceLength = 64 << 10

// piecesPerHop is how many pieces the file should hold per doubling of the
// fleet. A fresh piece is uploaded to several neighbours at once, so each
// hop takes a few piece-times, and the last piece needs about log2(hosts)
// hops to reach everyone. Measured side by side (docs/benchmarks.md): at 10
// hosts 1 MiB pieces took 1.66 T and 128 KiB 1.35 T; at 50 hosts 512 KiB
// left a tail that 128 KiB pieces did not. Once the origin sent four pieces
// at once (each taking four times as long), 32 per hop chose 256 KiB at 10
// hosts and 32 MiB: 1.22 / 1.24 T, against 1.15 / 1.14 T with 128 KiB.
const piecesPerHop = 64

// pieceLength chooses the piece size for a file of size bytes going to
// hosts hosts. A piece can be passed on only once it is whole, so the last
// piece the origin sends needs about log2(hosts) piece-times to reach
// everyone: the file should hold many times that many pieces for the tail
// to stay small against the whole transfer. Otherwise the largest piece
// the swarm's own rule gives (fewer, bigger pieces are cheaper to move).
func pieceLength(size int64, hosts int) int64 {
	pl := swarm.ChoosePieceLength(size)
	want := int64(piecesPerHop * bits.Len(uint(hosts)))
	for pl > minPieceLength && size/pl < want {
		pl /= 2
	}
	return pl
}
