package crypto

import (
	"errors"
	"strings"
	"testing"
)

// Under the every-side rule, adding a member needs an organizer of every
// side that has one, removing one only its own side's; the error names
// the side missing; an approval copied from an older proposal does not
// verify; an approval by a non-organizer is refused.
func TestQuorumEverySide(t *testing.T) {
	c := newChannel(t, PolicyHard)
	orgA := c.admitToSide("Organizer A", RoleOrganizer, "A")
	orgB := c.admitToSide("Organizer B", RoleOrganizer, "B")
	alice := c.admitToSide("Alice", RoleParticipant, "A")
	bashir := c.admitToSide("Bashir", RoleParticipant, "B")
	// The founder turns the rule on; from then on it governs.
	on := c.roster.Next(testNow)
	on.Quorum = QuorumEverySide
	if err := on.Sign(c.org.keys); err != nil {
		t.Fatal(err)
	}
	if err := on.VerifyNext(c.roster); err != nil {
		t.Fatalf("turning the rule on before it is in force: %v", err)
	}
	c.publish(on)
	cur := c.roster

	newcomer := newPerson(t, "Newcomer", RoleParticipant)
	pub := newcomer.keys.Public()
	added := cur.Next(testNow)
	added.Members = append(added.Members, Member{Identity: *newcomer.id.Public(), Name: newcomer.name, Side: "A", Role: RoleParticipant,
		Keys: *pub, Binding: newcomer.id.Bind(added.Channel, pub), KEMSig: newcomer.keys.SignKEM(added.Channel)})
	if err := added.Sign(orgA.keys); err != nil {
		t.Fatal(err)
	}
	err := added.VerifyNext(cur)
	if !errors.Is(err, ErrQuorum) || !strings.Contains(err.Error(), `side "B"`) {
		t.Fatalf("an addition signed by side A alone: %v, want ErrQuorum naming side B", err)
	}
	// A participant's approval does not count; it is refused.
	byParticipant := *added
	if err := byParticipant.Approve(bashir.keys); err != nil {
		t.Fatal(err)
	}
	if err := byParticipant.VerifyNext(cur); !errors.Is(err, ErrUnknownSigner) {
		t.Fatalf("approved by a participant: %v", err)
	}
	if err := added.Approve(orgB.keys); err != nil {
		t.Fatal(err)
	}
	if err := added.VerifyNext(cur); err != nil {
		t.Fatalf("approved by both sides: %v", err)
	}
	// An approval of that proposal, copied onto another (the relay
	// replaying an old approval), does not verify.
	other := cur.Next(testNow.Add(1e9))
	other.Remove(alice.keys.ID())
	other.Remove(bashir.keys.ID())
	if err := other.Sign(orgA.keys); err != nil {
		t.Fatal(err)
	}
	other.Approvals = added.Approvals
	if err := other.VerifyNext(cur); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("an approval replayed from another proposal: %v", err)
	}
	// Removing one's own side's member needs only that side.
	own := cur.Next(testNow)
	own.Remove(alice.keys.ID())
	if err := own.Sign(orgA.keys); err != nil {
		t.Fatal(err)
	}
	if err := own.VerifyNext(cur); err != nil {
		t.Fatalf("side A removing its own member: %v", err)
	}
	// Removing the other side's member needs that side.
	theirs := cur.Next(testNow)
	theirs.Remove(bashir.keys.ID())
	if err := theirs.Sign(orgA.keys); err != nil {
		t.Fatal(err)
	}
	if err := theirs.VerifyNext(cur); !errors.Is(err, ErrQuorum) || !strings.Contains(err.Error(), `side "B"`) {
		t.Fatalf("side A removing side B's member: %v", err)
	}
	// Changing a side, or a role, is an addition's kind of change.
	moved := cur.Next(testNow)
	moved.Members[len(moved.Members)-1].Side = "A"
	if err := moved.Sign(orgA.keys); err != nil {
		t.Fatal(err)
	}
	if err := moved.VerifyNext(cur); !errors.Is(err, ErrQuorum) {
		t.Fatalf("moving a member to another side: %v", err)
	}
	// A timer epoch needs nobody more.
	timer := cur.Next(testNow)
	if err := timer.Sign(orgA.keys); err != nil {
		t.Fatal(err)
	}
	if err := timer.VerifyNext(cur); err != nil {
		t.Fatalf("a timer epoch: %v", err)
	}
	// Turning the rule off is a change every side signs.
	off := cur.Next(testNow)
	off.Quorum = QuorumNone
	if err := off.Sign(orgB.keys); err != nil {
		t.Fatal(err)
	}
	if err := off.VerifyNext(cur); !errors.Is(err, ErrQuorum) || !strings.Contains(err.Error(), `side "A"`) {
		t.Fatalf("side B turning the rule off alone: %v", err)
	}
	// Approvals survive encoding, and are part of the hash.
	raw, err := added.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseRoster(raw)
	if err != nil || len(back.Approvals) != 1 || back.Hash() != added.Hash() || back.VerifyNext(cur) != nil {
		t.Fatalf("approvals after a round trip: %v", err)
	}
	stripped := *back
	stripped.Approvals = nil
	if stripped.Hash() == back.Hash() {
		t.Fatal("approvals are not part of the roster's hash")
	}
}

// VerifyProposal checks all VerifyNext does but the quorum, and says
// which sides an addition still lacks as approvals come in; it refuses
// a proposal for an older roster (overtaken, or replayed) as VerifyNext
// does.
func TestVerifyProposal(t *testing.T) {
	c := newChannel(t, PolicyHard)
	orgA := c.admitToSide("Organizer A", RoleOrganizer, "A")
	orgB := c.admitToSide("Organizer B", RoleOrganizer, "B")
	on := c.roster.Next(testNow)
	on.Quorum = QuorumEverySide
	if err := on.Sign(c.org.keys); err != nil {
		t.Fatal(err)
	}
	c.publish(on)
	cur := c.roster
	newcomer := newPerson(t, "Newcomer", RoleParticipant)
	pub := newcomer.keys.Public()
	added := cur.Next(testNow)
	added.Members = append(added.Members, Member{Identity: *newcomer.id.Public(), Name: newcomer.name, Side: "A", Role: RoleParticipant,
		Keys: *pub, Binding: newcomer.id.Bind(added.Channel, pub), KEMSig: newcomer.keys.SignKEM(added.Channel)})
	if err := added.Sign(orgA.keys); err != nil {
		t.Fatal(err)
	}
	// The founder belongs to no side: only A and B have organizers.
	missing, err := added.VerifyProposal(cur)
	if err != nil || strings.Join(missing, ",") != "B" {
		t.Fatalf("before approval: %v %v, want B missing", missing, err)
	}
	if err := added.Approve(orgB.keys); err != nil {
		t.Fatal(err)
	}
	if missing, err := added.VerifyProposal(cur); err != nil || len(missing) != 0 || added.VerifyNext(cur) != nil {
		t.Fatalf("after approval: %v %v", missing, err)
	}
	if p := added.Proposed(); len(p.Approvals) != 0 || len(added.Approvals) != 1 {
		t.Fatal("Proposed kept the approvals, or dropped them from the original")
	}
	// Once another change is in force, the proposal is for an old roster.
	timer := cur.Next(testNow)
	if err := timer.Sign(c.org.keys); err != nil {
		t.Fatal(err)
	}
	c.publish(timer)
	if _, err := added.VerifyProposal(c.roster); !errors.Is(err, ErrFork) {
		t.Fatalf("a proposal overtaken by another change: %v", err)
	}
}
