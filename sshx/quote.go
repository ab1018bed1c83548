package sshx

import "strings"

// Quote returns s quoted for a POSIX shell: one word that the shell turns
// back into exactly s, whatever bytes it holds (spaces, quotes, $(...), ;,
// newlines, a leading -). Strings made only of safe characters are returned
// as they are; everything else is wrapped in single quotes, with each ' written
// as '\”. The empty string becomes ”. A leading - is not special to the
// shell; commands must still be told where options end (use -- or ./).
// A NUL byte cannot be passed through any command line: strings holding one
// must be rejected by the caller.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isSafe(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteCommand quotes each argument and joins them with spaces, giving a
// command line that runs argv[0] with exactly argv[1:] as its arguments.
func QuoteCommand(argv ...string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_./:,+@%", c) >= 0:
		default:
			return false
		}
	}
	// A leading "-" is fine for the shell, but quoting it makes it stand out.
	return s[0] != '-'
}
