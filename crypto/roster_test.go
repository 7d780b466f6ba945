package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestRosterRoundTrip(t *testing.T) {
	c := newChannel(t, PolicySoft)
	c.admit("Alice", RoleParticipant)
	c.admit("Mentor ✓", RoleMentor)
	raw, err := c.roster.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRoster(raw)
	if err != nil {
		t.Fatal(err)
	}
	if r.Hash() != c.roster.Hash() || len(r.Members) != 3 || r.Members[2].Name != "Mentor ✓" || r.Policy != PolicySoft {
		t.Fatalf("round trip changed the roster")
	}
	for i := 0; i < len(raw); i += 97 {
		if _, err := ParseRoster(raw[:i]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: %v", i, err)
		}
	}
	if _, err := ParseRoster(append(raw, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func TestRosterChecks(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	cur := c.roster
	outsider := newPerson(t, "Outsider", RoleOrganizer)

	signed := func(f func(r *Roster), signer *ChannelKeys) *Roster {
		r := cur.Next(testNow)
		f(r)
		if err := r.Sign(signer); err != nil {
			t.Fatal(err)
		}
		return r
	}
	nothing := func(*Roster) {}

	good := signed(nothing, c.org.keys)
	if err := good.VerifyNext(cur); err != nil {
		t.Fatalf("good next roster: %v", err)
	}

	tampered := signed(nothing, c.org.keys)
	tampered.Members[1].Name = "Mallory"

	old := signed(func(r *Roster) { r.Version = cur.Version - 1 }, c.org.keys)
	sameVersion := signed(func(r *Roster) { r.Version = cur.Version; r.Prev = cur.Prev; r.Issued = r.Issued.Add(1e9) }, c.org.keys)
	badPrev := signed(func(r *Roster) { r.Prev[0] ^= 1 }, c.org.keys)
	skip := signed(func(r *Roster) { r.Version += 2 }, c.org.keys)
	byParticipant := signed(nothing, alice.keys)
	byOutsider := signed(nothing, outsider.keys)
	otherChannel := signed(func(r *Roster) { r.Channel[0] ^= 1 }, c.org.keys)
	noOrganizer := signed(func(r *Roster) { r.Members[0].Role = RoleParticipant }, c.org.keys)
	badBinding := signed(func(r *Roster) { r.Members[1].Binding[0] ^= 1 }, c.org.keys)
	swappedIdentity := signed(func(r *Roster) { r.Members[1].Identity = *outsider.id.Public() }, c.org.keys)
	lowOrder := signed(func(r *Roster) {
		// A binding can be made for any key, so only the low-order check
		// stops this one.
		r.Members[1].Keys.DHKey = make([]byte, 32)
		r.Members[1].Binding = alice.id.Bind(r.Channel, &r.Members[1].Keys)
	}, c.org.keys)
	overCap := signed(func(r *Roster) {
		for len(r.Members) <= PolicyHard.MemberCap() {
			p := newPerson(t, fmt.Sprint("P", len(r.Members)), RoleParticipant)
			pub := p.keys.Public()
			r.Members = append(r.Members, Member{Identity: *p.id.Public(), Name: p.name, Role: RoleParticipant, Keys: *pub, Binding: p.id.Bind(r.Channel, pub), KEMSig: p.keys.SignKEM(r.Channel)})
		}
	}, c.org.keys)

	cases := []struct {
		name string
		r    *Roster
		want error
	}{
		{"tampered after signing", tampered, ErrBadSignature},
		{"rolled back", old, ErrRollback},
		{"replayed", cur, ErrDuplicate},
		{"forked at the same version", sameVersion, ErrFork},
		{"forked from another history", badPrev, ErrFork},
		{"skipped a version", skip, ErrGap},
		{"signed by a participant", byParticipant, ErrUnknownSigner},
		{"signed by an outsider", byOutsider, ErrUnknownSigner},
		{"another channel", otherChannel, ErrWrongChannel},
		{"no organizer left", noOrganizer, ErrPolicy},
		{"bad binding", badBinding, ErrBadSignature},
		{"identity swapped under a pseudonym", swappedIdentity, ErrBadSignature},
		{"low-order DH key", lowOrder, ErrLowOrder},
		{"over the hard cap", overCap, ErrPolicy},
	}
	for _, tc := range cases {
		if err := tc.r.VerifyNext(cur); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestRosterGenesisAndInvited(t *testing.T) {
	c := newChannel(t, PolicyHard)
	if err := c.roster.VerifyGenesis(); err != nil {
		t.Fatal(err)
	}
	outsider := newPerson(t, "Outsider", RoleOrganizer)
	// Someone else claiming the same channel id cannot sign its genesis.
	fake, err := NewGenesisRoster(outsider.id, "Organizer", outsider.keys, PolicyHard, testNow)
	if err != nil {
		t.Fatal(err)
	}
	fake.Channel, fake.Nonce = c.roster.Channel, c.roster.Nonce
	fake.Sign(outsider.keys)
	if err := fake.VerifyGenesis(); !errors.Is(err, ErrWrongChannel) {
		t.Fatalf("genesis under someone else's channel id: %v", err)
	}

	alice := c.admit("Alice", RoleParticipant) // checks VerifyInvited
	inv := c.invite(RoleParticipant)
	inv.Organizer = outsider.keys.ID()
	if err := c.roster.VerifyInvited(inv, alice.keys.ID()); !errors.Is(err, ErrUnknownSigner) {
		t.Fatalf("roster not signed by the inviting organizer: %v", err)
	}
	inv = c.invite(RoleParticipant)
	if err := c.roster.VerifyInvited(inv, outsider.keys.ID()); !errors.Is(err, ErrNotMember) {
		t.Fatalf("roster without the invitee: %v", err)
	}
}

// A roster names the channel's relays: they survive the encoding, pass
// to the next version, and more than MaxRelays or a repeated one is
// refused.
func TestRosterRelays(t *testing.T) {
	org := newPerson(t, "Convener", RoleOrganizer)
	relays := []string{"wss://127.0.0.1:7443/#pin=sha256:A", "wss://127.0.0.1:7444/#pin=sha256:B"}
	r, err := NewGenesisRoster(org.id, org.name, org.keys, PolicyHard, testNow, relays...)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseRoster(raw)
	if err != nil || !slices.Equal(back.Relays, relays) || back.VerifyGenesis() != nil {
		t.Fatalf("relays after the round trip: %v %v", back, err)
	}
	next := back.Next(testNow)
	if !slices.Equal(next.Relays, relays) {
		t.Fatalf("the next version names %v", next.Relays)
	}
	next.Relays[0] = "changed"
	if back.Relays[0] != relays[0] {
		t.Fatal("editing the next version changed the one it came from")
	}
	for name, bad := range map[string][]string{
		"six relays": {"a", "b", "c", "d", "e", "f"},
		"a repeat":   {"a", "a"},
		"empty":      {""},
	} {
		r2 := back.Next(testNow)
		r2.Relays = bad
		if err := r2.Sign(org.keys); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

// A member's side travels in the roster and its signature covers it: a
// side moved after signing fails, and a side too long or not UTF-8 is
// malformed. The sealed roster is padded for the longest sides too, so
// its size says nothing of them.
func TestRosterSides(t *testing.T) {
	c := newChannel(t, PolicyHard)
	c.admit("Alice", RoleParticipant)
	c.admit("Bob", RoleParticipant)
	next := c.roster.Next(testNow)
	next.Members[1].Side, next.Members[2].Side = "A", "B"
	if err := next.Sign(c.org.keys); err != nil {
		t.Fatal(err)
	}
	raw, err := next.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRoster(raw)
	if err != nil || r.Members[1].Side != "A" || r.Members[2].Side != "B" || r.Members[0].Side != "" {
		t.Fatalf("sides after a round trip: %v", err)
	}
	if got := r.Sides(); !slices.Equal(got, []string{"A", "B"}) {
		t.Fatalf("Sides() = %q", got)
	}
	moved := *r
	moved.Members = slices.Clone(r.Members)
	moved.Members[2].Side = "A"
	if err := moved.VerifyNext(c.roster); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a side moved after signing: %v", err)
	}
	for _, side := range []string{strings.Repeat("s", MaxSideLen+1), "\xff"} {
		bad := c.roster.Next(testNow)
		bad.Members[1].Side = side
		if err := bad.Sign(c.org.keys); !errors.Is(err, ErrMalformed) {
			t.Errorf("side %q: %v, want ErrMalformed", side, err)
		}
	}
	// The sealed roster's padding holds a roster whose every member has
	// the longest name and side, so its size says nothing of either.
	long := c.roster.Next(testNow)
	long.Relays = nil
	for i := range MaxRelays {
		long.Relays = append(long.Relays, fmt.Sprintf("%d", i)+strings.Repeat("u", MaxRelayURLLen-1))
	}
	for i := range long.Members {
		long.Members[i].Name = strings.Repeat("n", MaxNameLen)
		long.Members[i].Side = strings.Repeat("s", MaxSideLen)
	}
	if err := long.Sign(c.org.keys); err != nil {
		t.Fatal(err)
	}
	raw, err = long.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	padded := padRoster(make([]byte, SignatureSize), make([]byte, 32), raw, len(long.Members))
	if _, _, back, err := unpadRoster(padded); err != nil || !bytes.Equal(back, raw) {
		t.Fatalf("the longest roster of %d members does not fit its padding (%d bytes for %d): %v", len(long.Members), len(padded), len(raw), err)
	}
}
