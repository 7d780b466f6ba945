package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"parley/client"
	"parley/crypto"
)

// What the body of the screen shows.
type chatMode int

const (
	modeChat    chatMode = iota // the conversation of the current tab
	modeHelp                    // ? / F1
	modeMembers                 // F2, /members
	modeDrafts                  // F3, /drafts
	modeDoc                     // a draft version or a diff, read-only
	modeInfo                    // the answer of a slash command
)

var errSessionClosed = errors.New("the chat is closing")

// Messages from commands.
type (
	reloadMsg struct {
		entries []client.Entry
		err     error
	}
	metaMsg struct {
		info    *client.ChannelInfo
		members []client.Member
		queued  int
	}
	// actionMsg is the result of something the user asked for.
	actionMsg struct {
		notice string
		err    error
		// sent marks the end of a send; restore is its text, put back
		// in the compose box when it failed.
		sent    bool
		restore string
		// reload asks for the transcript and the panels again.
		reload bool
		// info, when set, opens the info panel with this title and text.
		infoTitle, info string
	}
	draftsMsg struct {
		list []client.DraftVersion
		err  error
	}
	docMsg struct {
		title, body string
		diff        bool
		err         error
	}
	unlockMsg struct{ err error }
	tickMsg   struct{}
)

// model is the Bubble Tea model of parley chat.
type model struct {
	cfg    Config
	endErr error // set when CheckPassphrase ended the chat (ErrEnd)
	c      *client.Client
	s      *session
	self   string // our display name

	width, height int

	role   crypto.Role
	policy string
	tabs   []crypto.Compartment
	tab    int
	unread map[crypto.Compartment]int

	entries []client.Entry
	seen    map[string]bool

	members []client.Member
	drafts  []client.DraftVersion
	// draftSel is the selected line of the drafts panel; draftMark the
	// version marked for a diff (-1: none).
	draftSel, draftMark int

	conn    string // connecting, connected, reconnecting
	ended   string // burned or removed: Follow stopped for good
	connErr string
	queued  int
	sending int
	busy    int // actions in flight

	notice    string
	noticeErr bool
	noticeAt  time.Time

	mode       chatMode
	panelTitle string
	panelText  string
	docDiff    bool

	body    viewport.Model // the conversation
	panel   viewport.Model // panels
	compose textarea.Model

	locked    bool
	unlocking bool
	lockErr   string
	lockInput textinput.Model

	quitting bool
}

// newModel loads the channel's transcript and starts following it.
func newModel(cfg Config) (*model, error) {
	c := cfg.Client
	info, err := channelInfo(c, cfg.Channel)
	if err != nil {
		return nil, err
	}
	switch info.Status {
	case "pending":
		return nil, fmt.Errorf("not admitted to %s yet: an organizer must admit you (then parley sync)", cfg.Channel)
	}
	entries, mark, err := c.ReadAfter(cfg.Channel, 0)
	if err != nil {
		return nil, err
	}
	m := &model{cfg: cfg, c: c, self: c.Whoami().Name, seen: map[string]bool{},
		unread: map[crypto.Compartment]int{}, conn: "connecting", draftMark: -1}
	m.applyInfo(info)
	if info.Status == "removed" || info.Status == "refused" {
		m.ended = info.Status
	}
	m.merge(entries, false)

	m.body = viewport.New(80, 18)
	m.panel = viewport.New(80, 18)

	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.Prompt = "> "
	ta.CharLimit = 0
	ta.SetHeight(composeHeight)
	ta.KeyMap.InsertNewline = key.NewBinding(key.WithKeys("alt+enter", "ctrl+j"))
	ta.FocusedStyle.CursorLine = lipgloss.NewStyle()
	ta.Cursor.SetMode(cursor.CursorStatic)
	ta.Focus()
	m.compose = ta
	m.setPlaceholder()

	li := textinput.New()
	li.Prompt = "Passphrase: "
	li.EchoMode = textinput.EchoPassword
	li.EchoCharacter = '•'
	li.CharLimit = 1024
	li.Cursor.SetMode(cursor.CursorStatic)
	m.lockInput = li

	if m.ended == "" {
		m.s = startSession(c, cfg.Channel, mark)
	}
	return m, nil
}

