package orchestrator

import (
	"context"
	"fmt"
	"testing"

	"github.com/murderctl/murderctl/sshx"
)

// TestPeerConfigCarriesTheSHA256Chain checks that a file of several chain
// segments sends every peer the chain, so hosts check the SHA-256 while
// they download instead of all at once at the end, and that a file of one
// segment sends none.
func TestPeerConfigCarriesTheSHA256Chain(t *testing.T) {
	for _, tt := range []struct {
		size, segments int
	}{{6 << 20, 6}, {32 << 10, 1}} {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			src, _ := payload(t, tt.size)
			var targets []Target
			for i := range 6 {
				targets = append(targets, Target{Name: fmt.Sprint("h", i), SSH: sshx.Config{Host: fmt.Sprintf("127.0.0.%d", 60+i)}})
			}
			d := &deploy{opts: DeployOptions{Source: src, Targets: targets}}
			if err := d.prepare(context.Background()); err != nil {
				t.Fatal(err)
			}
			h := &hostRun{d: d, t: targets[0]}
			cfg := h.peerConfig("127.0.0.1:9")
			if tt.segments == 1 {
				if cfg.SHA256Chain != nil {
					t.Errorf("one segment, but a chain of %d bytes was sent", len(cfg.SHA256Chain.States))
				}
				return
			}
			if cfg.SHA256Chain == nil {
				t.Fatal("no SHA-256 chain in the peer config")
			}
			if got := len(cfg.SHA256Chain.States) / 32; got != tt.segments-1 {
				t.Errorf("%d chain states, want %d", got, tt.segments-1)
			}
		})
	}
}
