package chat

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"parley/client"
	"parley/crypto"
)

var (
	styleBold   = lipgloss.NewStyle().Bold(true)
	styleTabOn  = lipgloss.NewStyle().Bold(true).Reverse(true)
	styleTabOff = lipgloss.NewStyle().Faint(true)
	styleFaint  = lipgloss.NewStyle().Faint(true)
	styleSystem = lipgloss.NewStyle().Foreground(lipgloss.Color("3")).Italic(true)
	styleDraft  = lipgloss.NewStyle().Foreground(lipgloss.Color("6"))
	styleName   = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("4"))
	styleSelf   = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("2"))
	styleError  = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
	styleGood   = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	styleAdd    = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	styleDel    = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
	styleHunk   = lipgloss.NewStyle().Foreground(lipgloss.Color("6"))
)

// wrap breaks text into lines of at most width cells, at spaces where it
// can.
func wrap(s string, width int) []string {
	width = max(width, 1)
	var out []string
	for _, para := range strings.Split(s, "\n") {
		out = append(out, strings.Split(ansi.Wrap(para, width, ""), "\n")...)
	}
	return out
}

// fit cuts or pads a line to exactly width cells.
func fit(s string, width int) string {
	s = ansi.Truncate(s, width, "…")
	if n := ansi.StringWidth(s); n < width {
		s += strings.Repeat(" ", width-n)
	}
	return s
}

func (m *model) View() string {
	if m.quitting || m.width == 0 || m.height == 0 {
		return "" // a blank last frame: nothing stays on the screen
	}
	if m.locked {
		return m.lockView()
	}
	if m.width < 30 || m.height < 8 {
		return lipgloss.Place(m.width, m.height, lipgloss.Center, lipgloss.Center, "make the terminal larger")
	}
	body := m.body.View()
	if m.mode != modeChat {
		body = m.panel.View()
	}
	return strings.Join([]string{m.headerView(), body, m.ruleView(), m.compose.View(), m.footerView()}, "\n")
}

func (m *model) headerView() string {
	left := " " + styleBold.Render(cleanLine(m.cfg.Channel)) + "  "
	for i, comp := range m.tabs {
		label := comp.String()
		if n := m.unread[comp]; n > 0 {
			label += fmt.Sprintf(" (%d)", n)
		}
		if i == m.tab {
			left += styleTabOn.Render("[" + label + "]")
		} else {
			left += styleTabOff.Render(" " + label + " ")
		}
		left += " "
	}
	right := m.connView() + " "
	pad := m.width - ansi.StringWidth(left) - ansi.StringWidth(right)
	if pad < 1 {
		return fit(left, m.width)
	}
	return left + strings.Repeat(" ", pad) + right
}

func (m *model) connView() string {
	var s string
	switch {
	case m.ended == "burned":
		s = styleError.Render("✕ burned")
	case m.ended == "removed":
		s = styleError.Render("✕ removed")
	case m.ended == "refused":
		s = styleError.Render("✕ key refused by the relay")
	case m.conn == "connected":
		s = styleGood.Render("● connected")
	case m.conn == "reconnecting":
		s = styleError.Render("○ reconnecting")
	case m.conn == "offline":
		s = styleError.Render("○ offline")
	default:
		s = styleFaint.Render("◌ " + m.conn)
	}
	if m.sending > 0 {
		s += " · sending…"
	} else if m.busy > 0 {
		s += " · working…"
	}
	if m.queued > 0 {
		s += fmt.Sprintf(" · %d queued", m.queued)
	}
	return s
}

func (m *model) ruleView() string {
	w := m.width
	text, style := "", styleFaint
	switch {
	case m.notice != "":
		text = m.notice
		if m.noticeErr {
			style = styleError
		} else {
			style = lipgloss.NewStyle()
		}
	case m.conn == "offline" && m.connErr != "":
		text, style = m.connErr, styleError
	case m.mode == modeChat && !m.body.AtBottom():
		text = "more below: pgdown"
	}
	if text == "" {
		return styleFaint.Render(strings.Repeat("─", w))
	}
	text = ansi.Truncate(cleanLine(text), max(1, w-6), "…")
	rest := max(0, w-4-ansi.StringWidth(text))
	return styleFaint.Render("── ") + style.Render(text) + " " + styleFaint.Render(strings.Repeat("─", rest))
}

func (m *model) footerView() string {
	var hints []string
	switch m.mode {
	case modeChat:
		hints = []string{"enter send", "alt+enter newline"}
		if len(m.tabs) > 1 {
			hints = append(hints, "tab switch")
		}
		hints = append(hints, "F2 members")
		if m.canTalk() {
			hints = append(hints, "F3 drafts")
		}
		hints = append(hints, "^L lock", "? help", "^C quit")
	case modeDrafts:
		hints = []string{"↑↓ select", "enter open", "space mark", "d diff", "esc back"}
	default:
		hints = []string{"pgup/pgdn scroll", "esc back", "^L lock", "^C quit"}
	}
	// As many hints as fit, most important first; ? lists them all.
	line := ""
	for _, h := range hints {
		if ansi.StringWidth(line+"  "+h) > m.width {
			break
		}
		line += "  " + h
	}
	return styleFaint.Render(fit(line[1:], m.width))
}

