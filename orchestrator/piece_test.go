package orchestrator

import "testing"

func TestPieceLength(t *testing.T) {
	tests := []struct {
		size  int64
		hosts int
		want  int64
	}{
		{64 << 20, 1, 1 << 20},     // one host: 64 pieces >= 32*1
		{64 << 20, 20, 256 << 10},  // 160 wanted: 64 -> 128 -> 256 pieces
		{32 << 20, 10, 256 << 10},  // 128 wanted: 128 pieces
		{32 << 20, 50, 128 << 10},  // 192 wanted: 256 pieces
		{8 << 20, 50, 128 << 10},   // floor
		{1 << 30, 50, 4 << 20},     // 256 pieces >= 192: the swarm's rule
		{4 << 30, 200, 8 << 20},    // big file: 512 pieces, plenty
		{1 << 20, 1000, 128 << 10}, // tiny file: floor, never below
	}
	for _, tt := range tests {
		if got := pieceLength(tt.size, tt.hosts); got != tt.want {
			t.Errorf("pieceLength(%d MiB, %d hosts) = %d KiB, want %d KiB", tt.size>>20, tt.hosts, got>>10, tt.want>>10)
		}
	}
}
