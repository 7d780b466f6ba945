package chat

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"parley/client"
	"parley/crypto"
)

// Words typed or pasted are text: never a key, never a compartment
// switch. These bursts once switched a participant from the talks to
// the briefings (which mentors read) or sent half a sentence.
var textBursts = []string{
	"Talks only: our red line, see tab 3 of the annex",
	"we enter into talks",
	"up down left right esc pgdown pgup home end shift+tab",
}

// TestChatTextIsNeverAKey runs the real parley chat in a pseudo-terminal,
// writes each burst in one write (as a fast typist, a paste without
// bracketed paste, or a script delivers it) and one bracketed paste,
// and checks what arrived where: every text in the talks, verbatim, and
// nothing in the briefings.
func TestChatTextIsNeverAKey(t *testing.T) {
	w := newChatWorld(t)
	const ch = "oslo"
	org := w.Organizer("Convener", ch)
	alice := w.Join(org, ch, "Alice", crypto.RoleParticipant)
	parley := parleyBinary(t) // the real program, built by go build

	master, slave := openPTY(t)
	cmd := exec.Command(parley, "--home", w.Dir(alice), "chat", ch)
	cmd.Env = append(os.Environ(), "PARLEY_PASSPHRASE="+chatPassphrase, "TERM=xterm-256color")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	screen := &screenLog{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			screen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	waitScreen := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(screen.text(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("the chat never showed %q; it showed:\n%s", what, screen.text())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitScreen("connected")

	want := append([]string(nil), textBursts...)
	for _, b := range textBursts {
		if _, err := master.Write([]byte(b + "\r")); err != nil {
			t.Fatal(err)
		}
		waitScreen("Alice: " + b)
	}
	const pasted = "Pasted: see tab 3, enter the annex\nup to article 2; esc clause"
	if _, err := master.Write([]byte("\x1b[200~" + pasted + "\x1b[201~\r")); err != nil {
		t.Fatal(err)
	}
	want = append(want, pasted)
	waitScreen("esc clause")

	// The organizer has every text, whole, in the talks; the briefings
	// have nothing from Alice.
	deadline := time.Now().Add(30 * time.Second)
	for {
		w.seen(org, ch) // syncs
		entries, err := org.Read(ch)
		if err != nil {
			t.Fatal(err)
		}
		var talks, briefings []string
		for _, e := range entries {
			if e.Sender != "Alice" {
				continue
			}
			switch e.Kind {
			case client.KindMessage:
				talks = append(talks, e.Text)
			default:
				briefings = append(briefings, e.Kind+": "+e.Text)
			}
		}
		if len(briefings) > 0 {
			t.Fatalf("text typed in the talks went elsewhere: %q", briefings)
		}
		if len(talks) > len(want) {
			t.Fatalf("more messages than were typed (text acted as enter?): %q", talks)
		}
		if len(talks) == len(want) {
			for i := range want {
				if talks[i] != want[i] {
					t.Fatalf("message %d arrived as %q, typed %q", i, talks[i], want[i])
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the organizer has %q, want %q", talks, want)
		}
		time.Sleep(100 * time.Millisecond)
	}

	master.Write([]byte{3}) // ctrl+c
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("parley chat ended with %v; the screen:\n%s", waitErr, screen.text())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("parley chat did not quit on ctrl+c")
	}
}

// TestChatKeyNamesAsText feeds the model key-name words as runes, the
// way Bubble Tea reports a burst, and checks that they land in the
// compose box and change nothing else.
func TestChatKeyNamesAsText(t *testing.T) {
	w := newChatWorld(t)
	const ch = "oslo"
	org := w.Organizer("Convener", ch)
	alice := w.Join(org, ch, "Alice", crypto.RoleParticipant)
	ui := w.chat(alice, ch)
	ui.waitText("connected")
	tab := ui.m.tab
	var typed []string
	for _, word := range []string{"tab", "shift+tab", "enter", "up", "down", "left", "right", "esc", "pgdown", "pgup", "home", "end", "f1", "f2", "f3", "ctrl+l", "?q"} {
		ui.typeText(word)
		ui.update(tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}})
		typed = append(typed, word)
		if ui.m.tab != tab || ui.m.mode != modeChat || ui.m.locked || ui.m.sending != 0 {
			t.Fatalf("typing %q acted as a key: tab %d→%d, mode %v, locked %v, sending %d", word, tab, ui.m.tab, ui.m.mode, ui.m.locked, ui.m.sending)
		}
	}
	if got, want := ui.m.compose.Value(), strings.Join(typed, " ")+" "; got != want {
		t.Fatalf("compose box holds %q, typed %q", got, want)
	}
	// A bracketed paste is text too, newlines and all.
	ui.m.compose.Reset()
	ui.update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("tab\nenter"), Paste: true})
	if got := ui.m.compose.Value(); got != "tab\nenter" || ui.m.tab != tab {
		t.Fatalf("a paste became %q (tab %d)", got, ui.m.tab)
	}
	// The real keys still work.
	ui.m.compose.Reset()
	ui.press(tea.KeyTab)
	if ui.m.tab == tab {
		t.Fatal("the Tab key no longer switches tabs")
	}
}
