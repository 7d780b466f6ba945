package client_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
)

// A side name that could disguise itself on screen is refused, as a
// display name is, before any invite is made.
func TestSideNamesAreChecked(t *testing.T) {
	w := newWorld(t, nil)
	org := w.Organizer("Convener", "c")
	for _, side := range []string{"A\x1b[2J", "B\u202e", "C\nD", string(make([]byte, crypto.MaxSideLen+1))} {
		if code, err := org.InviteToSide(w.Ctx, "c", crypto.RoleParticipant, side, time.Hour, 0); err == nil {
			t.Errorf("side %q accepted: %s", side, code)
		}
	}
	if _, err := org.InviteToSide(w.Ctx, "c", crypto.RoleParticipant, "facilitators", time.Hour, 0); err != nil {
		t.Fatal(err)
	}
}

// Through a real relay: a side's briefing reaches that side's members,
// mentor included, shown as that side's; the other side and an organizer
// of no side see nothing of it, not even a line about it; nothing of it
// is at rest in a readable form.
func TestSideBriefingsEndToEnd(t *testing.T) {
	w := newWorld(t, nil)
	org := w.Organizer("Convener", "c")
	alice := w.JoinSide(org, "c", "Alice", crypto.RoleParticipant, "A")
	mentorA := w.JoinSide(org, "c", "Elder A", crypto.RoleMentor, "A")
	bashir := w.JoinSide(org, "c", "Bashir", crypto.RoleParticipant, "B")
	mentorB := w.JoinSide(org, "c", "Elder B", crypto.RoleMentor, "B")
	for _, h := range []*client.Client{alice, mentorA, bashir, mentorB} {
		texts(t, h, "c")
	}
	const said = "we can give on the water clause"
	if err := alice.Send(w.Ctx, "c", crypto.Side, said); err != nil {
		t.Fatal(err)
	}
	if err := mentorA.Send(w.Ctx, "c", crypto.Side, "hold until Thursday"); err != nil {
		t.Fatal(err)
	}
	if err := org.Send(w.Ctx, "c", crypto.Side, "x"); err == nil {
		t.Fatal("an organizer of no side posted side briefings")
	}
	for _, h := range []*client.Client{mentorA, alice} {
		texts(t, h, "c")
		entries, err := h.Read("c")
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(entries, func(e client.Entry) bool { return e.Text == said })
		if i < 0 || entries[i].Kind != client.KindSideBriefing || entries[i].Side != "A" || entries[i].Sender != "Alice" {
			t.Fatalf("side A's member %d sees %+v", slices.Index([]*client.Client{mentorA, alice}, h), entries)
		}
	}
	for _, h := range []*client.Client{bashir, mentorB, org} {
		lines := texts(t, h, "c")
		for _, l := range lines {
			if strings.Contains(l, "water") || strings.Contains(l, "Thursday") || strings.Contains(l, "rejected") || strings.Contains(l, "could not") {
				t.Fatalf("outside side A: %q", lines)
			}
		}
	}
	if found := w.Sweep(said, "hold until Thursday"); len(found) > 0 {
		t.Fatalf("side briefings at rest in %v", found)
	}
}
