package chat

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Words that come from the channel (messages, names, draft names and
// contents, errors that quote a relay or a member) go to the terminal
// through clean or cleanLine, so that they are always shown as text and
// never act as a terminal command.

// clean makes text from other members safe to put on a terminal:
// control characters (escape sequences among them) and bidirectional
// overrides, which could rewrite the screen or disguise text, become
// U+FFFD; tabs become spaces. Newlines are kept.
func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteRune(r)
		case r == '\t':
			b.WriteString("    ")
		case unicode.IsControl(r), isBidiControl(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isBidiControl(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// cleanLine is clean for one-line places (names, notices).
func cleanLine(s string) string { return strings.ReplaceAll(clean(s), "\n", " ") }

func isPrintableText(b []byte) bool { return utf8.Valid(b) && !bytes.ContainsRune(b, 0) }