func channelInfo(c *client.Client, name string) (*client.ChannelInfo, error) {
	list, err := c.Channels()
	if err != nil {
		return nil, err
	}
	for _, ch := range list {
		if ch.Name == name {
			return &ch, nil
		}
	}
	return nil, fmt.Errorf("no channel named %q (parley channel list shows yours)", name)
}

// close stops following; the screen is gone.
func (m *model) close() {
	if m.s != nil {
		m.s.close(5 * time.Second)
	}
}

// applyInfo takes the role (and so the tabs) from the channel list.
func (m *model) applyInfo(info *client.ChannelInfo) {
	if r, ok := crypto.ParseRole(info.Role); ok {
		m.role = r
	}
	m.policy = info.Policy
	var cur crypto.Compartment // none yet: the first tab
	if m.tab < len(m.tabs) {
		cur = m.tabs[m.tab]
	}
	m.tabs = nil
	for _, comp := range []crypto.Compartment{crypto.Talks, crypto.Briefings} {
		if m.role == 0 || m.role.CanRead(comp) {
			m.tabs = append(m.tabs, comp)
		}
	}
	m.tab = max(0, slices.Index(m.tabs, cur))
}

func (m *model) current() crypto.Compartment { return m.tabs[m.tab] }

func (m *model) canTalk() bool { return slices.Contains(m.tabs, crypto.Talks) }

func (m *model) isOrganizer() bool { return m.role == crypto.RoleOrganizer }

func (m *model) setPlaceholder() {
	switch {
	case m.ended != "":
		m.compose.Placeholder = "this channel is closed to you; ctrl+c leaves"
	case m.current() == crypto.Talks:
		m.compose.Placeholder = "message the talks (members, not mentors) · ? help · / commands"
	default:
		m.compose.Placeholder = "brief everyone, mentors included · ? help · / commands"
	}
}

func (m *model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.refreshMeta(), m.tick()}
	if m.s != nil {
		cmds = append(cmds, m.s.listen())
	}
	return tea.Batch(cmds...)
}

func (m *model) tick() tea.Cmd {
	return tea.Tick(5*time.Second, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m *model) listen() tea.Cmd {
	if m.s == nil {
		return nil
	}
	return m.s.listen()
}

func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return m, nil
	case tea.KeyMsg:
		return m, m.key(textStaysText(msg))
	case entryMsg:
		return m, tea.Batch(m.followed(msg.e), m.listen())
	case connMsg:
		m.conn, m.connErr = msg.state, ""
		return m, tea.Batch(m.refreshMeta(), m.listen())
	case followEndedMsg:
		return m, tea.Batch(m.followEnded(msg), m.listen())
	case reloadMsg:
		if msg.err != nil && m.ended == "" {
			m.setNotice(msg.err.Error(), true)
		}
		m.merge(msg.entries, true)
		return m, nil
	case metaMsg:
		m.applyMeta(msg)
		return m, nil
	case actionMsg:
		return m, m.actionDone(msg)
	case draftsMsg:
		if msg.err != nil {
			m.setNotice(msg.err.Error(), true)
		}
		grew := len(msg.list) > len(m.drafts)
		m.drafts = msg.list
		m.draftSel = min(m.draftSel, max(0, len(m.drafts)-1))
		if grew && m.draftMark < 0 {
			m.draftSel = max(0, len(m.drafts)-1) // the newest version
		}
		m.refreshPanel()
		return m, nil
	case docMsg:
		m.busy--
		if msg.err != nil {
			m.setNotice(msg.err.Error(), true)
			return m, nil
		}
		m.docDiff = msg.diff
		m.openPanel(modeDoc, msg.title, msg.body)
		return m, nil
	case unlockMsg:
		m.unlocking = false
		if errors.Is(msg.err, ErrEnd) {
			m.endErr = msg.err
			return m, tea.Quit
		}
		if msg.err == nil {
			m.locked, m.lockErr = false, ""
			m.lockInput.Blur()
			m.refreshBody()
		} else if errors.Is(msg.err, client.ErrWrongPassphrase) {
			m.lockErr = "wrong passphrase"
		} else {
			m.lockErr = msg.err.Error()
		}
		return m, nil
	case tickMsg:
		if m.notice != "" && !m.noticeErr && time.Since(m.noticeAt) > noticeLife {
			m.notice = ""
		}
		return m, tea.Batch(m.refreshMeta(), m.tick())
	}
	var cmd tea.Cmd
	m.compose, cmd = m.compose.Update(msg)
	return m, cmd
}

