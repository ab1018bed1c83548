package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/murderctl/murderctl/orchestrator"
	"github.com/murderctl/murderctl/swarm"
)

// The recap follows ansible-playbook's layout: a line per host, then PLAY
// RECAP with the host left-aligned in 26 columns and each count as
// name=%-4d, which log scrapers written for Ansible rely on.
func TestWriteRecap(t *testing.T) {
	rs := orchestrator.Results{
		{Host: "web-01.example.com", Status: orchestrator.StatusChanged, Dest: "/srv/app.bin"},
		{Host: "db", Status: orchestrator.StatusOK, Dest: "/srv/app.bin", BadPeers: []string{"10.0.0.9:6881"}},
		{Host: "cache", Status: orchestrator.StatusFailed, Reason: "destination directory /srv does not exist (dest)", Stderr: "boom\n"},
		{Host: "a-host-name-that-is-longer-than-26", Status: orchestrator.StatusUnreachable, Reason: "dial: connection refused", Stderr: "ignored"},
	}
	var b bytes.Buffer
	writeRecap(&b, rs)
	want := `changed: [web-01.example.com] => {"changed":true,"dest":"/srv/app.bin"}
ok: [db] => {"bad_peers":["10.0.0.9:6881"],"changed":false,"dest":"/srv/app.bin"}
fatal: [cache]: FAILED! => {"changed":false,"msg":"destination directory /srv does not exist (dest)","stderr":"boom\n"}
fatal: [a-host-name-that-is-longer-than-26]: UNREACHABLE! => {"changed":false,"msg":"dial: connection refused","unreachable":true}

PLAY RECAP *********************************************************************
web-01.example.com         : ok=1    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   
db                         : ok=1    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   
cache                      : ok=0    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0   
a-host-name-that-is-longer-than-26 : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0   
`
	if got := b.String(); got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("line %d\n got %q\nwant %q", i+1, g, w)
			}
		}
	}
}

func TestWriteRecapEmpty(t *testing.T) {
	var b bytes.Buffer
	writeRecap(&b, nil)
	if b.String() != "\nPLAY RECAP "+strings.Repeat("*", 69)+"\n" {
		t.Errorf("got %q", b.String())
	}
}

// Live progress is drawn only on a terminal: with buffers (pipes, CI logs)
// nothing but the recap is written.
func TestLiveRecapQuietWithoutTerminal(t *testing.T) {
	ios, _, errOut := testIO()
	l := newLiveRecap(ios, false)
	l.event("h", swarm.Event{Event: swarm.EventProgress, Have: 1, Total: 2})
	l.finish()
	if errOut.Len() != 0 {
		t.Errorf("live recap wrote %q to a non-terminal", errOut.String())
	}
}
