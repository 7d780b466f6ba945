package crypto

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestAccessList(t *testing.T) {
	c := newChannel(t, PolicyHard)
	c.admit("Alice", RoleParticipant)
	mentor := c.admit("Mentor", RoleMentor)
	admin := c.admin
	cur := AccessListFor(c.roster, admin.SigningPublicKey())
	if err := cur.Sign(admin, admin); err != nil {
		t.Fatal(err)
	}
	if err := cur.VerifyGenesis(); err != nil {
		t.Fatal(err)
	}
	raw, _ := cur.Marshal()
	parsed, err := ParseAccessList(raw)
	if err != nil {
		t.Fatal(err)
	}
	// Three members, four keys: the count is told only to its bucket,
	// and no entry says what its key may do.
	if parsed.Retention != 72*time.Hour || len(parsed.Entries) != 4 || !parsed.IsAdmin(admin.SigningPublicKey()) {
		t.Fatalf("round trip: %+v", parsed)
	}
	if parsed.Entry(mentor.keys.SigningPublicKey()) == nil || parsed.Entry(c.org.keys.SigningPublicKey()) == nil {
		t.Fatal("a member is not listed")
	}
	if parsed.IsAdmin(c.org.keys.SigningPublicKey()) {
		t.Fatal("the organizer's pseudonym is the administration key")
	}
	if len(raw) != 94+40*4+64+64 {
		t.Fatalf("access list of %d bytes", len(raw))
	}

	fresh := newAdmin(t, c.roster)
	next := func(f func(*AccessList), signer, self *AdminKey) *AccessList {
		a := AccessListFor(c.roster, self.SigningPublicKey())
		a.Version = cur.Version + 1
		f(a)
		if err := a.Sign(signer, self); err != nil {
			t.Fatal(err)
		}
		return a
	}
	nothing := func(*AccessList) {}
	if err := next(nothing, admin, admin).VerifyNext(cur); err != nil {
		t.Fatal(err)
	}
	if err := next(nothing, admin, fresh).VerifyNext(cur); err != nil {
		t.Fatal(err)
	}
	tampered := next(nothing, admin, fresh)
	tampered.Entries[1].Expires = testNow
	noProof := next(nothing, admin, admin)
	noProof.Admin = fresh.SigningPublicKey()

	cases := []struct {
		name string
		a    *AccessList
		want error
	}{
		{"replayed", cur, ErrRollback},
		{"stale", next(func(a *AccessList) { a.Version = cur.Version - 1 }, admin, admin), ErrRollback},
		{"signed by another key", next(nothing, fresh, fresh), ErrUnknownSigner},
		{"tampered", tampered, ErrBadSignature},
		{"new key that did not sign", noProof, ErrBadSignature},
		{"another channel", next(func(a *AccessList) { a.Channel[0] ^= 1 }, admin, admin), ErrWrongChannel},
	}
	for _, tc := range cases {
		if err := tc.a.VerifyNext(cur); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	genesisByAnother := AccessListFor(c.roster, admin.SigningPublicKey())
	genesisByAnother.Sign(fresh, admin)
	if err := genesisByAnother.VerifyGenesis(); !errors.Is(err, ErrUnknownSigner) {
		t.Fatalf("genesis signed by another key: %v", err)
	}
	if err := cur.Sign(fresh, admin); err != nil {
		t.Fatal(err)
	}
	if err := cur.Sign(admin, fresh); !errors.Is(err, ErrUnknownSigner) {
		t.Fatalf("signing with an administration key the list does not name: %v", err)
	}
}

// TestAccessListBuckets: the relay learns the member count only to a
// bucket, and the order of the keys says nothing of the roster's.
func TestAccessListBuckets(t *testing.T) {
	c := newChannel(t, PolicySoft)
	for _, tc := range [][2]int{{1, 4}, {4, 4}, {5, 8}, {9, 16}} {
		n, want := tc[0], tc[1]
		for len(c.roster.Members) < n {
			c.admit("M"+string(rune('a'+len(c.roster.Members))), RoleParticipant)
		}
		a := AccessListFor(c.roster, c.admin.SigningPublicKey())
		if len(a.Entries) != want {
			t.Errorf("%d members: %d entries, want %d", n, len(a.Entries), want)
		}
		for i := 1; i < len(a.Entries); i++ {
			if bytes.Compare(a.Entries[i-1].Key, a.Entries[i].Key) >= 0 {
				t.Fatal("entries not in key order")
			}
		}
	}
}

func newAdmin(t testing.TB, r *Roster) *AdminKey {
	t.Helper()
	s := NewEpochSecrets(r)
	k, err := s.AdminKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
