package main

import tea "github.com/charmbracelet/bubbletea"

// textStaysText makes sure typed and pasted words can never act as keys.
//
// Bubble Tea reports a run of printable characters that arrive in one
// read (fast typing, a paste without bracketed-paste support, a script)
// as one KeyRunes message, and KeyMsg.String() of the runes t-a-b is
// "tab", the same as the Tab key. Anything that matches key names by
// string (this model, and the textarea's own key map) would then switch
// compartments, send half a sentence, or swallow the words "up" and
// "esc". In a channel where the talks and the mentors' briefings sit one
// Tab apart, that is a leak, so text of more than one character is
// marked as pasted: its String() is bracketed ("[tab]"), which matches
// no key name, and the textarea inserts it verbatim. A single character
// keeps its own name, so "?" and the panels' one-letter keys still work
// when typed on their own.
func textStaysText(k tea.KeyMsg) tea.KeyMsg {
	if k.Type == tea.KeyRunes && len(k.Runes) > 1 {
		k.Paste = true
	}
	return k
}
