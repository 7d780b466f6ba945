package app

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parley/client"
	"parley/crypto"
	"parley/internal/parleytest"
)

// Under the every-side rule, through the app's API: an organizer of side
// B sees the convener's proposal with what it changes and who must still
// approve, approves it, and is told the truth about its own changes:
// proposed, not done, until the other side approves.
func TestQuorumThroughTheApp(t *testing.T) {
	w := parleytest.New(t, nil)
	org := w.Organizer("Convener", "oslo")
	orgA := w.JoinSide(org, "oslo", "OrgA", crypto.RoleOrganizer, "A")
	s, dir := startApp(t, "OrgB", time.Hour)
	w.Homes = append(w.Homes, dir)
	b := newBrowser(t, s)
	b.joinSideThroughPage(w, org, crypto.RoleOrganizer, "B")
	b.post("/api/channels/oslo/sync", nil, nil)
	if err := org.SetRule(w.Ctx, "oslo", crypto.QuorumEverySide); err != nil {
		t.Fatal(err)
	}
	dan := w.Home("Dan")
	code, err := org.InviteToSide(w.Ctx, "oslo", crypto.RoleParticipant, "A", time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dan.Join(w.Ctx, code, "oslo"); err != nil {
		t.Fatal(err)
	}
	_, err = org.Admit(w.Ctx, "oslo", nil, true)
	var waiting *client.AwaitingApprovalError
	if !errors.As(err, &waiting) {
		t.Fatalf("admitting Dan under the rule: %v", err)
	}

	var list []client.Proposal
	b.get("/api/channels/oslo/proposals", &list)
	if len(list) != 1 || list[0].Maker != "Convener" || !slices.Equal(list[0].Missing, []string{"A", "B"}) ||
		len(list[0].Added) != 1 || list[0].Added[0].Name != "Dan" || list[0].Added[0].SafetyNumber == "" {
		t.Fatalf("the proposals the page lists: %+v", list)
	}
	var r map[string]any
	b.post("/api/channels/oslo/approve", map[string]any{"version": list[0].Version}, &r)
	if r["status"] != "sent" || len(r["missing_sides"].([]any)) != 1 || r["missing_sides"].([]any)[0] != "A" {
		t.Fatalf("approve: %v", r)
	}
	if _, err := orgA.Approve(w.Ctx, "oslo", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Sync(w.Ctx, "oslo"); err != nil {
		t.Fatal(err)
	}
	if rep, err := dan.Sync(w.Ctx, "oslo"); err != nil || rep.Pending {
		t.Fatalf("Dan after both sides approved: %+v %v", rep, err)
	}

	// The page's own change to side A waits for A: the page says
	// "proposed", and withdrawing takes it back.
	b.post("/api/channels/oslo/sync", nil, nil)
	b.post("/api/channels/oslo/remove", map[string]string{"member": "Dan"}, &r)
	if r["status"] != "proposed" || r["missing_sides"].([]any)[0] != "A" {
		t.Fatalf("removing side A's member from side B: %v", r)
	}
	var members []client.Member
	b.get("/api/channels/oslo/members", &members)
	if !slices.ContainsFunc(members, func(m client.Member) bool { return m.Name == "Dan" }) {
		t.Fatal("Dan is gone before side A approved")
	}
	b.get("/api/channels/oslo/proposals", &list)
	if len(list) != 1 || !list[0].Mine {
		t.Fatalf("the page's own proposal: %+v", list)
	}
	b.post("/api/channels/oslo/withdraw", nil, nil)
	b.get("/api/channels/oslo/proposals", &list)
	if len(list) != 0 {
		t.Fatalf("after withdrawing: %+v", list)
	}
}

// In a real browser: the Organize tab lists the proposal, with the
// newcomer's safety number and the sides still missing, and one click
// approves it.
func TestBrowserApprove(t *testing.T) {
	ctx, done := newPage(t)
	defer done()
	w := parleytest.New(t, nil)
	org := w.Organizer("Convener", "oslo")
	w.JoinSide(org, "oslo", "OrgA", crypto.RoleOrganizer, "A")
	s, _ := startApp(t, "OrgB", time.Hour)
	code, err := org.InviteToSide(w.Ctx, "oslo", crypto.RoleOrganizer, "B", time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	joinInBrowser(t, ctx, s, code)
	if _, err := org.Admit(w.Ctx, "oslo", nil, true); err != nil {
		t.Fatal(err)
	}
	if err := org.SetRule(w.Ctx, "oslo", crypto.QuorumEverySide); err != nil {
		t.Fatal(err)
	}
	dan := w.Home("Dan")
	if code, err = org.InviteToSide(w.Ctx, "oslo", crypto.RoleParticipant, "A", time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := dan.Join(w.Ctx, code, "oslo"); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Admit(w.Ctx, "oslo", nil, true); err == nil {
		t.Fatal("admitted without the sides")
	}
	id := dan.Whoami()
	run(t, ctx, "see the proposal",
		click(`//nav//button[contains(., "oslo")]`),
		chromedp.WaitVisible(`//div[@class="tabs"]/button[.="Organize"]`),
		click(`//div[@class="tabs"]/button[.="Organize"]`),
		chromedp.WaitVisible(`//section[@class="proposal"]//button[starts-with(., "Approve version")]`))
	shown := text(t, ctx, `//section[@class="proposal"]`)
	if !strings.Contains(shown, "admitting Dan (participant, side A, safety number "+id.SafetyNumber+")") || !strings.Contains(shown, "Waits for an organizer of side A, side B") {
		t.Fatalf("the proposal as the page shows it: %q", shown)
	}
	screenshot(t, ctx, "app-proposal")
	run(t, ctx, "approve", click(`//section[@class="proposal"]//button[starts-with(., "Approve version")]`),
		chromedp.WaitVisible(`//p[@id="notice" and contains(., "it still needs side A")]`))
	if _, err := org.Sync(w.Ctx, "oslo"); err != nil {
		t.Fatal(err)
	}
	list, err := org.Proposals("oslo")
	if err != nil || len(list) != 1 || !slices.Equal(list[0].ApprovedBy, []string{"OrgB"}) {
		t.Fatalf("the convener's proposal after the page approved: %+v %v", list, err)
	}
}
