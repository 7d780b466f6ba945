package crypto

import (
	"errors"
	"testing"
)

// A side's briefings are read by that side's members, every role, and by
// nobody else: not the other side's mentor or participants, not an
// organizer of no side. The key schedule enforces it: another side's
// secret derives chains that open nothing.
func TestSideBriefings(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admitToSide("Alice", RoleParticipant, "A")
	mentorA := c.admitToSide("Mentor A", RoleMentor, "A")
	bashir := c.admitToSide("Bashir", RoleParticipant, "B")
	mentorB := c.admitToSide("Mentor B", RoleMentor, "B")
	sponsor := c.admitToSide("Sponsor", RoleOrganizer, "facilitators")

	env, err := alice.seal(t, Side, 1, []byte("we can give on the water clause"))
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, mentorA, env, "we can give on the water clause")
	for _, p := range []*person{bashir, mentorB, sponsor, c.org} {
		if _, _, err := p.open(t, env); !errors.Is(err, ErrNoCompartment) {
			t.Errorf("%s opening side A's briefing: %v, want ErrNoCompartment", p.name, err)
		}
	}
	// Side B's mentor, deriving Alice's chain with the only side secret
	// it holds, opens nothing.
	if mentorB.secrets.Side == nil || *mentorB.secrets.Side == *alice.secrets.Side {
		t.Fatal("side B's mentor holds no side secret, or side A's")
	}
	ck, _ := mentorB.secrets.SenderChain(Side, alice.keys.ID())
	mk, _ := (&ReceiveChain{Key: ck}).lookup(0)
	if _, err := openBody(c.roster.Channel, mentorB.secrets.SenderDataKey(), env, mk, 0, PairKey{}); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("side A's briefing under side B's secret: %v, want ErrDecrypt", err)
	}
	// The founding organizer belongs to no side: it cannot post there.
	if c.org.secrets.Side != nil {
		t.Fatal("a member of no side holds a side secret")
	}
	if _, err := c.org.seal(t, Side, 1, []byte("x")); !errors.Is(err, ErrNoCompartment) {
		t.Fatalf("a member of no side posting side briefings: %v", err)
	}
	// Side B's answer reaches side B only.
	reply, err := mentorB.seal(t, Side, 1, []byte("hold the line"))
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, bashir, reply, "hold the line")
	if _, _, err := mentorA.open(t, reply); !errors.Is(err, ErrNoCompartment) {
		t.Fatalf("side A's mentor opening side B's briefing: %v", err)
	}
}
