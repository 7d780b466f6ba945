package chat

import (
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
)

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

// key handles a key press.
func (m *model) key(k tea.KeyMsg) tea.Cmd {
	if k.Type == tea.KeyCtrlC {
		m.quitting = true
		return tea.Quit
	}
	if m.locked {
		return m.lockKey(k)
	}
	switch k.String() {
	case "ctrl+l":
		m.lock()
		return nil
	case "f1":
		m.openPanel(modeHelp, "Help", m.helpText())
		return nil
	case "f2":
		m.openMembers()
		return m.refreshMeta()
	case "f3":
		return m.openDrafts()
	}
	if m.mode != modeChat {
		if cmd, ok := m.panelKey(k); ok {
			return cmd
		}
		m.closePanel()
	}
	switch k.String() {
	case "pgup":
		m.body.PageUp()
		return nil
	case "pgdown":
		m.body.PageDown()
		return nil
	case "tab", "shift+tab":
		if len(m.tabs) > 1 {
			if k.String() == "tab" {
				m.tab = (m.tab + 1) % len(m.tabs)
			} else {
				m.tab = (m.tab + len(m.tabs) - 1) % len(m.tabs)
			}
			m.unread[m.current()] = 0
			m.setPlaceholder()
			m.refreshBody()
			m.body.GotoBottom()
		}
		return nil
	case "enter":
		return m.submit()
	case "?":
		if strings.TrimSpace(m.compose.Value()) == "" {
			m.openPanel(modeHelp, "Help", m.helpText())
			return nil
		}
	case "esc":
		m.notice = ""
		return nil
	}
	var cmd tea.Cmd
	m.compose, cmd = m.compose.Update(k)
	return cmd
}

// panelKey handles keys while a panel is open; ok false closes the
// panel and gives the key to the compose box.
func (m *model) panelKey(k tea.KeyMsg) (tea.Cmd, bool) {
	s := k.String()
	switch s {
	case "esc", "q":
		if s == "q" && m.mode != modeHelp {
			return nil, false
		}
		m.closePanel()
		return nil, true
	case "pgup":
		m.panel.PageUp()
		return nil, true
	case "pgdown":
		m.panel.PageDown()
		return nil, true
	}
	if m.mode == modeDrafts {
		switch s {
		case "up", "k":
			m.draftSel = max(0, m.draftSel-1)
			m.refreshPanel()
			return nil, true
		case "down", "j":
			m.draftSel = min(max(0, len(m.drafts)-1), m.draftSel+1)
			m.refreshPanel()
			return nil, true
		case "enter":
			if d, ok := m.selectedDraft(); ok {
				return m.openDraft(d.Name, d.SHA256, fmt.Sprintf("version %d", d.Version)), true
			}
			return nil, true
		case " ", "m":
			if m.draftMark == m.draftSel {
				m.draftMark = -1
			} else {
				m.draftMark = m.draftSel
			}
			m.refreshPanel()
			return nil, true
		case "d":
			return m.diffSelected(), true
		}
		return nil, true
	}
	switch s {
	case "up", "k":
		m.panel.ScrollUp(1)
		return nil, true
	case "down", "j":
		m.panel.ScrollDown(1)
		return nil, true
	case "?":
		if m.mode == modeHelp {
			m.closePanel()
			return nil, true
		}
	}
	return nil, false
}

func (m *model) lockKey(k tea.KeyMsg) tea.Cmd {
	if k.Type == tea.KeyEnter {
		p := m.lockInput.Value()
		m.lockInput.Reset()
		if p == "" || m.unlocking {
			return nil
		}
		m.unlocking, m.lockErr = true, ""
		check := m.cfg.CheckPassphrase
		return func() tea.Msg { return unlockMsg{err: check(p)} }
	}
	var cmd tea.Cmd
	m.lockInput, cmd = m.lockInput.Update(k)
	return cmd
}
