package chat

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"parley/client"
	"parley/crypto"
	"parley/internal/parleytest"
)

// The chat tests drive the Bubble Tea model directly, at 80×24, with no
// terminal: keys go in through Update, commands run on goroutines and
// their messages come back through Update, and the screen is View with
// its styling stripped. Everything else is real: a relay on loopback
// and homes made with client.Init.

const chatPassphrase = parleytest.Passphrase

// chatWorld is the shared test world (internal/parleytest) with the chat
// screen on top.
type chatWorld struct{ *parleytest.World }

func newChatWorld(t *testing.T) *chatWorld {
	t.Helper()
	t.Parallel()
	return &chatWorld{parleytest.New(t, nil)}
}

// seen syncs a home and returns its transcript as "sender: text" lines
// ("* text" for system lines).
func (w *chatWorld) seen(h *client.Client, channel string) []string {
	w.T.Helper()
	return parleytest.Texts(w.T, h, channel)
}

// chatUI is a running chat model and the loop that feeds it.
type chatUI struct {
	t    testing.TB
	m    *model
	msgs chan tea.Msg
	done chan struct{}
	quit bool
}

func (w *chatWorld) chat(h *client.Client, channel string) *chatUI {
	w.T.Helper()
	dir := w.Dir(h)
	m, err := newModel(Config{Client: h, Channel: channel, CheckPassphrase: HomeCheck(dir, channel)})
	if err != nil {
		w.T.Fatal(err)
	}
	if m.s != nil {
		m.s.retry = 200 * time.Millisecond
	}
	ui := &chatUI{t: w.T, m: m, msgs: make(chan tea.Msg, 1024), done: make(chan struct{})}
	// Cleanups run last-in first-out: the session stops before the
	// client closes.
	w.T.Cleanup(func() {
		close(ui.done)
		m.close()
	})
	ui.update(tea.WindowSizeMsg{Width: 80, Height: 24})
	ui.run(m.Init())
	return ui
}

// run executes a command as Bubble Tea would, on its own goroutine.
func (ui *chatUI) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		if msg := cmd(); msg != nil {
			select {
			case ui.msgs <- msg:
			case <-ui.done:
			}
		}
	}()
}

func (ui *chatUI) update(msg tea.Msg) {
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			ui.run(c)
		}
		return
	case tea.QuitMsg:
		ui.quit = true
		return
	}
	_, cmd := ui.m.Update(msg)
	ui.run(cmd)
}

func (ui *chatUI) screen() string { return ansi.Strip(ui.m.View()) }

// waitFor feeds messages to the model until the screen satisfies ok.
func (ui *chatUI) waitFor(what string, ok func(screen string) bool) string {
	ui.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s := ui.screen()
		if ok(s) {
			return s
		}
		select {
		case msg := <-ui.msgs:
			ui.update(msg)
		case <-deadline:
			ui.t.Fatalf("timed out waiting for %s; the screen:\n%s", what, s)
		}
	}
}

func (ui *chatUI) waitText(s string) string {
	ui.t.Helper()
	return ui.waitFor("«"+s+"»", func(screen string) bool { return strings.Contains(screen, s) })
}

// drain handles the messages that are already waiting.
func (ui *chatUI) drain() {
	for {
		select {
		case msg := <-ui.msgs:
			ui.update(msg)
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

func (ui *chatUI) typeText(s string) {
	ui.update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)})
}

func (ui *chatUI) press(k tea.KeyType) { ui.update(tea.KeyMsg{Type: k}) }

// say types a line and presses enter.
func (ui *chatUI) say(s string) {
	ui.typeText(s)
	ui.press(tea.KeyEnter)
}

func (ui *chatUI) header() string { return strings.SplitN(ui.screen(), "\n", 2)[0] }

func checkSize(t *testing.T, screen string) {
	t.Helper()
	checkSizeWH(t, screen, 80, 24)
}

func checkSizeWH(t *testing.T, screen string, width, height int) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	if len(lines) != height {
		t.Fatalf("the screen has %d lines, not %d:\n%s", len(lines), height, screen)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > width {
			t.Fatalf("line %d is %d cells wide: %q", i, w, l)
		}
	}
}