func (m *model) lockView() string {
	lines := []string{
		styleBold.Render("Parley is locked."),
		"",
		"Type this home's passphrase and press Enter.",
		"",
		m.lockInput.View(),
		"",
	}
	switch {
	case m.unlocking:
		lines = append(lines, "checking…")
	case m.lockErr != "":
		lines = append(lines, styleError.Render(cleanLine(m.lockErr)))
	default:
		lines = append(lines, "")
	}
	return lipgloss.Place(m.width, m.height, lipgloss.Center, lipgloss.Center, strings.Join(lines, "\n"))
}

// refreshBody renders the conversation of the current tab, keeping the
// view at the newest line if it was there.
func (m *model) refreshBody() {
	if m.width == 0 {
		return
	}
	atBottom := m.body.AtBottom()
	m.body.SetContent(m.renderConversation())
	if atBottom {
		m.body.GotoBottom()
	}
}

func (m *model) renderConversation() string {
	var lines []string
	day := ""
	comp := m.current()
	for _, e := range m.entries {
		if t := tabOf(e); t != 0 && t != comp {
			continue
		}
		if d := e.Time.Local().Format("Monday 2 January 2006"); d != day {
			day = d
			rule := "── " + d + " "
			lines = append(lines, styleFaint.Render(rule+strings.Repeat("─", max(0, m.width-ansi.StringWidth(rule)))))
		}
		lines = append(lines, m.renderEntry(e)...)
	}
	if len(lines) == 0 {
		if comp == crypto.Talks {
			lines = []string{styleFaint.Render("No messages in the talks yet.")}
		} else {
			lines = []string{styleFaint.Render("No briefings yet. Briefings reach every member, mentors included.")}
		}
	}
	return strings.Join(lines, "\n")
}

// renderEntry is one transcript entry: the time, then the text wrapped
// under a hanging indent.
func (m *model) renderEntry(e client.Entry) []string {
	const indent = 6
	var text string
	var first, rest func(string) string
	plain := func(s string) string { return s }
	switch e.Kind {
	case client.KindSystem:
		text = "* " + clean(e.Text)
		first = func(s string) string { return styleSystem.Render(s) }
		rest = first
	case client.KindDraft:
		text = "≡ " + cleanLine(e.Sender) + " " + clean(e.Text)
		first = func(s string) string { return styleDraft.Render(s) }
		rest = first
	default:
		name := cleanLine(e.Sender)
		text = name + ": " + clean(e.Text)
		ns := styleName
		if e.Sender == m.self {
			ns = styleSelf
		}
		first = func(s string) string {
			if strings.HasPrefix(s, name+":") {
				return ns.Render(name) + s[len(name):]
			}
			return s
		}
		rest = plain
	}
	lines := wrap(text, m.width-indent)
	out := make([]string, len(lines))
	for i, l := range lines {
		if i == 0 {
			out[i] = styleFaint.Render(e.Time.Local().Format("15:04")) + " " + first(l)
		} else {
			out[i] = strings.Repeat(" ", indent) + rest(l)
		}
	}
	return out
}

// refreshPanel renders the open panel.
func (m *model) refreshPanel() {
	if m.width == 0 || m.mode == modeChat {
		return
	}
	var body []string
	switch m.mode {
	case modeMembers:
		body = m.membersView()
	case modeDrafts:
		body = m.draftsView()
	case modeDoc:
		for _, l := range strings.Split(strings.TrimRight(m.panelText, "\n"), "\n") {
			for _, w := range wrap(clean(l), m.width-1) {
				switch {
				case !m.docDiff:
				case strings.HasPrefix(l, "@@"):
					w = styleHunk.Render(w)
				case strings.HasPrefix(l, "+"):
					w = styleAdd.Render(w)
				case strings.HasPrefix(l, "-"):
					w = styleDel.Render(w)
				}
				body = append(body, " "+w)
			}
		}
	default:
		for _, l := range wrap(clean(m.panelText), m.width-2) {
			body = append(body, " "+l)
		}
	}
	title := " " + styleBold.Render(cleanLine(m.panelTitle))
	m.panel.SetContent(strings.Join(append([]string{title, ""}, body...), "\n"))
	if m.mode == modeDrafts {
		// Keep the selection in view: it is on line draftSel+3.
		line := m.draftSel + 3
		if line >= m.panel.YOffset+m.panel.Height {
			m.panel.SetYOffset(line - m.panel.Height + 1)
		} else if line < m.panel.YOffset {
			m.panel.SetYOffset(line)
		}
	}
}

