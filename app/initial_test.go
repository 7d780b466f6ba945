package app

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parley/client"
	"parley/crypto"
	"parley/internal/parleytest"
)

// initialWorld is channel "oslo" founded by the convener, with Alice
// (side A, the app's home) and Bashir (side B) admitted, and a draft of
// two versions.
func initialWorld(t *testing.T) (w *parleytest.World, org, bashir *client.Client, s *Server, b *browser) {
	w = parleytest.New(t, nil)
	org = w.Organizer("Convener", "oslo")
	bashir = w.JoinSide(org, "oslo", "Bashir", crypto.RoleParticipant, "B")
	s, dir := startApp(t, "Alice", time.Hour)
	w.Homes = append(w.Homes, dir)
	b = newBrowser(t, s)
	b.joinSideThroughPage(w, org, crypto.RoleParticipant, "A")
	for _, text := range []string{"Article 1.\n", "Article 1.\nArticle 2.\n"} {
		if _, err := org.PutDraft(w.Ctx, "oslo", "declaration", []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	b.post("/api/channels/oslo/sync", nil, nil)
	return w, org, bashir, s, b
}

// Through the app's API: initialling needs the warning acknowledged and
// the full hash; the initial reaches the other side; the record is the
// founder's to make, and the app says so to anyone else.
func TestInitialThroughTheApp(t *testing.T) {
	w, org, bashir, _, b := initialWorld(t)
	var drafts []client.DraftVersion
	b.get("/api/channels/oslo/drafts", &drafts)
	v2 := drafts[len(drafts)-1]
	if v2.Version != 2 {
		t.Fatalf("drafts: %+v", drafts)
	}
	if status, body := b.do("POST", "/api/channels/oslo/drafts/declaration/initial", map[string]any{"sha256": v2.SHA256}, nil); status != http.StatusBadRequest || !strings.Contains(string(body), "warning acknowledged") {
		t.Fatalf("an initial without the warning acknowledged: %d %s", status, body)
	}
	if status, _ := b.do("POST", "/api/channels/oslo/drafts/declaration/initial", map[string]any{"sha256": v2.SHA256[:16], "understood": true}, nil); status != http.StatusBadRequest {
		t.Fatalf("an initial of a hash prefix: %d", status)
	}
	var r map[string]any
	b.post("/api/channels/oslo/drafts/declaration/initial", map[string]any{"sha256": v2.SHA256, "understood": true}, &r)
	if r["status"] != "sent" || r["version"] != float64(2) {
		t.Fatalf("initial: %v", r)
	}
	if !slices.ContainsFunc(parleytest.Texts(t, bashir, "oslo"), func(l string) bool {
		return strings.Contains(l, "Alice: initialled declaration version 2") && strings.Contains(l, "for side A")
	}) {
		t.Fatal("side B did not receive side A's initial")
	}
	if _, err := bashir.InitialDraft(w.Ctx, "oslo", "declaration", "2"); err != nil {
		t.Fatal(err)
	}
	b.post("/api/channels/oslo/sync", nil, nil)
	b.get("/api/channels/oslo/drafts", &drafts)
	if got := drafts[len(drafts)-1].Initials; len(got) != 2 || got[0] != (client.DraftInitial{Name: "Alice", Side: "A"}) || got[1] != (client.DraftInitial{Name: "Bashir", Side: "B"}) {
		t.Fatalf("initials the page lists: %+v", got)
	}
	status, body := b.do("POST", "/api/channels/oslo/drafts/declaration/agreement", map[string]any{"understood": true}, nil)
	if status != http.StatusBadRequest || !strings.Contains(string(body), "only the channel's founder (Convener)") {
		t.Fatalf("a record asked of a home that is not the founder: %d %s", status, body)
	}
	// The founder's record holds both initials and verifies.
	if _, err := org.Sync(w.Ctx, "oslo"); err != nil {
		t.Fatal(err)
	}
	a, err := org.ExportAgreement("oslo", "declaration", "")
	if err != nil {
		t.Fatal(err)
	}
	file, _ := a.MarshalJSON()
	back, err := crypto.ParseAgreement(file)
	if err != nil || back.Verify() != nil || len(back.Initials) != 2 {
		t.Fatalf("the founder's record: %v", err)
	}
}

// In a real browser: the Initial button shows the warning and the full
// hash first, and signs only on "I understand".
func TestBrowserInitial(t *testing.T) {
	ctx, done := newPage(t)
	defer done()
	w := parleytest.New(t, nil)
	org := w.Organizer("Convener", "oslo")
	s, _ := startApp(t, "Alice", time.Hour)
	code, err := org.InviteToSide(w.Ctx, "oslo", crypto.RoleParticipant, "A", time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	joinInBrowser(t, ctx, s, code)
	if _, err := org.Admit(w.Ctx, "oslo", nil, true); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"Article 1.\n", "Article 1.\nArticle 2.\n"} {
		if _, err := org.PutDraft(w.Ctx, "oslo", "declaration", []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	drafts, err := org.Drafts("oslo")
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "open the drafts",
		click(`//nav//button[contains(., "oslo")]`),
		chromedp.WaitVisible("#compose"),
		click(`//div[@class="tabs"]/button[.="Drafts"]`),
		chromedp.WaitVisible(`//table//td[contains(., "version 2")]`),
		click(`//tr[contains(., "version 2")]//button[.="Initial…"]`),
		chromedp.WaitVisible(`#initial-panel`))
	panel := text(t, ctx, "#initial-panel")
	if !strings.Contains(panel, "NOT deniable") || !strings.Contains(panel, drafts[len(drafts)-1].SHA256) {
		t.Fatalf("the panel before signing: %q", panel)
	}
	screenshot(t, ctx, "app-initial")
	if _, err := org.Sync(w.Ctx, "oslo"); err != nil {
		t.Fatal(err)
	}
	if d, _ := org.Drafts("oslo"); len(d[len(d)-1].Initials) != 0 {
		t.Fatal("initialled before the person confirmed")
	}
	run(t, ctx, "initial", click(`//button[.="I understand: initial version 2"]`),
		chromedp.WaitVisible(`//tr[contains(., "version 2")]/td[@class="initials" and contains(., "Alice (side A)")]`))
	if _, err := org.Sync(w.Ctx, "oslo"); err != nil {
		t.Fatal(err)
	}
	d, err := org.Drafts("oslo")
	if err != nil || len(d[len(d)-1].Initials) != 1 || d[len(d)-1].Initials[0] != (client.DraftInitial{Name: "Alice", Side: "A"}) {
		t.Fatalf("the founder's drafts after the page initialled: %+v %v", d, err)
	}
}