func hasLine(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestChatLiveBothWays(t *testing.T) {
	w := newChatWorld(t)
	const ch = "oslo"
	org := w.Organizer("Convener", ch)
	alice := w.Join(org, ch, "Alice", crypto.RoleParticipant)

	ui := w.chat(alice, ch)
	ui.waitText("● connected")
	if h := ui.header(); !strings.Contains(h, "talks") || !strings.Contains(h, "briefings") {
		t.Fatalf("a participant's header lacks a tab: %q", h)
	}

	// A message from another home appears while the screen is open.
	if err := org.Send(w.Ctx, ch, crypto.Talks, "Article 1 stays as drafted."); err != nil {
		t.Fatal(err)
	}
	ui.waitText("Convener: Article 1 stays as drafted.")

	// A briefing lands on the other tab, counted there, not shown here.
	if err := org.Send(w.Ctx, ch, crypto.Briefings, "Progress on article 1."); err != nil {
		t.Fatal(err)
	}
	ui.waitFor("an unread briefing", func(s string) bool { return strings.Contains(s, "briefings (1)") })
	if strings.Contains(ui.screen(), "Progress on article 1.") {
		t.Fatal("a briefing shows in the talks tab")
	}
	ui.press(tea.KeyTab)
	screen := ui.waitText("Convener: Progress on article 1.")
	if strings.Contains(screen, "Article 1 stays") || strings.Contains(ui.header(), "(1)") {
		t.Fatalf("the briefings tab:\n%s", screen)
	}
	ui.press(tea.KeyTab)

	// Typed messages reach the other home, in the tab's compartment.
	ui.say("We accept the timetable.")
	screen = ui.waitText("Alice: We accept the timetable.")
	checkSize(t, screen)
	ui.typeText("/brief the mood is good")
	ui.press(tea.KeyEnter)
	ui.waitFor("the send to finish", func(string) bool { return ui.m.sending == 0 && ui.m.compose.Value() == "" })
	got := w.seen(org, ch)
	if !hasLine(got, "Alice: We accept the timetable.") {
		t.Fatalf("the organizer does not have the typed message: %q", got)
	}
	entries, _ := org.Read(ch)
	var kinds []string
	for _, e := range entries {
		if e.Sender == "Alice" {
			kinds = append(kinds, e.Kind+":"+e.Text)
		}
	}
	if strings.Join(kinds, "|") != "message:We accept the timetable.|briefing:the mood is good" {
		t.Fatalf("Alice's entries at the organizer: %q", kinds)
	}

	// Multi-line input: alt+enter is a new line, enter sends it all.
	ui.typeText("first line")
	ui.update(tea.KeyMsg{Type: tea.KeyEnter, Alt: true})
	ui.typeText("second line")
	ui.press(tea.KeyEnter)
	ui.waitText("second line")
	if !hasLine(w.seen(org, ch), "Alice: first line\nsecond line") {
		t.Fatal("the two-line message did not arrive as one")
	}
	// Sending is serialized with Follow: nothing went out twice.
	for _, l := range w.seen(org, ch) {
		if strings.Contains(l, "replayed") {
			t.Fatalf("a frame was posted twice: %q", l)
		}
	}
}

func TestChatMentorSeesOnlyBriefings(t *testing.T) {
	w := newChatWorld(t)
	const ch = "oslo"
	org := w.Organizer("Convener", ch)
	mentor := w.Join(org, ch, "Mentor", crypto.RoleMentor)
	org.Send(w.Ctx, ch, crypto.Talks, "secret negotiating text")
	org.Send(w.Ctx, ch, crypto.Briefings, "a progress report")

	ui := w.chat(mentor, ch)
	screen := ui.waitText("Convener: a progress report")
	if h := ui.header(); strings.Contains(h, "talks") || !strings.Contains(h, "briefings") {
		t.Fatalf("a mentor's header: %q", h)
	}
	if len(ui.m.tabs) != 1 || ui.m.tabs[0] != crypto.Briefings {
		t.Fatalf("a mentor's tabs: %v", ui.m.tabs)
	}
	if strings.Contains(screen, "secret negotiating") || strings.Contains(screen, "F3") {
		t.Fatalf("the mentor's screen:\n%s", screen)
	}
	ui.press(tea.KeyTab)
	if strings.Contains(ui.header(), "talks") {
		t.Fatal("tab reached a talks tab")
	}
	ui.press(tea.KeyF3)
	if ui.m.mode == modeDrafts {
		t.Fatal("a mentor opened the drafts panel")
	}
	// Help shows neither drafts nor organizer commands.
	ui.typeText("?")
	ui.waitText("Commands")
	if help := ui.m.panelText; strings.Contains(help, "/draft") || strings.Contains(help, "/remove") {
		t.Fatalf("a mentor's help:\n%s", help)
	}
	ui.press(tea.KeyEsc)
	// What a mentor types is a briefing.
	ui.say("push on the timetable")
	ui.waitText("Mentor: push on the timetable")
	entries, _ := func() ([]client.Entry, error) { w.seen(org, ch); return org.Read(ch) }()
	found := false
	for _, e := range entries {
		if e.Sender == "Mentor" && e.Text == "push on the timetable" {
			found = e.Kind == client.KindBriefing
		}
	}
	if !found {
		t.Fatal("the mentor's message did not arrive as a briefing")
	}
}

func TestChatRemovalShowsSystemLine(t *testing.T) {
	w := newChatWorld(t)
	const ch = "oslo"
	org := w.Organizer("Convener", ch)
	alice := w.Join(org, ch, "Alice", crypto.RoleParticipant)
	bob := w.Join(org, ch, "Bob", crypto.RoleParticipant)

	orgUI := w.chat(org, ch)
	aliceUI := w.chat(alice, ch)
	bobUI := w.chat(bob, ch)
	for _, ui := range []*chatUI{orgUI, aliceUI, bobUI} {
		ui.waitText("● connected")
	}
	// Organizer commands are in the organizer's help only.
	orgUI.update(tea.KeyMsg{Type: tea.KeyF1})
	orgUI.waitText("Commands")
	if help := orgUI.m.panelText; !strings.Contains(help, "/remove NAME") {
		t.Fatalf("the organizer's help:\n%s", help)
	}
	orgUI.press(tea.KeyEsc)
	aliceUI.update(tea.KeyMsg{Type: tea.KeyF1})
	aliceUI.waitText("Commands")
	if help := aliceUI.m.panelText; strings.Contains(help, "/remove") || strings.Contains(help, "Organizer") || !strings.Contains(help, "/draft put") {
		t.Fatalf("a participant's help:\n%s", help)
	}
	aliceUI.press(tea.KeyEsc)
	aliceUI.say("/remove Bob")
	aliceUI.waitText("/remove is for organizers")

	orgUI.say("/remove Bob")
	orgUI.waitText("* Bob is no longer a member")
	aliceUI.waitText("* Bob is no longer a member")
	bobUI.waitText("the relay refuses this")
	// Bob's key is refused before he can fetch the signed roster: the
	// header says what he knows, not that he was removed.
	screen := bobUI.waitFor("the refused state", func(string) bool { return strings.Contains(bobUI.header(), "✕ key refused by the relay") })
	checkSize(t, screen)

	// After the removal, Bob reads nothing new, and cannot send.
	aliceUI.say("after Bob left")
	aliceUI.waitText("Alice: after Bob left")
	bobUI.say("still here?")
	bobUI.drain()
	if s := bobUI.screen(); strings.Contains(s, "after Bob left") || !strings.Contains(s, "closed to you") {
		t.Fatalf("the removed member's screen:\n%s", s)
	}
	// Verifying marks a member; the members panel shows the new roster.
	orgUI.say("/verify Alice")
	orgUI.waitText("(not verified")
	orgUI.say("/verify --confirm Alice")
	orgUI.waitText("(verified)")
	orgUI.update(tea.KeyMsg{Type: tea.KeyF2})
	members := orgUI.waitFor("the roster without Bob, Alice verified", func(s string) bool {
		return strings.Contains(s, "2 members") && strings.Contains(s, "✓ verified")
	})
	if strings.Contains(members, " Bob  ") || !strings.Contains(members, " Alice  ") || !strings.Contains(members, "✓ verified") || !strings.Contains(members, "safety number") {
		t.Fatalf("members panel:\n%s", members)
	}
}

func TestChatLock(t *testing.T) {
	w := newChatWorld(t)
	const ch = "oslo"
	org := w.Organizer("Convener", ch)
	alice := w.Join(org, ch, "Alice", crypto.RoleParticipant)
	org.Send(w.Ctx, ch, crypto.Talks, "the water clause")

	ui := w.chat(alice, ch)
	ui.waitText("the water clause")
	ui.typeText("half-typed reply")
	ui.press(tea.KeyCtrlL)
	locked := ui.screen()
	checkSize(t, locked)
	for _, secret := range []string{"water", "half-typed", "oslo", "Convener"} {
		if strings.Contains(locked, secret) {
			t.Fatalf("the locked screen shows %q:\n%s", secret, locked)
		}
	}
	// Messages keep arriving, unseen.
	org.Send(w.Ctx, ch, crypto.Talks, "arrived while locked")
	ui.drain()
	if strings.Contains(ui.screen(), "arrived") {
		t.Fatal("a message showed on the locked screen")
	}
	// Keys other than the passphrase do nothing.
	ui.press(tea.KeyF2)
	ui.press(tea.KeyEsc)
	ui.say("wrong one")
	ui.waitText("wrong passphrase")
	if !ui.m.locked {
		t.Fatal("a wrong passphrase unlocked")
	}
	ui.say(chatPassphrase)
	screen := ui.waitFor("unlock", func(s string) bool { return !ui.m.locked })
	screen = ui.waitText("arrived while locked")
	if !strings.Contains(screen, "half-typed reply") {
		t.Fatalf("the compose box lost its text:\n%s", screen)
	}
}

// The duress passphrase typed at the lock screen ends the chat: the
// channel is never shown again, and the chat answers as an empty home's
// would.
func TestChatDuressAtTheLock(t *testing.T) {
	w := newChatWorld(t)
	const ch = "oslo"
	org := w.Organizer("Convener", ch)
	alice := w.Join(org, ch, "Alice", crypto.RoleParticipant)
	org.Send(w.Ctx, ch, crypto.Talks, "the water clause")
	if err := client.SetDuress(w.Dir(alice), chatPassphrase, "under duress"); err != nil {
		t.Fatal(err)
	}
	ui := w.chat(alice, ch)
	ui.waitText("the water clause")
	ui.press(tea.KeyCtrlL)
	ui.say("under duress")
	ui.waitFor("the chat to end", func(string) bool { return ui.quit })
	if !errors.Is(ui.m.endErr, ErrEnd) || !errors.Is(ui.m.endErr, client.ErrNoChannel) {
		t.Fatalf("the chat ended with %v", ui.m.endErr)
	}
	if strings.Contains(ui.m.View(), "water") {
		t.Fatalf("the channel showed after the duress passphrase:\n%s", ui.m.View())
	}
	if _, err := client.Open(w.Dir(alice), chatPassphrase); !errors.Is(err, client.ErrWrongPassphrase) {
		t.Fatalf("the passphrase after the duress one: %v", err)
	}
}

// /brief --side briefs the member's own side alone, naming who reads it;
// the other side sees nothing of it.
func TestChatSideBriefing(t *testing.T) {
	w := newChatWorld(t)
	const ch = "oslo"
	org := w.Organizer("Convener", ch)
	alice := w.JoinSide(org, ch, "Alice", crypto.RoleParticipant, "A")
	elder := w.JoinSide(org, ch, "Elder A", crypto.RoleMentor, "A")
	bashir := w.JoinSide(org, ch, "Bashir", crypto.RoleParticipant, "B")
	w.seen(alice, ch)
	ui := w.chat(alice, ch)
	ui.press(tea.KeyF2) // the members panel loads the roster, sides included
	ui.waitText("Bashir")
	ui.press(tea.KeyEsc)
	ui.say("/brief --side we can give on the water clause")
	ui.waitText("to side A only: Alice, Elder A")
	ui.waitFor("the briefing to go", func(string) bool { return ui.m.sending == 0 })
	if !slices.Contains(w.seen(elder, ch), "Alice: we can give on the water clause") {
		t.Fatal("side A's mentor did not get it")
	}
	for _, l := range w.seen(bashir, ch) {
		if strings.Contains(l, "water") {
			t.Fatalf("side B read %q", l)
		}
	}
}

func TestChatDrafts(t *testing.T) {
	w := newChatWorld(t)
	const ch = "oslo"
	org := w.Organizer("Convener", ch)
	alice := w.Join(org, ch, "Alice", crypto.RoleParticipant)
	if _, err := org.PutDraft(w.Ctx, ch, "declaration", []byte("Article 1.\nArticle 2.\n")); err != nil {
		t.Fatal(err)
	}

	ui := w.chat(alice, ch)
	ui.waitText(`Convener put draft "declaration" version 1`)
	file := filepath.Join(t.TempDir(), "declaration.txt")
	os.WriteFile(file, []byte("Article 1.\nArticle 2, amended.\n"), 0o600)
	ui.say("/draft put " + file)
	ui.waitText(`published "declaration" version 2`)
	ui.waitText(`Alice put draft "declaration" version 2`)

	ui.press(tea.KeyF3)
	panel := ui.waitFor("two versions", func(s string) bool { return strings.Contains(s, "v1") && strings.Contains(s, "v2") })
	if !strings.Contains(panel, "Convener") || !strings.Contains(panel, "Alice") {
		t.Fatalf("drafts panel:\n%s", panel)
	}
	ui.press(tea.KeyDown)
	ui.update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("d")})
	diff := ui.waitText("version 1 → 2")
	if !strings.Contains(diff, "-Article 2.") || !strings.Contains(diff, "+Article 2, amended.") {
		t.Fatalf("diff view:\n%s", diff)
	}
	ui.press(tea.KeyEsc)
	ui.say("/draft get declaration 1")
	doc := ui.waitText("declaration, version 1 (read-only)")
	if !strings.Contains(doc, "Article 2.") || strings.Contains(doc, "amended") {
		t.Fatalf("version 1:\n%s", doc)
	}
	checkSize(t, doc)
	// The other home got the version the UI published.
	if data, err := org.GetDraft(ch, "declaration", "2"); err == nil {
		t.Fatalf("before syncing the organizer has version 2 already: %q", data)
	}
	w.seen(org, ch)
	if data, err := org.GetDraft(ch, "declaration", "2"); err != nil || string(data) != "Article 1.\nArticle 2, amended.\n" {
		t.Fatalf("the organizer's version 2: %q %v", data, err)
	}
}