// Layout: a header line, the body, a rule with notices, the compose
// box and a line of key hints.
const composeHeight = 3

func (m *model) bodyHeight() int { return max(1, m.height-3-composeHeight) }

func (m *model) resize(w, h int) {
	m.width, m.height = w, h
	m.body.Width, m.body.Height = w, m.bodyHeight()
	m.panel.Width, m.panel.Height = w, m.bodyHeight()
	m.compose.SetWidth(w)
	m.refreshBody()
	m.refreshPanel()
}

func (m *model) setNotice(s string, isErr bool) {
	m.notice, m.noticeErr, m.noticeAt = client.OneLine(s), isErr, time.Now()
}

// noticeLife is how long a notice that is not an error stays.
const noticeLife = 10 * time.Second

// entryKey identifies an entry across Follow and Read.
func entryKey(e client.Entry) string {
	return fmt.Sprintf("%d\x00%s\x00%s\x00%s", e.Seq, e.Kind, e.Sender, e.Text)
}

// tabOf is the compartment an entry belongs to; system lines (-1)
// belong to every tab.
func tabOf(e client.Entry) crypto.Compartment {
	switch e.Kind {
	case client.KindMessage, client.KindDraft, client.KindInitial:
		return crypto.Talks
	case client.KindBriefing, client.KindSideBriefing:
		return crypto.Briefings
	}
	return 0
}

// merge adds entries not shown yet, in transcript order. count says
// whether they count as unread on the tabs not shown.
func (m *model) merge(entries []client.Entry, count bool) {
	added := false
	for _, e := range entries {
		k := entryKey(e)
		if m.seen[k] {
			continue
		}
		m.seen[k] = true
		m.entries = append(m.entries, e)
		added = true
		if t := tabOf(e); count && t != 0 && (len(m.tabs) == 0 || t != m.current() || m.mode != modeChat) {
			m.unread[t]++
		}
	}
	if added {
		sort.SliceStable(m.entries, func(i, j int) bool { return m.entries[i].Seq < m.entries[j].Seq })
		m.refreshBody()
	}
}

// followed takes an entry from Follow.
func (m *model) followed(e client.Entry) tea.Cmd {
	if e.Kind == client.KindDraft {
		// Read numbers draft versions; Follow's entry has no number yet.
		return tea.Batch(m.reload(), m.loadDrafts())
	}
	if e.Seq == 0 && len(m.entries) > 0 {
		e.Seq = m.entries[len(m.entries)-1].Seq // a line of the moment: last
	}
	m.merge([]client.Entry{e}, true)
	if e.Kind == client.KindSystem {
		return m.refreshMeta() // the roster may have changed
	}
	return nil
}

