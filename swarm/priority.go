package swarm

import (
	"math/rand/v2"

	"github.com/anacrolix/torrent"
)

// priorityClasses are the piece priorities a peer spreads its pieces over,
// highest first. The library picks pieces by priority, then rarity, then
// index; with no rarity signal at the start of a deploy every peer would
// otherwise pull the same pieces from the seeder.
var priorityClasses = []torrent.PiecePriority{
	torrent.PiecePriorityNext,
	torrent.PiecePriorityHigh,
	torrent.PiecePriorityNormal,
}

// pieceClasses maps each of n pieces to an index into priorityClasses: the
// pieces are rotated by a random offset and cut into len(classes) runs, so
// each peer starts on a different, contiguous part of the file.
func pieceClasses(n int, rnd *rand.Rand) []int {
	out := make([]int, n)
	if n == 0 {
		return out
	}
	offset := rnd.IntN(n)
	k := len(priorityClasses)
	for i := range n {
		pos := (i - offset + n) % n
		out[i] = pos * k / n
	}
	return out
}

// randomizePriorities applies pieceClasses to t, whose info must be known.
func randomizePriorities(t *torrent.Torrent, rnd *rand.Rand) {
	for i, c := range pieceClasses(t.NumPieces(), rnd) {
		t.Piece(i).SetPriority(priorityClasses[c])
	}
}
