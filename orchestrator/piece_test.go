package orchestrator

import "testing"

func TestPieceLength(t *testing.T) {
	tests := []struct {
		size  int64
		hosts int
		want  int64
	}{
		{64 << 20, 1, 1 << 20},     // one host: the swarm's rule
		{64 << 20, 20, 1 << 20},    // 64 pieces >= 8*5
		{32 << 20, 50, 512 << 10},  // 32 pieces < 8*6: halve once
		{8 << 20, 50, 256 << 10},   // floor
		{4 << 30, 200, 8 << 20},    // big file: 512 pieces, plenty
		{1 << 20, 1000, 256 << 10}, // tiny file: floor, never below
	}
	for _, tt := range tests {
		if got := pieceLength(tt.size, tt.hosts); got != tt.want {
			t.Errorf("pieceLength(%d MiB, %d hosts) = %d KiB, want %d KiB", tt.size>>20, tt.hosts, got>>10, tt.want>>10)
		}
	}
}
