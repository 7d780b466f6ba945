package client_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
)

// requestJoin makes a home for name that asks, with an invite from
// inviter, to join channel "c" on side with role.
func requestJoin(t *testing.T, w *world, inviter *client.Client, name string, role crypto.Role, side string) *client.Client {
	t.Helper()
	h := w.Home(name)
	code, err := inviter.InviteToSide(w.Ctx, "c", role, side, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Join(w.Ctx, code, "c"); err != nil {
		t.Fatal(err)
	}
	return h
}

// mustWait checks that a roster change waits for approvals, naming
// exactly the sides still needed.
func mustWait(t *testing.T, err error, sides ...string) {
	t.Helper()
	var w *client.AwaitingApprovalError
	if !errors.As(err, &w) || !slices.Equal(w.Sides, sides) || w.Queued != nil {
		t.Fatalf("got %v, want a proposal waiting for sides %q", err, sides)
	}
	if !strings.Contains(err.Error(), "parley approve c") {
		t.Fatalf("the message does not say how to approve: %v", err)
	}
}

func names(t *testing.T, h *client.Client) []string {
	t.Helper()
	texts(t, h, "c")
	ms, err := h.Members("c")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func hasLine(lines []string, sub string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, sub) })
}

// Through a real relay: a facilitator founder under the every-side rule
// with an organizer and a mentor for each of sides A and B. An
// admission by one side waits, as a proposal the other organizers see
// and approve with one command, and goes out once every side has; a
// mentor never sees a proposal; a side removes its own member alone; a
// proposal overtaken by another change cannot be approved and its
// maker's client drops it, giving the join request back; a proposal of
// more than one message's size (a roster of 13 and more) goes through.
func TestQuorumAdmission(t *testing.T) {
	w := newWorld(t, nil)
	conv := w.Home("Convener")
	if err := conv.CreateChannelWithRule(w.Ctx, "c", "facilitators", crypto.QuorumEverySide, w.Relay.URL, crypto.PolicySoft); err != nil {
		t.Fatal(err)
	}
	if rule, err := conv.Rule("c"); err != nil || rule != "every-side" {
		t.Fatalf("rule %q %v", rule, err)
	}
	// Only the facilitators have an organizer yet: theirs is enough.
	orgA := w.JoinSide(conv, "c", "Organizer A", crypto.RoleOrganizer, "A")

	// Now side A has an organizer: admitting B's needs A's approval.
	orgB := requestJoin(t, w, conv, "Organizer B", crypto.RoleOrganizer, "B")
	_, err := conv.Admit(w.Ctx, "c", []string{"Organizer B"}, false)
	mustWait(t, err, "A")
	if err := conv.Remove(w.Ctx, "c", "Organizer A"); err == nil || !strings.Contains(err.Error(), "still waits for approval") {
		t.Fatalf("a second change while one waits: %v", err)
	}
	if lines := texts(t, orgA, "c"); !hasLine(lines, "Convener proposes admitting Organizer B (organizer, side B") {
		t.Fatalf("organizer A was not told of the proposal: %q", lines)
	}
	ps, err := orgA.Proposals("c")
	if err != nil || len(ps) != 1 || ps[0].Maker != "Convener" || len(ps[0].Added) != 1 || ps[0].Added[0].Name != "Organizer B" ||
		ps[0].Added[0].SafetyNumber == "" || !slices.Equal(ps[0].Missing, []string{"A"}) {
		t.Fatalf("organizer A's pending proposals: %+v %v", ps, err)
	}
	if _, err := conv.Approve(w.Ctx, "c", 0); err == nil {
		t.Fatal("the maker approved its own proposal")
	}
	p, err := orgA.Approve(w.Ctx, "c", 0)
	if err != nil || p.Version != ps[0].Version || len(p.Missing) != 0 {
		t.Fatalf("approving: %+v %v", p, err)
	}
	lines := texts(t, conv, "c") // collects the approval, sends the change
	if !hasLine(lines, "Organizer A approved your proposal") || !hasLine(lines, "every side approved your proposal") {
		t.Fatalf("the maker's transcript: %q", lines)
	}
	if rep, err := orgB.Sync(w.Ctx, "c"); err != nil || rep.Pending {
		t.Fatalf("organizer B after approval: %+v %v", rep, err)
	}
	if got := names(t, orgA); !slices.Contains(got, "Organizer B") {
		t.Fatalf("organizer A's roster: %q", got)
	}
	if lines := texts(t, orgA, "c"); !hasLine(lines, "made by Convener, approved by Organizer A") {
		t.Fatalf("the approvals are not shown: %q", lines)
	}

	// A mentor each; from now on every addition needs all three sides.
	mentorA := requestJoin(t, w, orgA, "Elder A", crypto.RoleMentor, "A")
	_, err = orgA.Admit(w.Ctx, "c", []string{"Elder A"}, false)
	mustWait(t, err, "facilitators", "B")
	texts(t, orgB, "c")
	if _, err := orgB.Approve(w.Ctx, "c", 0); err != nil {
		t.Fatal(err)
	}
	if p, err := conv.Approve(w.Ctx, "c", 0); err != nil || len(p.Missing) != 0 {
		t.Fatalf("the last approval: %+v %v", p, err)
	}
	texts(t, orgA, "c")
	if rep, err := mentorA.Sync(w.Ctx, "c"); err != nil || rep.Pending {
		t.Fatalf("mentor A: %+v %v", rep, err)
	}
	alice := requestJoin(t, w, orgA, "Alice", crypto.RoleParticipant, "A")
	_, err = orgA.Admit(w.Ctx, "c", []string{"Alice"}, false)
	mustWait(t, err, "facilitators", "B")
	for _, h := range []*client.Client{orgB, conv} {
		texts(t, h, "c")
		if _, err := h.Approve(w.Ctx, "c", 0); err != nil {
			t.Fatal(err)
		}
	}
	texts(t, orgA, "c")
	if rep, err := alice.Sync(w.Ctx, "c"); err != nil || rep.Pending {
		t.Fatalf("alice: %+v %v", rep, err)
	}
	for _, l := range texts(t, mentorA, "c") {
		if strings.Contains(l, "propos") || strings.Contains(l, "approv") && !strings.Contains(l, "made by") {
			t.Fatalf("a mentor sees a proposal: %q", l)
		}
	}
	if got := names(t, mentorA); !slices.Contains(got, "Alice") {
		t.Fatalf("mentor A's roster: %q", got)
	}

	// A side removes its own member alone.
	if err := orgA.Remove(w.Ctx, "c", "Alice"); err != nil {
		t.Fatalf("side A removing its own member: %v", err)
	}
	if got := names(t, conv); slices.Contains(got, "Alice") {
		t.Fatalf("Alice still in the convener's roster: %q", got)
	}

	// B proposes its member; before anyone approves, another change (A
	// removes its mentor) goes out: B's proposal is for an old roster.
	bashir := requestJoin(t, w, orgB, "Bashir", crypto.RoleParticipant, "B")
	_, err = orgB.Admit(w.Ctx, "c", []string{"Bashir"}, false)
	mustWait(t, err, "facilitators", "A")
	texts(t, orgA, "c")
	if err := orgA.Remove(w.Ctx, "c", "Elder A"); err != nil {
		t.Fatal(err)
	}
	_, err = orgA.Approve(w.Ctx, "c", 0)
	if err == nil || !strings.Contains(err.Error(), "overtook it, or the relay delivered an old proposal") {
		t.Fatalf("approving an overtaken proposal: %v", err)
	}
	lines = texts(t, orgB, "c")
	if !hasLine(lines, "your proposal of roster version") || !hasLine(lines, "was dropped") {
		t.Fatalf("the maker of the overtaken proposal: %q", lines)
	}
	pending, err := orgB.Pending(w.Ctx, "c")
	if err != nil || len(pending) != 1 || pending[0].Name != "Bashir" {
		t.Fatalf("the join request did not come back: %+v %v", pending, err)
	}
	// Made again, approved, admitted.
	_, err = orgB.Admit(w.Ctx, "c", []string{"Bashir"}, false)
	mustWait(t, err, "facilitators", "A")
	for _, h := range []*client.Client{orgA, conv} {
		texts(t, h, "c")
		if _, err := h.Approve(w.Ctx, "c", 0); err != nil {
			t.Fatal(err)
		}
	}
	texts(t, orgB, "c")
	if rep, err := bashir.Sync(w.Ctx, "c"); err != nil || rep.Pending {
		t.Fatalf("bashir: %+v %v", rep, err)
	}

	// Nine more of side A at once: a proposal of several messages.
	var many []*client.Client
	for i := range 9 {
		many = append(many, requestJoin(t, w, orgA, fmt.Sprintf("Delegate %d", i+1), crypto.RoleParticipant, "A"))
	}
	_, err = orgA.Admit(w.Ctx, "c", nil, true)
	mustWait(t, err, "facilitators", "B")
	for _, h := range []*client.Client{orgB, conv} {
		texts(t, h, "c")
		ps, err := h.Proposals("c")
		if err != nil || len(ps) != 1 || len(ps[0].Added) != 9 {
			t.Fatalf("the large proposal: %+v %v", ps, err)
		}
		if _, err := h.Approve(w.Ctx, "c", ps[0].Version); err != nil {
			t.Fatal(err)
		}
	}
	texts(t, orgA, "c")
	got := names(t, bashir)
	if len(got) < 13 || !slices.Contains(got, "Delegate 9") {
		t.Fatalf("the roster after the large admission: %q", got)
	}
	if rep, err := many[8].Sync(w.Ctx, "c"); err != nil || rep.Pending {
		t.Fatalf("a delegate: %+v %v", rep, err)
	}
}
