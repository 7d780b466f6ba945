package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parley/client"
	"parley/crypto"
	"parley/internal/parleytest"
)

// chromium returns the path of a Chromium to drive. CI installs the
// Debian package (.ci/run) and sets PARLEY_REQUIRE_BROWSER, so that a
// missing browser fails there instead of skipping.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("PARLEY_REQUIRE_BROWSER") != "" {
		t.Fatal("no Chromium on this machine (apt-get install -y chromium), and PARLEY_REQUIRE_BROWSER is set")
	}
	t.Skip("browser tests need Chromium (apt-get install -y chromium); .ci/run installs it")
	return ""
}

// newPage starts a headless Chromium with a fresh profile.
func newPage(t *testing.T) (context.Context, func()) {
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Flag("headless", true),
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// A bound for loaded machines (make test runs every package at once,
	// under the race detector), not an expectation. The timer cancels the
	// chromedp context itself (a derived context would not stop a step).
	stop := time.AfterFunc(8*time.Minute, cancelCtx)
	return ctx, func() { stop.Stop(); cancelCtx(); cancelAlloc() }
}

// screenshot keeps a picture of the page for docs/app.md when
// PARLEY_SCREENSHOTS names a folder.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("PARLEY_SCREENSHOTS")
	if dir == "" {
		return
	}
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(85)) // JPEG
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".jpg"), img, 0o644); err != nil {
		t.Fatal(err)
	}
}

// click clicks like a person: on the element's place on the screen,
// once the element has stopped moving. A click computed before a late
// redraw moved the element would land on whatever is there now.
func click(sel string) chromedp.Action[chromedp.Void] {
	find := "document.querySelector(" + jsString(sel) + ")"
	if strings.HasPrefix(sel, "/") {
		find = "document.evaluate(" + jsString(sel) + ", document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue"
	}
	where := "(() => { const n = " + find + "; if (!n) return \"\"; const r = n.getBoundingClientRect(); return [r.x, r.y, r.width, r.height].join(); })()"
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := chromedp.WaitVisible(sel)(ctx, tg); err != nil {
			return chromedp.Void{}, err
		}
		last := ""
		for range 30 {
			now, err := chromedp.Evaluate[string](where)(ctx, tg)
			if err != nil {
				return chromedp.Void{}, err
			}
			if now != "" && now == last {
				break
			}
			last = now
			time.Sleep(150 * time.Millisecond)
		}
		return chromedp.Click(sel)(ctx, tg)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// run takes each step in turn; a failure names the step and shows what
// the page said.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for i, step := range steps {
		var err error
		// The page redraws a view when data arrives (an admission, a new
		// member), which can replace a node between finding it and using
		// it: such a step is tried again, the rest fail at once.
		for attempt := 0; attempt < 20; attempt++ {
			done := make(chan error, 1)
			go func() { done <- chromedp.Do(ctx, step) }()
			select {
			case err = <-done:
			case <-time.After(2 * time.Minute): // a bound for loaded machines, not an expectation
				err = errors.New("still waiting after 2 minutes")
			}
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), "node") {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText"))
			t.Fatalf("%s, step %d: %v\nthe page says:\n%s", what, i+1, err, page)
		}
	}
}