func (m *model) followEnded(msg followEndedMsg) tea.Cmd {
	switch msg.state {
	case "burned":
		// The home has erased the channel; so does the screen.
		burn := client.Entry{Time: time.Now().UTC(), Kind: client.KindSystem,
			Text: "the channel was burned; it is erased from this home"}
		m.entries, m.seen, m.members, m.drafts = []client.Entry{burn}, map[string]bool{}, nil, nil
		m.unread = map[crypto.Compartment]int{}
		m.ended = "burned"
		if m.mode != modeHelp {
			m.mode = modeChat
		}
		m.setPlaceholder()
		m.refreshBody()
		return nil
	case "removed", "refused":
		m.ended = msg.state
		m.setPlaceholder()
		m.setNotice("this channel is closed to you (the last line says why); what you had stays readable here", false)
		return m.refreshMeta()
	}
	if msg.err != nil {
		m.conn, m.connErr = "offline", msg.err.Error()
	}
	return nil
}

func (m *model) reload() tea.Cmd {
	c, ch := m.c, m.cfg.Channel
	return func() tea.Msg {
		entries, err := c.Read(ch)
		return reloadMsg{entries: entries, err: err}
	}
}

func (m *model) refreshMeta() tea.Cmd {
	c, ch := m.c, m.cfg.Channel
	return func() tea.Msg {
		var mm metaMsg
		mm.info, _ = channelInfo(c, ch)
		if mm.info != nil {
			mm.members, _ = c.Members(ch)
			mm.queued, _ = c.Queued(ch)
		}
		return mm
	}
}

func (m *model) applyMeta(mm metaMsg) {
	if mm.info == nil {
		return
	}
	m.applyInfo(mm.info)
	m.setPlaceholder()
	if mm.members != nil {
		m.members = mm.members
	}
	m.queued = mm.queued
	if m.mode == modeMembers {
		m.refreshPanel()
	}
	if m.mode == modeDrafts && !m.canTalk() {
		m.mode = modeChat
	}
	m.refreshBody()
}

func (m *model) loadDrafts() tea.Cmd {
	if !m.canTalk() {
		return nil
	}
	c, ch := m.c, m.cfg.Channel
	return func() tea.Msg {
		list, err := c.Drafts(ch)
		return draftsMsg{list: list, err: err}
	}
}

func (m *model) actionDone(msg actionMsg) tea.Cmd {
	m.busy--
	if msg.sent {
		m.sending--
	}
	var queued *client.QueuedError
	switch {
	case errors.Is(msg.err, errSessionClosed):
		return nil
	case errors.As(msg.err, &queued):
		// In the outbox: giving the text back would invite a second copy.
		m.setNotice(queued.Error(), true)
	case errors.As(msg.err, new(*client.SentUnrecordedError)):
		m.setNotice(msg.err.Error(), true)
	case errors.As(msg.err, new(*client.SentOnceNotice)):
		m.setNotice(msg.err.Error(), false)
	case msg.err != nil:
		prefix := ""
		if msg.sent {
			prefix = "not sent: "
		}
		m.setNotice(prefix+msg.err.Error(), true)
		if msg.restore != "" && m.compose.Value() == "" {
			m.compose.SetValue(msg.restore)
		}
	case msg.notice != "":
		m.setNotice(msg.notice, false)
	case msg.sent:
		m.notice = "" // sent: what was said before is done with
	}
	if msg.info != "" {
		m.openPanel(modeInfo, msg.infoTitle, msg.info)
	}
	if msg.reload {
		return tea.Batch(m.reload(), m.refreshMeta(), m.loadDrafts())
	}
	if msg.sent {
		// Follow, started again after the send, shows what it added.
		return m.refreshMeta()
	}
	return m.refreshMeta()
}

func (m *model) openPanel(mode chatMode, title, text string) {
	m.mode, m.panelTitle, m.panelText = mode, title, text
	m.refreshPanel()
	m.panel.GotoTop()
}

func (m *model) closePanel() {
	m.mode = modeChat
	m.unread[m.current()] = 0
	m.refreshBody()
}

func (m *model) openMembers() {
	m.mode, m.panelTitle = modeMembers, "Members"
	m.refreshPanel()
	m.panel.GotoTop()
}

