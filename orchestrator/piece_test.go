package orchestrator

import "testing"

func TestPieceLength(t *testing.T) {
	tests := []struct {
		size  int64
		hosts int
		want  int64
	}{
		{64 << 20, 1, 1 << 20},    // one host: 64 pieces >= 64*1
		{64 << 20, 20, 128 << 10}, // 320 wanted: 64 -> ... -> 512 pieces
		{32 << 20, 10, 128 << 10}, // 256 wanted: 256 pieces
		{32 << 20, 30, 64 << 10},  // 320 wanted: 512 pieces
		{32 << 20, 50, 64 << 10},  // 384 wanted: 512 pieces
		{8 << 20, 50, 64 << 10},   // floor
		{1 << 30, 50, 2 << 20},    // 384 wanted: 256 -> 512 pieces
		{4 << 30, 200, 8 << 20},   // big file: 512 pieces, plenty
		{1 << 20, 1000, 64 << 10}, // tiny file: floor, never below
	}
	for _, tt := range tests {
		if got := pieceLength(tt.size, tt.hosts); got != tt.want {
			t.Errorf("pieceLength(%d MiB, %d hosts) = %d KiB, want %d KiB", tt.size>>20, tt.hosts, got>>10, tt.want>>10)
		}
	}
}