// text reads an element's text. The page redraws a view when its data
// arrives, which can replace a node between finding it and reading it,
// so a read is tried again for a while.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	var err error
	for range 50 {
		var s string
		if s, err = chromedp.Run(ctx, chromedp.Text(sel)); err == nil {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("text of %s: %v", sel, err)
	return ""
}

// In a real browser, a participant with only the app joins from an
// invite, writes to the talks, receives a briefing live, and compares two
// draft versions side by side.
// startRedraw marks the tab on screen and redraws it, as the page does
// when this member's place in the channel changes; redrawn holds once
// the marked tab has been replaced, so that a check made after it reads
// the new tab and not the old one.
const (
	startRedraw = `document.getElementById("tab-body").dataset.beforeRedraw = "1", render(), true`
	redrawn     = `!document.querySelector("#tab-body[data-before-redraw]")`
)

func TestBrowserParticipant(t *testing.T) {
	ctx, done := newPage(t)
	defer done()
	w := parleytest.New(t, nil)
	org := w.Organizer("Convener", "oslo")
	s, _ := startApp(t, "Alice", time.Hour)
	code, err := org.Invite(w.Ctx, "oslo", crypto.RoleParticipant, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	joinInBrowser(t, ctx, s, code)
	if _, err := org.Admit(w.Ctx, "oslo", nil, true); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "open the channel",
		click(`//nav//button[contains(., "oslo")]`),
		chromedp.WaitVisible(`//h2[contains(., "participant")]`),
		chromedp.WaitVisible("#compose"))
	// The view redraws while Alice types (as when an admission arrives
	// live): nothing she types is lost, and she types on where she was.
	run(t, ctx, "type through a redraw",
		chromedp.Focus("#compose"),
		chromedp.KeyEvent("first half"),
		chromedp.Evaluate[chromedp.Void](startRedraw),
		chromedp.KeyEvent(" and the rest"),
		chromedp.Poll[chromedp.Void](redrawn+` && document.activeElement && document.activeElement.id === "compose" && document.activeElement.value === "first half and the rest" && document.activeElement.selectionStart === document.activeElement.value.length`, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Evaluate[chromedp.Void](`state.compose = document.getElementById("compose").value = "", true`))
	audience := text(t, ctx, "#audience")
	run(t, ctx, "write to the talks",
		chromedp.SendKeys("#compose", "our reading of article 4"),
		click(`//form//button[.="Send"]`),
		chromedp.WaitVisible(`//ul[@class="entries"]/li[contains(., "our reading of article 4")]`))
	if !strings.Contains(audience, "never by mentors") {
		t.Fatalf("the audience line before sending: %q", audience)
	}
	if !contains(parleytest.Texts(t, org, "oslo"), "Alice: our reading of article 4") {
		t.Fatal("the organizer did not get Alice's message")
	}
	if err := org.Send(w.Ctx, "oslo", crypto.Briefings, "<b>not bold</b> & progress"); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "a briefing arrives live",
		chromedp.WaitVisible(`//ul[@class="entries"]/li[contains(., "progress")]`))
	shown := text(t, ctx, `//ul[@class="entries"]/li[contains(., "progress")]`)
	if !strings.Contains(shown, "<b>not bold</b> & progress") {
		t.Fatalf("the briefing was not shown as text: %q", shown)
	}
	screenshot(t, ctx, "app-conversation")

	for _, text := range []string{"Article 1.\n", "Article 1.\nArticle 2.\n"} {
		if _, err := org.PutDraft(w.Ctx, "oslo", "declaration", []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	run(t, ctx, "compare two versions",
		click(`//div[@class="tabs"]/button[.="Drafts"]`),
		chromedp.WaitVisible(`//table//td[contains(., "version 2")]`),
		click(`//button[.="Compare"]`),
		chromedp.WaitVisible(`//div[@class="sbs"]`))
	added := text(t, ctx, `//div[@class="sbs"]/div[@class="add"]`)
	if strings.TrimSpace(added) != "Article 2." {
		t.Fatalf("side by side shows %q added", added)
	}
	screenshot(t, ctx, "app-drafts")
	// A new version being written survives a redraw too: its name, its
	// text, and the focus and caret in the text.
	run(t, ctx, "write a draft through a redraw",
		chromedp.SendKeys("#draft-name", "annex"),
		chromedp.Focus("#draft-text"),
		chromedp.KeyEvent("Article 3."),
		chromedp.Evaluate[chromedp.Void](startRedraw),
		chromedp.KeyEvent(" Done."),
		chromedp.Poll[chromedp.Void](redrawn+` && document.getElementById("draft-name").value === "annex" && document.activeElement && document.activeElement.id === "draft-text" && document.activeElement.value === "Article 3. Done." && document.activeElement.selectionStart === document.activeElement.value.length`, chromedp.WithPollingTimeout(time.Minute)))

	// After comparing safety numbers in person, Alice marks the
	// organizer verified; the home records it.
	run(t, ctx, "verify", click(`//div[@class="tabs"]/button[.="People"]`),
		chromedp.WaitVisible(`//tr[contains(., "Convener")]//code`),
		click(`//tr[contains(., "Convener")]//button[contains(., "mark verified")]`),
		chromedp.WaitVisible(`//tr[contains(., "Convener")]/td[contains(., "verified ✓")]`))
	home, _, err := s.home()
	if err != nil {
		t.Fatal(err)
	}
	if members, _ := home.Members("oslo"); !slices.ContainsFunc(members, func(m client.Member) bool { return m.Name == "Convener" && m.Verified }) {
		t.Fatalf("the home after the page marked Convener verified: %+v", members)
	}
}

// A page from another origin, open in the same browser as the app,
// tries to change the home: each request is refused, and nothing
// changes.
func TestBrowserOtherOriginRefused(t *testing.T) {
	ctx, done := newPage(t)
	defer done()
	s, _ := startApp(t, "Alice", time.Hour)
	var refused atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/result" {
			refused.Add(1)
			return
		}
		fmt.Fprintf(w, `<!doctype html><script>
const app = %q;
async function tryAll() {
  const attempts = [
    fetch(app + "/api/channels", {method: "POST", mode: "no-cors", credentials: "include", headers: {"Content-Type": "text/plain"}, body: '{"name":"evil","relay":"x"}'}),
    fetch(app + "/api/lock", {method: "POST", mode: "no-cors", credentials: "include"}),
  ];
  for (const a of attempts) { try { await a; } catch (e) {} }
  fetch("/result");
}
tryAll();
</script>`, s.Origin())
	})}
	go evil.Serve(ln)
	defer evil.Close()

	run(t, ctx, "log in to the app", chromedp.Navigate(s.URL()), chromedp.WaitVisible("#show-join"))
	run(t, ctx, "visit the other origin", chromedp.Navigate("http://"+ln.Addr().String()+"/"))
	deadline := time.Now().Add(time.Minute)
	for refused.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if refused.Load() == 0 {
		t.Fatal("the other origin's page did not run")
	}
	c, _, err := s.home()
	if err != nil {
		t.Fatal("the other origin locked the home")
	}
	if list, _ := c.Channels(); len(list) != 0 {
		t.Fatalf("the other origin made a channel: %+v", list)
	}
	// And the app's address under another name (DNS rebinding) shows
	// nothing of the app.
	_, port, _ := net.SplitHostPort(s.host)
	run(t, ctx, "rebinding", chromedp.Navigate("http://localhost:"+port+"/"))
	body := text(t, ctx, "body")
	if !strings.Contains(body, "wrong host") {
		t.Fatalf("the app under another name: %q", body)
	}
}

