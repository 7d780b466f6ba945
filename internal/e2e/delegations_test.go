package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDelegations runs talks between two sides as issue 17 asks, with
// real processes: a convener of the facilitators founds the channel
// under the every-side rule; each side has an organizer, a delegate and a
// mentor, admitted only once both sides' organizers approved; each side
// briefs itself alone; both delegates and the convener initial a draft; the convener
// exports the record, and a home that was never in the channel verifies
// it.
func TestDelegations(t *testing.T) {
	r := startRelay(t)
	convener := newHome(t, "Convener")
	orgA, orgB := newHome(t, "Organizer A"), newHome(t, "Organizer B")
	alice, bashir := newHome(t, "Alice"), newHome(t, "Bashir")
	mentorA, mentorB := newHome(t, "Mentor A"), newHome(t, "Mentor B")
	stranger := newHome(t, "Stranger")

	out := convener.must("channel", "create", "c", "--relay", r.url, "--side", "facilitators", "--quorum", "every-side")
	if !strings.Contains(out, "roster changes need an organizer of every side") {
		t.Fatalf("channel create: %s", out)
	}
	invite := func(h *home, role, side string) {
		t.Helper()
		code := convener.must("invite", "c", "--role", role, "--side", side)
		if _, err := h.run([]byte(code), "join", "-"); err != nil {
			t.Fatal(err)
		}
	}
	// While only the facilitators have an organizer, theirs suffices.
	invite(orgA, "organizer", "A")
	invite(orgB, "organizer", "B")
	if out := convener.must("admit", "c", "--all"); !strings.Contains(out, "admitted") || strings.Contains(out, "proposed") {
		t.Fatalf("admitting the sides' organizers: %s", out)
	}
	orgA.must("sync", "c")
	orgB.must("sync", "c")

	// From now on each side approves who enters the room.
	invite(alice, "participant", "A")
	invite(bashir, "participant", "B")
	invite(mentorA, "mentor", "A")
	invite(mentorB, "mentor", "B")
	out = convener.must("admit", "c", "--all")
	if !strings.Contains(out, "proposed admitting") || !strings.Contains(out, "waits for the approval of an organizer of side A and side B") {
		t.Fatalf("admitting under the every-side rule: %s", out)
	}
	if out := alice.must("sync", "c"); !strings.Contains(out, "waiting for an organizer to admit you") {
		t.Fatalf("Alice before the sides approve: %s", out)
	}
	if out := orgA.must("pending", "c"); !strings.Contains(out, "by Convener: admitting") || !strings.Contains(out, "Mentor B (mentor, side B, safety number "+safetyNumber(t, mentorB)) {
		t.Fatalf("side A's organizer sees: %s", out)
	}
	orgA.must("approve", "c")
	if _, err := orgA.run(nil, "approve", "c"); err == nil {
		t.Fatal("approved twice")
	}
	// One side's approval is not enough.
	convener.must("sync", "c")
	if out := alice.must("sync", "c"); !strings.Contains(out, "waiting for an organizer to admit you") {
		t.Fatalf("Alice after side A alone approved: %s", out)
	}
	orgB.must("approve", "c")
	convener.must("sync", "c")
	everyone := []*home{orgA, orgB, alice, bashir, mentorA, mentorB}
	for _, h := range everyone {
		h.must("sync", "c")
	}
	if out := orgB.must("read", "c"); !strings.Contains(out, "made by Convener, approved by") {
		t.Fatalf("side B's organizer's transcript: %s", out)
	}
	if out := mentorA.must("read", "c"); strings.Contains(out, "propos") {
		t.Fatalf("a mentor saw a proposal: %s", out)
	}
	members := mentorB.must("members", "c")
	for _, want := range []string{"Alice", "participant, side A", "Mentor A", "mentor, side A", "Organizer B", "organizer, side B"} {
		if !strings.Contains(members, want) {
			t.Fatalf("mentor B's members lack %q:\n%s", want, members)
		}
	}

	// Each side briefs itself alone.
	alice.must("brief", "c", "--side", "A", "side A may give on the water clause")
	bashir.must("brief", "c", "--side", "B", "side B wants the timetable first")
	for _, h := range everyone {
		h.must("sync", "c")
	}
	mustRead := func(h *home, want, refuse string) {
		t.Helper()
		out := h.must("read", "c")
		if !strings.Contains(out, want) || strings.Contains(out, refuse) {
			t.Fatalf("read shows the wrong side's briefing (want %q, refuse %q):\n%s", want, refuse, out)
		}
	}
	mustRead(mentorA, "side A may give", "side B wants")
	mustRead(mentorB, "side B wants", "side A may give")
	mustRead(orgA, "side A may give", "side B wants")
	mustRead(bashir, "side B wants", "side A may give")

	// A draft, revised by the other side, initialled by every side.
	dir := t.TempDir()
	v1, v2 := filepath.Join(dir, "v1.txt"), filepath.Join(dir, "v2.txt")
	os.WriteFile(v1, []byte("Article 1. The parties recognise each other.\n"), 0o600)
	os.WriteFile(v2, []byte("Article 1. The parties recognise each other.\nArticle 2. The boundary follows the river.\n"), 0o600)
	alice.must("draft", "put", "c", "declaration", v1)
	bashir.must("sync", "c")
	bashir.must("draft", "put", "c", "declaration", v2)
	for _, h := range []*home{alice, bashir, convener} {
		h.must("draft", "initial", "c", "declaration", "--version", "2", "--yes")
	}
	if _, err := mentorA.run(nil, "draft", "initial", "c", "declaration", "--version", "2", "--yes"); err == nil {
		t.Fatal("a mentor initialled a draft of the talks")
	}
	rec := filepath.Join(dir, "declaration.agreement.json")
	if _, err := alice.run(nil, "draft", "agreement", "c", "declaration", "--export", rec, "--yes"); err == nil {
		t.Fatal("a member who is not the founder exported the record")
	}
	out = convener.must("draft", "agreement", "c", "declaration", "--export", rec, "--yes")
	if !strings.Contains(out, "initialled by Alice (side A), Bashir (side B), Convener (side facilitators)") {
		t.Fatalf("export: %s", out)
	}

	// A home that was never in the channel verifies it, and sees who
	// signed, with their safety numbers.
	out = stranger.must("agreement", "verify", rec)
	for _, h := range []struct {
		home       *home
		name, side string
	}{{alice, "Alice", "A"}, {bashir, "Bashir", "B"}} {
		sn := safetyNumber(t, h.home)
		if !strings.Contains(out, "initialled by "+h.name+", side "+h.side+", safety number "+sn) {
			t.Fatalf("verify does not show %s's initial with safety number %s:\n%s", h.name, sn, out)
		}
	}
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	// A mentor's name, a briefing and the other version are not in it:
	// the record holds the agreed text and its signatories, nothing else.
	for _, leak := range []string{"Mentor A", "Mentor B", "water clause", "timetable", "Organizer A"} {
		if strings.Contains(string(data), leak) {
			t.Errorf("the record holds %q", leak)
		}
	}
	edited := filepath.Join(dir, "edited.json")
	os.WriteFile(edited, []byte(strings.Replace(string(data), "the river", "the hills", 1)), 0o600)
	if _, err := stranger.run(nil, "agreement", "verify", edited); err == nil || !strings.Contains(err.Error(), "not a valid agreement record") {
		t.Fatalf("an edited record: %v", err)
	}
}

// safetyNumber is what h's whoami shows.
func safetyNumber(t *testing.T, h *home) string {
	t.Helper()
	out := h.must("whoami")
	i := strings.Index(out, "safety number: ")
	if i < 0 {
		t.Fatalf("whoami: %s", out)
	}
	return strings.TrimSpace(strings.SplitN(out[i+len("safety number: "):], "\n", 2)[0])
}
