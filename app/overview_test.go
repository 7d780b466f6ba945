package app

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
	"parley/internal/parleytest"
)

// The channel list counts what the page has not shown, what waits to be
// sent, and whether the background sync reached the relay; text from
// others that could reorder the screen arrives defused; a draft
// downloads byte for byte.
func TestChannelListAndText(t *testing.T) {
	w := parleytest.New(t, nil)
	org := w.Organizer("Convener", "oslo")
	dir := filepath.Join(t.TempDir(), "home")
	if err := client.Init(dir, "Alice", parleytest.Passphrase); err != nil {
		t.Fatal(err)
	}
	s, err := Start(Options{Home: dir, Passphrase: parleytest.Passphrase, Listen: "127.0.0.1:0", IdleLock: time.Hour, SyncEvery: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := newBrowser(t, s)
	b.joinThroughPage(w, org)
	if err := org.Send(w.Ctx, "oslo", crypto.Talks, "terms \u202eyad eerht\u202c agreed"); err != nil {
		t.Fatal(err)
	}
	if err := org.Send(w.Ctx, "oslo", crypto.Briefings, "progress"); err != nil {
		t.Fatal(err)
	}
	binary := []byte{0, 1, 2, 0xff, '\n', 0x1b}
	if _, err := org.PutDraft(w.Ctx, "oslo", "annex", binary); err != nil {
		t.Fatal(err)
	}
	b.post("/api/channels/oslo/sync", nil, nil)
	one := func() channelSummary {
		var list []channelSummary
		b.get("/api/channels", &list)
		if len(list) != 1 {
			t.Fatalf("channels %+v", list)
		}
		return list[0]
	}
	if got := one(); got.Unread != 3 || got.Queued != 0 {
		t.Fatalf("before the page showed the channel: %+v (want 3 new: two messages and a draft)", got)
	}
	var entries entriesReply
	b.get("/api/channels/oslo/entries", &entries)
	var shown string
	for _, e := range entries.Entries {
		if e.Sender == "Convener" && strings.HasPrefix(e.Text, "terms") {
			shown = e.Text
		}
	}
	if shown != "terms \uFFFDyad eerht\uFFFD agreed" {
		t.Fatalf("a message with bidi overrides shows as %q", shown)
	}
	if got := one(); got.Unread != 0 {
		t.Fatalf("after the page showed the channel: %+v", got)
	}

	code2, body := b.do(http.MethodGet, "/api/channels/oslo/drafts/annex/file?version=1", nil, nil)
	if code2 != http.StatusOK || string(body) != string(binary) {
		t.Fatalf("draft download: %d %q", code2, body)
	}
	var opened map[string]any
	b.get("/api/channels/oslo/drafts/annex?version=1", &opened)
	if opened["binary"] != true || opened["text"] != nil {
		t.Fatalf("a binary draft opened as %v", opened)
	}

	// The background sync reports the relay; with the relay gone, a
	// message waits and the list says so.
	deadline := time.Now().Add(time.Minute)
	for got := one(); got.Link == nil || !got.Link.OK; got = one() {
		if time.Now().After(deadline) {
			t.Fatalf("the background sync never reported the relay: %+v", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	w.StopRelay()
	var sent map[string]string
	b.post("/api/channels/oslo/send", map[string]string{"compartment": "talks", "text": "later"}, &sent)
	if sent["status"] != "queued" {
		t.Fatalf("send with the relay down: %v", sent)
	}
	for got := one(); got.Queued != 1 || got.Link == nil || got.Link.OK || got.Link.Error == ""; got = one() {
		if time.Now().After(deadline) {
			t.Fatalf("with the relay down the list says %+v", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// An organizer refuses a join request: it leaves the list, the joiner
// is still waiting (nobody tells them), and a soft channel's transcript
// can be saved as plain text from the page.
func TestRefuseAndSoftExport(t *testing.T) {
	w := parleytest.New(t, nil)
	second := parleytest.New(t, nil) // a second relay: the page makes channels on several
	s, _ := startApp(t, "Convener", time.Hour)
	b := newBrowser(t, s)
	b.post("/api/channels", map[string]string{"name": "oslo", "relay": w.Relay.URL + "\n" + second.Relay.URL + "\n", "secrecy": "soft"}, nil)
	home, _, err := s.home()
	if err != nil {
		t.Fatal(err)
	}
	if relays, err := home.Relays("oslo"); err != nil || len(relays) != 2 {
		t.Fatalf("the channel the page made is on %+v (%v), not on the two relays given", relays, err)
	}
	var inv inviteReply
	b.post("/api/channels/oslo/invite", map[string]string{"role": "participant"}, &inv)
	bob := w.Home("Bob")
	if _, err := bob.Join(w.Ctx, inv.Code, "oslo"); err != nil {
		t.Fatal(err)
	}
	var pending []client.PendingJoin
	b.get("/api/channels/oslo/pending", &pending)
	if len(pending) != 1 || pending[0].Name != "Bob" {
		t.Fatalf("pending %+v", pending)
	}
	b.post("/api/channels/oslo/refuse", map[string][]string{"names": {"Bob"}}, nil)
	b.get("/api/channels/oslo/pending", &pending)
	if len(pending) != 0 {
		t.Fatalf("pending after the refusal %+v", pending)
	}
	if c, body := b.do(http.MethodPost, "/api/channels/oslo/refuse", map[string][]string{"names": {"Bob"}}, nil); c != http.StatusBadRequest || !strings.Contains(string(body), "no pending join request") {
		t.Fatalf("refusing twice: %d %s", c, body)
	}
	if rep, err := bob.Sync(w.Ctx, "oslo"); err != nil || !rep.Pending {
		t.Fatalf("Bob after the refusal: %+v %v", rep, err)
	}

	// One of the two relays goes away: the talks go on, and the list says
	// which part of the channel is not reached.
	second.StopRelay()
	b.post("/api/channels/oslo/send", map[string]string{"compartment": "talks", "text": "for the publication"}, nil)
	var list []channelSummary
	b.get("/api/channels", &list)
	if len(list) != 1 || list[0].Relays != 2 || list[0].RelaysDown != 1 {
		t.Fatalf("with one relay of two away, the list says %+v", list)
	}
	var relays []client.RelayInfo
	b.get("/api/channels/oslo/relays", &relays)
	if len(relays) != 2 || !relays[0].Reachable || relays[1].Reachable {
		t.Fatalf("relays: %+v", relays)
	}
	c, file := b.do(http.MethodPost, "/api/channels/oslo/export", map[string]string{"recipients": ""}, nil)
	if c != http.StatusOK || !strings.Contains(string(file), "Convener: for the publication") {
		t.Fatalf("plain export of a soft channel: %d %q", c, file)
	}
}

// A closed window locks the home within minutes, whatever the idle lock
// says; an open live stream keeps it open; the page's own polling does
// not count as a person being there.
func TestClosedWindowLocks(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	advance := func(d time.Duration) { offset.Add(int64(d)) }
	// A home with a channel (pending), whose live stream stays open.
	w := parleytest.New(t, nil)
	org := w.Organizer("Convener", "oslo")
	s, err := Start(Options{Home: pendingHome(t, w, org, "Alice"), Passphrase: parleytest.Passphrase, Listen: "127.0.0.1:0", IdleLock: 10 * time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := newBrowser(t, s)
	locked := func() bool {
		_, _, err := s.home()
		return err != nil
	}
	waitLocked := func(want bool, why string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second) // the lock loop looks every second
		for locked() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: locked=%v", why, !want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	unlock := func() { b.post("/api/unlock", map[string]string{"passphrase": parleytest.Passphrase}, nil) }

	advance(presenceLock + time.Second)
	waitLocked(true, "no page for longer than the presence lock")

	unlock()
	streams := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for s.openStreams() != want {
			if time.Now().After(deadline) {
				t.Fatalf("open streams: %d, want %d", s.openStreams(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	_, stop := b.events("/api/channels/oslo/events")
	streams(1)
	advance(presenceLock + time.Second)
	time.Sleep(2 * time.Second)
	if locked() {
		t.Fatal("locked while a page held its live stream")
	}
	stop()
	streams(0)
	advance(presenceLock + time.Second)
	waitLocked(true, "the live stream closed")

	// Polls keep the window present but the person idle.
	unlock()
	poll := map[string]string{pollHeader: "1"}
	for range 11 {
		advance(time.Minute)
		if c, _ := b.do(http.MethodGet, "/api/channels", nil, poll); c != http.StatusOK && c != http.StatusLocked {
			t.Fatalf("poll: %d", c)
		}
	}
	waitLocked(true, "ten minutes of polls and no person")
	unlock()
	for range 11 {
		advance(time.Minute)
		b.get("/api/channels", nil)
	}
	time.Sleep(2 * time.Second)
	if locked() {
		t.Fatal("locked while a person used the page every minute")
	}
}
