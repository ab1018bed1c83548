package sshx

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"
)

var hostile = []string{
	"", " ", "a b", "'", "''", `"`, `\`, `\'`, "$(touch pwned)", "`touch pwned`", "$HOME", "${HOME}",
	"a;b", "a && b", "a|b", "-n", "--", "-e x", "~", "~root", "*", "?", "[a]", "{a,b}", "a\nb", "\t",
	"!", "#comment", "a=b", "%s", "\x01\x7f", "\xff\xfe", "ünïcödé", "'$(echo hi)'", "a'\n'b",
}

func TestQuoteForms(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"abc", "abc"},
		{"/usr/local/bin/murderctl", "/usr/local/bin/murderctl"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"-rf", "'-rf'"},
		{"a=b", "'a=b'"},
		{"$(x)", "'$(x)'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Quote(tt.in); got != tt.want {
				t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := QuoteCommand("printf", "%s", "a b"); got != "printf %s 'a b'" {
		t.Errorf("QuoteCommand = %q", got)
	}
}

// randomHostile builds a string from shell metacharacters and random bytes.
func randomHostile(r *rand.Rand) string {
	const meta = " \t\n'\"\\$`(){}[]<>|&;*?~!#=%-"
	var b strings.Builder
	for range r.IntN(24) {
		switch r.IntN(3) {
		case 0:
			b.WriteByte(meta[r.IntN(len(meta))])
		case 1:
			b.WriteByte(byte('a' + r.IntN(26)))
		default:
			b.WriteByte(byte(1 + r.IntN(255))) // any byte but NUL
		}
	}
	return b.String()
}

// TestQuoteRoundTripRemote sends hostile strings through Quote, the SSH
// exec request and a real /bin/sh, and checks they come back unchanged.
func TestQuoteRoundTripRemote(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	r := rand.New(rand.NewPCG(1, 2))
	words := append([]string{}, hostile...)
	for range 300 {
		words = append(words, randomHostile(r))
	}
	var cmd strings.Builder
	cmd.WriteString(`printf '%s\0'`)
	for _, w := range words {
		cmd.WriteString(" " + Quote(w))
	}
	var out, errOut bytes.Buffer
	code, err := c.Run(context.Background(), cmd.String(), nil, &out, &errOut)
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v, stderr %q", code, err, errOut.String())
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\x00"), "\x00")
	if len(got) != len(words) {
		t.Fatalf("got %d words back, want %d", len(got), len(words))
	}
	for i := range words {
		if got[i] != words[i] {
			t.Errorf("word %d: sent %q, got %q (quoted %s)", i, words[i], got[i], Quote(words[i]))
		}
	}
	// QuoteCommand keeps argument boundaries, leading dashes included.
	out.Reset()
	argv := []string{"printf", "[%s]", "-n", "a b", "", "$(id)", "x'y"}
	if code, err := c.Run(context.Background(), QuoteCommand(argv...), nil, &out, nil); err != nil || code != 0 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if want := "[-n][a b][][$(id)][x'y]"; out.String() != want {
		t.Errorf("QuoteCommand round trip = %q, want %q", out.String(), want)
	}
}

// FuzzQuote checks the round trip through a local /bin/sh.
func FuzzQuote(f *testing.F) {
	for _, h := range hostile {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			t.Skip("NUL cannot appear in a command line")
		}
		out, err := exec.Command("/bin/sh", "-c", "printf '%s' "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if string(out) != s {
			t.Errorf("round trip of %q (valid UTF-8: %v) gave %q", s, utf8.ValidString(s), out)
		}
	})
}
