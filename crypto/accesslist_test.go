package crypto

import (
	"errors"
	"testing"
	"time"
)

func TestAccessList(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	mentor := c.admit("Mentor", RoleMentor)
	cur := AccessListFor(c.roster)
	if err := cur.Sign(c.org.keys); err != nil {
		t.Fatal(err)
	}
	if err := cur.VerifyGenesis(testNow); err != nil {
		t.Fatal(err)
	}
	raw, _ := cur.Marshal()
	parsed, err := ParseAccessList(raw)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Retention != 72*time.Hour || len(parsed.Entries) != 3 {
		t.Fatalf("round trip: %+v", parsed)
	}
	caps := parsed.Entry(mentor.keys.SigningPublicKey()).Caps
	if caps.CanRead(Talks) || caps.CanWrite(Talks) || !caps.CanWrite(Briefings) || caps.Has(CapAdmin) {
		t.Fatalf("mentor capabilities %04b", caps)
	}
	if pc := parsed.Entry(alice.keys.SigningPublicKey()).Caps; !pc.CanWrite(Talks) || pc.Has(CapAdmin) {
		t.Fatalf("participant capabilities %04b", pc)
	}

	next := func(f func(*AccessList), signer *ChannelKeys) *AccessList {
		a := AccessListFor(c.roster)
		a.Version = cur.Version + 1
		f(a)
		if err := a.Sign(signer); err != nil {
			t.Fatal(err)
		}
		return a
	}
	nothing := func(*AccessList) {}
	if err := next(nothing, c.org.keys).VerifyNext(cur, testNow); err != nil {
		t.Fatal(err)
	}
	tampered := next(nothing, c.org.keys)
	tampered.Entries[1].Caps |= CapAdmin

	// An organizer whose own key expired can no longer sign.
	expiredOrg := AccessListFor(c.roster)
	expiredOrg.Entries[0].Expires = testNow.Add(-time.Minute)
	expiredOrg.Sign(c.org.keys)

	cases := []struct {
		name string
		a    *AccessList
		cur  *AccessList
		want error
	}{
		{"replayed", cur, cur, ErrRollback},
		{"stale", next(func(a *AccessList) { a.Version = cur.Version - 1 }, c.org.keys), cur, ErrRollback},
		{"signed by a participant", next(nothing, alice.keys), cur, ErrUnknownSigner},
		{"tampered", tampered, cur, ErrBadSignature},
		{"another channel", next(func(a *AccessList) { a.Channel[0] ^= 1 }, c.org.keys), cur, ErrWrongChannel},
		{"signer expired", next(func(a *AccessList) { a.Version = cur.Version + 2 }, c.org.keys), expiredOrg, ErrUnknownSigner},
	}
	for _, tc := range cases {
		if err := tc.a.VerifyNext(tc.cur, testNow); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	genesisByParticipant := AccessListFor(c.roster)
	genesisByParticipant.Sign(alice.keys)
	if err := genesisByParticipant.VerifyGenesis(testNow); !errors.Is(err, ErrUnknownSigner) {
		t.Fatalf("genesis signed without admin: %v", err)
	}
}
