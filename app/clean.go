package app

import (
	"strings"

	"parley/client"
)

// The page renders every string as text, never as HTML (app.js sets
// textContent only). What remains is text that reorders or hides what is
// around it; these helpers replace it as the command line does
// (client.Unsafe), so a name cannot pretend to be another or push a
// message's words around. Right-to-left names stay readable: the page
// shows names and messages in bdi elements, which isolate them.

// cleanName is a name or any one-line string: every unsafe rune,
// newlines included, becomes U+FFFD.
func cleanName(s string) string {
	return strings.Map(func(r rune) rune {
		if client.Unsafe(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}

// cleanText is a message or draft text: newlines and tabs stay.
func cleanText(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && client.Unsafe(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}

func cleanEntry(e client.Entry) client.Entry {
	e.Sender, e.Text = cleanName(e.Sender), cleanText(e.Text)
	if e.Draft != nil {
		d := *e.Draft
		d.Name, d.Data = cleanName(d.Name), nil // the page fetches a version when it opens one
		e.Draft = &d
	}
	return e
}