func (m *model) openDrafts() tea.Cmd {
	if !m.canTalk() {
		m.setNotice("drafts belong to the talks, which mentors do not receive", true)
		return nil
	}
	m.mode, m.panelTitle = modeDrafts, "Drafts"
	m.draftSel, m.draftMark = max(0, len(m.drafts)-1), -1
	m.refreshPanel()
	m.panel.GotoTop()
	return m.loadDrafts()
}

func (m *model) selectedDraft() (client.DraftVersion, bool) {
	if m.draftSel < 0 || m.draftSel >= len(m.drafts) {
		return client.DraftVersion{}, false
	}
	return m.drafts[m.draftSel], true
}

// diffSelected diffs the marked version against the selected one, or,
// with nothing marked, the selected version against the one before it.
func (m *model) diffSelected() tea.Cmd {
	d, ok := m.selectedDraft()
	if !ok {
		return nil
	}
	if m.draftMark >= 0 && m.draftMark < len(m.drafts) && m.draftMark != m.draftSel {
		a := m.drafts[m.draftMark]
		if a.Name != d.Name {
			m.setNotice("mark and selection are different drafts", true)
			return nil
		}
		m.draftMark = -1
		if a.Version > d.Version {
			a, d = d, a
		}
		return m.diffDraft(d.Name, a.SHA256, d.SHA256, fmt.Sprintf("version %d → %d", a.Version, d.Version))
	}
	if d.Parent == "" {
		m.setNotice(fmt.Sprintf("%q version %d revises no earlier version; mark one with space to diff", d.Name, d.Version), true)
		return nil
	}
	return m.diffDraft(d.Name, d.Parent, d.SHA256, fmt.Sprintf("version %d → %d", d.Version-1, d.Version))
}

// openDraft shows the version of name that ref names (a number, a hash
// prefix, or "" for the latest); label says which it is.
func (m *model) openDraft(name, ref, label string) tea.Cmd {
	c, ch := m.c, m.cfg.Channel
	m.busy++
	return func() tea.Msg {
		data, err := c.GetDraft(ch, name, ref)
		if err != nil {
			return docMsg{err: err}
		}
		title := fmt.Sprintf("%s, %s (read-only)", name, label)
		if !isPrintableText(data) {
			return docMsg{title: title, body: fmt.Sprintf("a binary draft of %d bytes: parley draft get writes it to a file", len(data))}
		}
		return docMsg{title: title, body: string(data)}
	}
}

func (m *model) diffDraft(name, ref1, ref2, label string) tea.Cmd {
	c, ch := m.c, m.cfg.Channel
	m.busy++
	return func() tea.Msg {
		d, err := c.DiffDraft(ch, name, ref1, ref2)
		if err != nil {
			return docMsg{err: err}
		}
		if d == "" {
			d = "the two versions are the same"
		}
		return docMsg{title: fmt.Sprintf("%s: %s", name, label), body: d, diff: true}
	}
}

// submit sends the compose box: a message to the current tab, or a
// slash command. "//" starts a message with a slash.
func (m *model) submit() tea.Cmd {
	text := strings.TrimRight(m.compose.Value(), " \t\n")
	if strings.TrimSpace(text) == "" {
		return nil
	}
	m.compose.Reset()
	if strings.HasPrefix(text, "/") && !strings.HasPrefix(text, "//") {
		return m.slash(text)
	}
	if strings.HasPrefix(text, "//") {
		text = text[1:]
	}
	return m.send(m.current(), text)
}

func (m *model) send(comp crypto.Compartment, text string) tea.Cmd {
	if m.ended != "" {
		m.setNotice("this channel is closed to you: nothing can be sent", true)
		return nil
	}
	c, ch := m.c, m.cfg.Channel
	m.sending++
	m.busy++
	return m.s.do(func(ctx context.Context) tea.Msg {
		err := c.Send(ctx, ch, comp, text)
		return actionMsg{sent: true, err: err, restore: text}
	})
}

// lock hides everything until the passphrase is typed again.
func (m *model) lock() {
	m.locked, m.lockErr = true, ""
	m.lockInput.Reset()
	m.lockInput.Focus()
}