// In a real browser, an organizer who has only the app creates a
// channel, invites (code as text and as a QR code), admits the joiner
// after seeing their safety number, removes them, and burns the channel
// after typing its name.
func TestBrowserOrganizer(t *testing.T) {
	ctx, done := newPage(t)
	defer done()
	w := parleytest.New(t, nil)
	s, _ := startApp(t, "Convener", time.Hour)
	run(t, ctx, "create a channel", chromedp.Navigate(s.URL()),
		chromedp.WaitVisible("#show-create"),
		click("#show-create"),
		chromedp.SendKeys("#create-name", "oslo"),
		chromedp.SendKeys("#create-relay", w.Relay.URL),
		click(`//form//button[.="Create"]`),
		chromedp.WaitVisible(`//h2[contains(., "organizer")]`),
		click(`//div[@class="tabs"]/button[.="Organize"]`),
		chromedp.WaitVisible(`//button[.="Make an invite"]`),
		click(`//button[.="Make an invite"]`),
		chromedp.WaitVisible("#invite-code"),
		chromedp.WaitVisible("#invite-qr"))
	code := strings.TrimSpace(text(t, ctx, "#invite-code"))
	screenshot(t, ctx, "app-invite")
	// A redraw of the tab (an admission or a removal arriving) keeps the
	// code on screen.
	run(t, ctx, "redraw the Organize tab",
		chromedp.Evaluate[chromedp.Void](startRedraw),
		chromedp.Poll[chromedp.Void](redrawn, chromedp.WithPollingTimeout(time.Minute)))
	again, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("invite-code") || {}).textContent || ""`))
	if err != nil || strings.TrimSpace(again) != code {
		t.Fatalf("after a redraw the invite code reads %q (%v), not %q", again, err, code)
	}
	alice := w.Home("Alice")
	if _, err := alice.Join(w.Ctx, code, "oslo"); err != nil {
		t.Fatalf("joining with the code the page showed: %v", err)
	}
	safety := alice.Whoami().SafetyNumber
	run(t, ctx, "admit", click(`//div[@class="tabs"]/button[.="Organize"]`),
		chromedp.WaitVisible(`//div[@id="pending"]//td[contains(., "Alice")]`))
	if shown := text(t, ctx, `//div[@id="pending"]//tr[contains(., "Alice")]`); !strings.Contains(shown, safety) {
		t.Fatalf("the pending request shows %q, not Alice's safety number %s", shown, safety)
	}
	run(t, ctx, "admit", click(`//div[@id="pending"]//button[.="Admit"]`),
		chromedp.WaitVisible(`//p[@id="notice" and contains(., "Admitted Alice")]`))
	if rep, err := alice.Sync(w.Ctx, "oslo"); err != nil || rep.Pending {
		t.Fatalf("Alice after the page admitted her: %+v %v", rep, err)
	}

	// A second request, refused: it leaves the list and Bob is told
	// nothing.
	bob := w.Home("Bob")
	home, _, err := s.home()
	if err != nil {
		t.Fatal(err)
	}
	code2, err := home.Invite(w.Ctx, "oslo", crypto.RoleParticipant, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(w.Ctx, code2, "oslo"); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "refuse", click(`//div[@class="tabs"]/button[.="Organize"]`),
		click(`//div[@id="pending"]//tr[contains(., "Bob")]//button[.="Refuse"]`),
		chromedp.WaitVisible(`//p[@id="notice" and contains(., "Refused Bob")]`),
		chromedp.WaitVisible(`//div[@id="pending"]/p[.="No join requests waiting."]`))
	if rep, err := bob.Sync(w.Ctx, "oslo"); err != nil || !rep.Pending {
		t.Fatalf("Bob after the page refused him: %+v %v", rep, err)
	}

	run(t, ctx, "remove", click(`//div[@class="tabs"]/button[.="Organize"]`),
		chromedp.WaitReady(`//select[@id="remove-who"]/option[contains(., "Alice")]`),
		chromedp.WaitVisible(`//div[@id="pending"]/p[.="No join requests waiting."]`),
		click(`//button[.="Remove"]`),
		chromedp.WaitVisible(`//button[.="Yes, remove Alice"]`),
		click(`//button[.="Yes, remove Alice"]`),
		chromedp.WaitVisible(`//p[@id="notice" and contains(., "Removed Alice")]`))
	if got := parleytest.Texts(t, alice, "oslo"); !slices.ContainsFunc(got, func(l string) bool {
		return strings.Contains(l, "relay refuses") || strings.Contains(l, "you were removed")
	}) {
		t.Fatalf("Alice after the removal: %q", got)
	}
	run(t, ctx, "burn needs the name", click(`//div[@class="tabs"]/button[.="Organize"]`),
		chromedp.WaitVisible("#burn-confirm"),
		chromedp.SendKeys("#burn-confirm", "osl"),
		click(`//button[.="Burn"]`),
		chromedp.WaitVisible(`//p[@id="notice" and contains(., "type the channel's name")]`))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById("burn-confirm").value = "") === ""`)); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "burn with the name",
		chromedp.SendKeys("#burn-confirm", "oslo"),
		click(`//button[.="Burn"]`),
		chromedp.WaitVisible(`//p[@id="notice" and contains(., "Burned oslo")]`))
	c, _, err := s.home()
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := c.Channels(); len(list) != 0 {
		t.Fatalf("after the burn the home still lists %+v", list)
	}
}

