package orchestrator

import (
	"slices"
	"strings"
	"testing"
)

func TestPeerCongestion(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", []string{"cubic", "reno"}, false},
		{"default", nil, false},
		{" default ", nil, false},
		{"bbr", []string{"bbr"}, false},
		{"dctcp, cubic ,reno", []string{"dctcp", "cubic", "reno"}, false},
		{"cubic,", nil, true},
		{"cubic;reboot", nil, true},
		{"Cubic", nil, true},
	}
	for _, tt := range tests {
		got, err := peerCongestion(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("peerCongestion(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "congestion") {
			t.Errorf("peerCongestion(%q): error %q does not say what is wrong", tt.in, err)
		}
	}
}
