package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"parley/client"
	"parley/crypto"
)

func TestTalksBriefingsAndRemoval(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Convener Nordlund")
	if err := org.CreateChannel(ctx, "Backchannel Oslo", w.Relay.URL, crypto.PolicyHard); err != nil {
		t.Fatal(err)
	}
	const ch = "Backchannel Oslo"
	alice := w.Join(org, ch, "Delegate Amsel", crypto.RoleParticipant)
	bob := w.Join(org, ch, "Delegate Borodin", crypto.RoleParticipant)
	mentor := w.Join(org, ch, "Mentor Mertens", crypto.RoleMentor)

	if err := alice.Send(ctx, ch, crypto.Talks, "water rights clause stays in article four"); err != nil {
		t.Fatal(err)
	}
	if err := org.Send(ctx, ch, crypto.Briefings, "progress report: clause four agreed in principle"); err != nil {
		t.Fatal(err)
	}
	if err := mentor.Send(ctx, ch, crypto.Talks, "mentors cannot do this"); err == nil || !strings.Contains(err.Error(), "mentor cannot post") {
		t.Fatalf("mentor sending talks: %v", err)
	}
	if err := mentor.Send(ctx, ch, crypto.Briefings, "push harder on the timetable"); err != nil {
		t.Fatal(err)
	}

	bobSees := texts(t, bob, ch)
	for _, want := range []string{
		"Delegate Amsel: water rights clause stays in article four",
		"Convener Nordlund: progress report: clause four agreed in principle",
		"Mentor Mertens: push harder on the timetable",
	} {
		if !contains(bobSees, want) {
			t.Fatalf("Bob does not see %q in %q", want, bobSees)
		}
	}
	mentorSees := texts(t, mentor, ch)
	for _, line := range mentorSees {
		if strings.Contains(line, "water rights") {
			t.Fatalf("the mentor sees the talks: %q", line)
		}
	}
	if !contains(mentorSees, "Convener Nordlund: progress report: clause four agreed in principle") {
		t.Fatalf("the mentor misses the briefing: %q", mentorSees)
	}

	// Bob is removed; he reads nothing sent after.
	if err := org.Remove(ctx, ch, "Delegate Borodin"); err != nil {
		t.Fatal(err)
	}
	if err := alice.Send(ctx, ch, crypto.Talks, "after the removal: a concession on the timetable"); err != nil {
		t.Fatal(err)
	}
	rep, err := bob.Sync(ctx, ch)
	if err != nil || !rep.Removed {
		t.Fatalf("removed member's sync: %+v %v", rep, err)
	}
	for _, line := range texts(t, bob, ch) {
		if strings.Contains(line, "concession") {
			t.Fatal("the removed member read a message sent after the removal")
		}
	}
	if err := bob.Send(ctx, ch, crypto.Talks, "still here?"); err == nil {
		t.Fatal("a removed member could send")
	}
	if got := texts(t, org, ch); !contains(got, "Delegate Amsel: after the removal: a concession on the timetable") ||
		!contains(got, "* Delegate Borodin is no longer a member") {
		t.Fatalf("organizer's view after removal: %q", got)
	}
	members, _ := alice.Members(ch)
	if len(members) != 3 {
		t.Fatalf("alice sees %d members after the removal", len(members))
	}

	// Nothing readable is on disk: no message, name or channel name.
	if found := w.Sweep("water rights", "progress report", "push harder", "concession",
		"Convener Nordlund", "Delegate Amsel", "Delegate Borodin", "Mentor Mertens", "Backchannel Oslo"); len(found) > 0 {
		t.Fatalf("plaintext at rest:\n%s", strings.Join(found, "\n"))
	}
	// The sweep itself works: a planted phrase is found.
	os.WriteFile(filepath.Join(w.Homes[0], "control"), []byte("x water rights x"), 0o600)
	if len(w.Sweep("water rights")) != 1 {
		t.Fatal("the at-rest sweep does not find a planted phrase")
	}
}

func TestInvitesAreSingleUse(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	org.CreateChannel(ctx, "talks", w.Relay.URL, crypto.PolicySoft)
	code, err := org.Invite(ctx, "talks", crypto.RoleParticipant, 3600e9, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := w.Home("A"), w.Home("B")
	if _, err := a.Join(ctx, code, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(ctx, code, ""); err == nil || !strings.Contains(err.Error(), "used already") {
		t.Fatalf("second join with one code: %v", err)
	}
	if list, _ := b.Channels(); len(list) != 0 {
		t.Fatal("a refused join left a channel behind")
	}
	if rep, err := a.Sync(ctx, "talks"); err != nil || !rep.Pending {
		t.Fatalf("pending joiner's sync: %+v %v", rep, err)
	}
	if err := a.Send(ctx, "talks", crypto.Talks, "hello"); err == nil || !strings.Contains(err.Error(), "not admitted") {
		t.Fatalf("sending before admission: %v", err)
	}
	pend, err := org.Pending(ctx, "talks")
	if err != nil || len(pend) != 1 || pend[0].Name != "A" {
		t.Fatalf("pending: %+v %v", pend, err)
	}
	if _, err := org.Admit(ctx, "talks", []string{"Nobody"}, false); err == nil {
		t.Fatal("admitting an unknown name succeeded")
	}
}

func TestWrongPassphraseChangesNothing(t *testing.T) {
	w := newWorld(t, nil)
	c := w.Home("Someone")
	c.Close()
	if _, err := client.Open(w.Homes[0], "not it"); !errors.Is(err, client.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if err := client.Init(w.Homes[0], "Again", passphrase); !errors.Is(err, client.ErrHomeExists) {
		t.Fatalf("init over a home: %v", err)
	}
	again, err := client.Open(w.Homes[0], passphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Whoami().Name != "Someone" {
		t.Fatal("identity changed")
	}
}

func TestLeaveAndOrganizerRemovesLeaver(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	org.CreateChannel(ctx, "c", w.Relay.URL, crypto.PolicyHard)
	a := w.Join(org, "c", "A", crypto.RoleParticipant)
	if err := org.Leave(ctx, "c"); err == nil {
		t.Fatal("the only organizer could leave")
	}
	if err := a.Leave(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if list, _ := a.Channels(); len(list) != 0 {
		t.Fatal("leaving kept the channel")
	}
	got := texts(t, org, "c")
	if !contains(got, "* A left the channel") || !contains(got, "* A is no longer a member") {
		t.Fatalf("organizer after a leave: %q", got)
	}
	if m, _ := org.Members("c"); len(m) != 1 {
		t.Fatalf("%d members after the leave", len(m))
	}
}

func TestBurnErasesEverywhere(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	org.CreateChannel(ctx, "ending", w.Relay.URL, crypto.PolicyHard)
	a := w.Join(org, "ending", "A", crypto.RoleParticipant)
	a.Send(ctx, "ending", crypto.Talks, "final text of the declaration")
	texts(t, org, "ending")
	if err := a.Burn(ctx, "ending"); err == nil {
		t.Fatal("a participant could burn")
	}
	if err := org.Burn(ctx, "ending"); err != nil {
		t.Fatal(err)
	}
	rep, err := a.Sync(ctx, "ending")
	if err != nil || !rep.Burned {
		t.Fatalf("member's sync after burn: %+v %v", rep, err)
	}
	for _, c := range []*client.Client{org, a} {
		if list, _ := c.Channels(); len(list) != 0 {
			t.Fatal("a burned channel is still listed")
		}
	}
}