func (m *model) membersView() []string {
	var out []string
	if m.policy != "" {
		out = append(out, fmt.Sprintf(" %s · %s secrecy", client.Count(len(m.members), "member", "members"), m.policy), "")
	}
	for _, mb := range m.members {
		mark := "unverified"
		switch {
		case mb.You:
			mark = "you"
		case mb.Verified:
			mark = styleGood.Render("✓ verified")
		}
		exp := ""
		if mb.Expires != nil {
			exp = "expires " + mb.Expires.Local().Format("2006-01-02 15:04")
		}
		name := ansi.Truncate(cleanLine(mb.Name), 24, "…")
		line := fmt.Sprintf("  %s %-12s %s", fit(name, 24), mb.Role, fit(mark, 11))
		if exp != "" {
			line += " " + exp
		}
		second := "      safety number " + mb.SafetyNumber
		if mb.Side != "" {
			second = "      side " + ansi.Truncate(cleanLine(mb.Side), 16, "…") + " · safety number " + mb.SafetyNumber
		}
		out = append(out, line, styleFaint.Render(second))
	}
	if len(m.members) == 0 {
		out = append(out, "  (no roster: "+m.endedText()+")")
	}
	return append(out, "", styleFaint.Render(" Compare safety numbers in person; /verify --confirm NAME marks one verified."))
}

func (m *model) endedText() string {
	if m.ended != "" {
		return "the channel is " + m.ended
	}
	return "loading"
}

func (m *model) draftsView() []string {
	if len(m.drafts) == 0 {
		return []string{"  No drafts yet. /draft put FILE NAME publishes one."}
	}
	out := []string{styleFaint.Render(fmt.Sprintf("   %-16s %-4s %-14s %-16s %9s  %s", "draft", "ver", "author", "time", "size", "sha256"))}
	for i, d := range m.drafts {
		cur, mark := "  ", " "
		if i == m.draftSel {
			cur = "› "
		}
		if i == m.draftMark {
			mark = "*"
		}
		sum := d.SHA256
		if len(sum) > 12 {
			sum = sum[:12]
		}
		line := fmt.Sprintf("%s%s%s %-4s %s %-16s %9s  %s", cur, mark, fit(ansi.Truncate(cleanLine(d.Name), 16, "…"), 16),
			fmt.Sprintf("v%d", d.Version), fit(ansi.Truncate(cleanLine(d.Author), 14, "…"), 14),
			d.Time.Local().Format("2006-01-02 15:04"), fmt.Sprintf("%d B", d.Size), sum)
		if i == m.draftSel {
			line = styleTabOn.Render(line)
		}
		out = append(out, line)
	}
	return out
}

// helpText lists keys and slash commands; organizer commands only for
// organizers, draft commands only for those who receive the talks.
func (m *model) helpText() string {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "  %-28s %s\n", k, v) }
	b.WriteString("Keys\n")
	row("enter", "send to the tab shown")
	row("alt+enter, ctrl+j", "new line")
	if m.canTalk() {
		row("tab, shift+tab", "switch between talks and briefings")
	}
	row("pgup, pgdn", "scroll")
	row("F2", "members")
	if m.canTalk() {
		row("F3", "drafts (↑↓ enter: open, space: mark, d: diff)")
	}
	row("ctrl+l", "lock: hidden until the passphrase is typed")
	row("? (on an empty line), F1", "this help")
	row("esc", "close a panel")
	row("ctrl+c", "quit; the screen is cleared")
	b.WriteString("\nCommands\n")
	row("/brief TEXT", "send TEXT as a briefing, from any tab")
	row("/brief --side TEXT", "brief your own side (delegation) alone")
	row("/members", "members with roles, verified marks and expiry")
	row("/verify NAME", "NAME's safety number")
	row("/verify --confirm NAME", "mark NAME verified, once compared in person")
	if m.canTalk() {
		row("/drafts", "the drafts panel")
		row("/draft put FILE [NAME]", "publish FILE as the next version of NAME")
		row("/draft get NAME [VERSION]", "open a version read-only (default: latest)")
		row("/draft diff NAME V1 V2", "diff two versions")
	}
	row("/lock, /quit", "")
	row("//TEXT", "send a message that starts with /")
	if m.isOrganizer() {
		b.WriteString("\nOrganizer\n")
		row("/pending", "join requests waiting, with safety numbers")
		row("/admit NAME[, NAME…]", "admit them (/admit --all: every one)")
		row("/invite ROLE FILE [EXPIRES]", "write a single-use invite code to a new file")
		row("/remove NAME", "remove a member: a new epoch without them")
	}
	if m.role == crypto.RoleMentor {
		b.WriteString("\nAs a mentor you receive the briefings only; the talks and drafts never reach you.\n")
	}
	b.WriteString("\nNo notification ever shows message content. Burning and leaving a channel are\nparley burn and parley leave, outside the chat.")
	return b.String()
}
