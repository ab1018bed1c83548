package testfleet

import (
	"testing"
	"time"
)

func TestFleetStartsFifty(t *testing.T) {
	if testing.Short() {
		t.Skip("50-host bring-up skipped in -short mode")
	}
	start := time.Now()
	f := Start(t, Options{N: 50, RateMbit: 10, Name: "tfbig"})
	took := time.Since(start)
	t.Logf("50 hosts up in %v", took)
	if took > 30*time.Second {
		t.Errorf("50 hosts took %v to come up, want well under a minute", took)
	}
	for _, i := range []int{0, 49} {
		if out, err := f.SSH(t.Context(), i, "true").CombinedOutput(); err != nil {
			t.Errorf("ssh %s: %v: %s", f.Hosts[i].Name, err, out)
		}
	}
}