// A mentor who has nothing but `parley app`: the page makes the
// identity, joins from the invite, shows the briefings only (never the
// talks, never a way to write to them), answers a briefing, and after
// Lock asks for the passphrase again.
func TestBrowserMentorFromNothing(t *testing.T) {
	ctx, done := newPage(t)
	defer done()
	w := parleytest.New(t, nil)
	org := w.Organizer("Convener", "oslo")
	home := filepath.Join(t.TempDir(), "home")
	s, err := Start(Options{Home: home, Listen: "127.0.0.1:0", IdleLock: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	code, err := org.Invite(w.Ctx, "oslo", crypto.RoleMentor, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "make the identity", chromedp.Navigate(s.URL()),
		chromedp.WaitVisible("#setup-name"),
		chromedp.SendKeys("#setup-name", "Mentor"),
		chromedp.SendKeys("#setup-pass", "a long passphrase"),
		chromedp.SendKeys("#setup-pass2", "a long passphrase"),
		click(`//button[.="Create my identity"]`),
		chromedp.WaitVisible("#show-join"))
	if !strings.Contains(text(t, ctx, "#me"), "Mentor · safety number") {
		t.Fatalf("header: %q", text(t, ctx, "#me"))
	}
	run(t, ctx, "join", click("#show-join"),
		chromedp.SendKeys("#join-code", code),
		click(`//form//button[.="Join"]`),
		chromedp.WaitVisible(`//nav//button[contains(., "oslo")]`))
	if _, err := org.Admit(w.Ctx, "oslo", nil, true); err != nil {
		t.Fatal(err)
	}
	if err := org.Send(w.Ctx, "oslo", crypto.Talks, "talks only for the room"); err != nil {
		t.Fatal(err)
	}
	if err := org.Send(w.Ctx, "oslo", crypto.Briefings, "a briefing for our mentors"); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "read as a mentor",
		click(`//nav//button[contains(., "oslo")]`),
		chromedp.WaitVisible(`//h2[contains(., "mentor")]`),
		chromedp.WaitVisible(`//ul[@class="entries"]/li[contains(., "a briefing for our mentors")]`),
		// Waited for, not read at once: an admission arriving live
		// redraws the tab.
		chromedp.WaitVisible(`//p[@id="audience" and contains(., "mentors included")]`))
	page := text(t, ctx, "#main")
	if strings.Contains(page, "talks only for the room") || strings.Contains(page, "Drafts") || strings.Contains(page, "Talks") {
		t.Fatalf("the mentor's page shows the talks or a way to them:\n%s", page)
	}
	run(t, ctx, "answer", chromedp.SendKeys("#compose", "push on the timetable"),
		click(`//form//button[.="Send"]`),
		chromedp.WaitVisible(`//ul[@class="entries"]/li[contains(., "push on the timetable")]`))
	if !contains(parleytest.Texts(t, org, "oslo"), "Mentor: push on the timetable") {
		t.Fatal("the organizer did not get the mentor's briefing")
	}
	screenshot(t, ctx, "app-mentor")
	run(t, ctx, "lock and unlock", click("#lock"),
		chromedp.WaitVisible("#passphrase"),
		chromedp.SendKeys("#passphrase", "a long passphrase"),
		click(`//button[.="Unlock"]`),
		chromedp.WaitVisible(`//nav//button[contains(., "oslo")]`))
	run(t, ctx, "leave", click(`//nav//button[contains(., "oslo")]`),
		chromedp.WaitVisible(`//h2[contains(., "mentor")]`),
		click(`//div[@class="tabs"]/button[.="Keep or leave"]`),
		chromedp.WaitVisible("#leave-confirm"),
		chromedp.SendKeys("#leave-confirm", "oslo"),
		click(`//button[.="Leave"]`),
		chromedp.WaitVisible(`//p[@id="notice" and contains(., "You left oslo")]`))
	if got := parleytest.Texts(t, org, "oslo"); !contains(got, "* Mentor left the channel") {
		t.Fatalf("the organizer after the mentor left: %q", got)
	}
}

// Left alone, the page notices that the home locked and shows the
// passphrase form; the passphrase brings the channels back.
func TestBrowserIdleLock(t *testing.T) {
	ctx, done := newPage(t)
	defer done()
	w := parleytest.New(t, nil)
	org := w.Organizer("Convener", "oslo")
	s, err := Start(Options{Home: pendingHome(t, w, org, "Alice"), Passphrase: parleytest.Passphrase, Listen: "127.0.0.1:0", IdleLock: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run(t, ctx, "open", chromedp.Navigate(s.URL()),
		chromedp.WaitVisible(`//ul[@id="channels"]//button[contains(., "oslo")]`))
	// The server locks as its idle timer does (TestIdleLock times that);
	// the page's own polling (every 15 s) finds the home locked, with
	// nobody touching the page.
	s.lock()
	run(t, ctx, "locks by itself", chromedp.WaitVisible("#passphrase"))
	run(t, ctx, "unlock", chromedp.SendKeys("#passphrase", parleytest.Passphrase),
		click(`//form[@id="unlock-form"]//button`),
		chromedp.WaitVisible(`//ul[@id="channels"]//button[contains(., "oslo")]`))
	// The hidden form keeps no passphrase while the home is open.
	if left, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("passphrase").value`)); err != nil || left != "" {
		t.Fatalf("the unlock form still holds %d characters (%v)", len(left), err)
	}
}

// joinInBrowser opens the app's one-time address in the page and joins
// with code there, as a person with only the app would.
func joinInBrowser(t *testing.T, ctx context.Context, s *Server, code string) {
	t.Helper()
	run(t, ctx, "open and join", chromedp.Navigate(s.URL()),
		chromedp.WaitVisible("#show-join"),
		click("#show-join"),
		chromedp.SendKeys("#join-code", code),
		click(`//form//button[.="Join"]`),
		chromedp.WaitVisible(`//nav//button[contains(., "oslo")]`))
}