func TestChatEscapesAndQuit(t *testing.T) {
	w := newChatWorld(t)
	const ch = "oslo"
	org := w.Organizer("Convener", ch)
	alice := w.Join(org, ch, "Alice", crypto.RoleParticipant)
	org.Send(w.Ctx, ch, crypto.Talks, "title\x1b]0;pwned\x07 and \u202eevil")

	ui := w.chat(alice, ch)
	ui.waitText("Convener: title")
	raw := ui.m.View()
	if strings.Contains(raw, "\x1b]0;") || strings.Contains(raw, "\x07") || strings.Contains(raw, "\u202e") {
		t.Fatalf("a member's control characters reached the terminal: %q", raw)
	}
	// Other sizes fill the terminal exactly too.
	for _, size := range [][2]int{{120, 40}, {60, 16}, {80, 24}} {
		ui.update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		checkSizeWH(t, ui.screen(), size[0], size[1])
	}
	ui.press(tea.KeyCtrlC)
	ui.drain()
	if !ui.quit || ui.m.View() != "" {
		t.Fatalf("after ctrl+c: quit %v, last frame %q", ui.quit, ui.m.View())
	}
}

func TestChatConnectionState(t *testing.T) {
	w := newChatWorld(t)
	const ch = "oslo"
	org := w.Organizer("Convener", ch)
	alice := w.Join(org, ch, "Alice", crypto.RoleParticipant)

	ui := w.chat(alice, ch)
	ui.waitText("● connected")
	addr := w.Relay.Addr.String()
	w.StopRelay()
	ui.waitText("○ reconnecting")

	// A send with the relay away is queued, says so, and does not give
	// the text back (that would invite a second copy).
	ui.say("are you there?")
	screen := ui.waitText("queued: not sent yet")
	if strings.Contains(screen, "> are you there?") {
		t.Fatalf("the queued text is back in the compose box:\n%s", screen)
	}
	ui.waitFor("the header to count it", func(string) bool { return strings.Contains(ui.header(), "1 queued") })
	// It goes out when the relay is back, once.
	w.StartRelay(addr)
	ui.waitText("● connected")
	ui.waitText("Alice: are you there?")
	if got := w.seen(org, ch); !hasLine(got, "Alice: are you there?") || strings.Count(strings.Join(got, "\n"), "are you there?") != 1 {
		t.Fatalf("the queued message did not arrive once: %q", got)
	}
}

func TestChatBurnWipesScreen(t *testing.T) {
	w := newChatWorld(t)
	const ch = "oslo"
	org := w.Organizer("Convener", ch)
	alice := w.Join(org, ch, "Alice", crypto.RoleParticipant)
	org.Send(w.Ctx, ch, crypto.Talks, "the final text")

	ui := w.chat(alice, ch)
	ui.waitText("Convener: the final text")
	if err := org.Burn(w.Ctx, ch); err != nil {
		t.Fatal(err)
	}
	screen := ui.waitFor("the burned state", func(string) bool { return strings.Contains(ui.header(), "✕ burned") })
	if strings.Contains(screen, "final text") || !strings.Contains(screen, "the channel was burned") {
		t.Fatalf("after the burn:\n%s", screen)
	}
	if list, _ := alice.Channels(); len(list) != 0 {
		t.Fatal("the burned channel is still in the home")
	}
}
