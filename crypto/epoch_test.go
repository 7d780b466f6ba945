package crypto

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestRemovedMemberReadsNothingNew(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	bob := c.admit("Bob", RoleParticipant)
	before, _ := alice.seal(t, Talks, 1, []byte("before removal"))
	mustOpen(t, bob, before, "before removal")

	prev := c.adminPublic()
	bundle := c.remove(bob)
	if _, _, err := bundle.Open(bob.keys, prev, bob.roster.IsOrganizer); !errors.Is(err, ErrNotMember) {
		t.Fatalf("removed member opening the new epoch: %v, want ErrNotMember", err)
	}
	// Every wrap of the new epoch, tried with Bob's key, fails.
	for _, w := range bundle.Wraps {
		if _, err := openWrap(bob.keys, bundle.Channel, bundle.Epoch, bundle.RosterHash, w.Sealed); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("removed member opening another's wrap: %v", err)
		}
	}
	after, _ := alice.seal(t, Talks, 1, []byte("after removal"))
	mustOpen(t, c.org, after, "after removal")
	// Bob still holds the old epoch's secrets; they open nothing new.
	if _, _, err := bob.open(t, after); !errors.Is(err, ErrWrongEpoch) {
		t.Fatalf("removed member, new epoch: %v, want ErrWrongEpoch", err)
	}
	h, err := alice.secrets.SenderDataKey().OpenHeader(c.roster.Channel, after)
	if err != nil {
		t.Fatal(err)
	}
	for _, comp := range []Compartment{Talks, Briefings} {
		old := *bob.secrets
		old.Epoch = h.Epoch // even pretending the old secret is the new one
		k, _ := old.SenderChain(comp, h.Sender)
		mk, _ := (&ReceiveChain{Key: k}).lookup(h.Counter)
		if _, err := openMessage(c.roster.Channel, h, after, mk, 1, PairKey{}); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("old %s secret on new message: %v", comp, err)
		}
	}
}

func TestKeyUpdateLocksOutOldKEMKey(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	stolen := alice.keys

	fresh, err := alice.keys.RotateKEM()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.ID() != stolen.ID() {
		t.Fatal("rotation changed the pseudonym")
	}
	next := c.roster.Next(testNow)
	m := next.Member(alice.keys.ID())
	m.Keys.KEMKey = fresh.Public().KEMKey
	// A KEM key its pseudonym did not sign is refused, even in a roster
	// an organizer signed: the swap the signature exists to stop.
	if err := next.Sign(c.org.keys); err != nil {
		t.Fatal(err)
	}
	if err := next.VerifyNext(c.roster); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a KEM key without its pseudonym's signature: %v, want ErrBadSignature", err)
	}
	m.KEMSig = fresh.SignKEM(next.Channel)
	if err := next.Sign(c.org.keys); err != nil {
		t.Fatal(err)
	}
	alice.keys = fresh
	bundle := c.publish(next)
	if _, _, err := bundle.Open(stolen, nil, c.org.roster.IsOrganizer); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("stolen pre-rotation key on the next epoch: %v, want ErrDecrypt", err)
	}
	env, _ := c.org.seal(t, Talks, 1, []byte("after rotation"))
	mustOpen(t, alice, env, "after rotation")
}

func TestEpochBundleChecks(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	mentor := c.admit("Mentor", RoleMentor)
	next := c.roster.Next(testNow)
	if err := next.Sign(c.org.keys); err != nil {
		t.Fatal(err)
	}
	prev := c.adminPublic()
	s := NewEpochSecrets(next)
	b, err := NewEpochBundle(next, s, c.org.keys, c.admin)
	if err != nil {
		t.Fatal(err)
	}
	ms, _, err := b.Open(mentor.keys, prev, mentor.roster.IsOrganizer)
	if err != nil {
		t.Fatal(err)
	}
	if ms.Talks != nil || ms.Admin != nil || ms.Briefings != s.Briefings || !bytes.Equal(ms.AdminPublic, s.AdminPublic) {
		t.Fatal("mentor's wrap holds the wrong secrets")
	}
	as, _, err := b.Open(alice.keys, prev, alice.roster.IsOrganizer)
	if err != nil || *as.Talks != *s.Talks || as.Admin != nil {
		t.Fatalf("participant's wrap: %v", err)
	}
	os, _, err := b.Open(c.org.keys, prev, c.org.roster.IsOrganizer)
	if err != nil || os.Admin == nil || *os.Admin != *s.Admin {
		t.Fatalf("organizer's wrap: %v", err)
	}
	// All wraps are the same size, decoys included: the relay cannot
	// spot the mentor or the organizer, or count beyond the bucket.
	if len(b.Wraps) != 4 {
		t.Fatalf("%d wraps for 3 members, want 4", len(b.Wraps))
	}
	for _, w := range b.Wraps {
		if len(w.Sealed) != len(b.Wraps[0].Sealed) {
			t.Fatal("wrap sizes differ by role")
		}
	}

	raw, _ := b.Marshal()
	reparse := func(f func(*EpochBundle)) *EpochBundle {
		x, err := ParseEpochBundle(raw)
		if err != nil {
			t.Fatal(err)
		}
		f(x)
		return x
	}
	resign := func(x *EpochBundle) {
		msg, _ := x.signedBytes()
		x.AdminSignature = c.admin.sign(labelEpochBundleAdmin, msg)
	}
	other := slices.IndexFunc(b.Wraps, func(w Wrap) bool { return w.Recipient != alice.keys.ID() })
	cases := []struct {
		name string
		b    *EpochBundle
		want error
	}{
		{"tampered wrap", reparse(func(x *EpochBundle) { x.Wraps[other].Sealed[1200] ^= 1 }), ErrBadSignature},
		{"tampered roster", reparse(func(x *EpochBundle) { x.SealedRoster[40] ^= 1 }), ErrBadSignature},
		{"other epoch", reparse(func(x *EpochBundle) { x.Epoch++ }), ErrBadSignature},
		{"dropped wrap", reparse(func(x *EpochBundle) { x.Wraps = x.Wraps[:2] }), ErrMalformed},
		// The administration key alone (any organizer of the epoch
		// before, or whoever took it) cannot change what the organizer
		// who made the epoch signed inside.
		{"wrap changed and re-signed outside", reparse(func(x *EpochBundle) { x.Wraps[other].Sealed[1200] ^= 1; resign(x) }), ErrBadSignature},
		{"roster hash changed and re-signed outside", reparse(func(x *EpochBundle) { x.RosterHash[0] ^= 1; resign(x) }), ErrDecrypt},
	}
	for _, tc := range cases {
		if _, _, err := tc.b.Open(alice.keys, prev, alice.roster.IsOrganizer); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A re-signed bundle whose wrap is moved to another epoch fails at
	// HPKE: the wrap is bound to channel, epoch and roster hash.
	mine := slices.IndexFunc(b.Wraps, func(w Wrap) bool { return w.Recipient == alice.keys.ID() })
	if _, err := openWrap(alice.keys, b.Channel, b.Epoch+1, b.RosterHash, b.Wraps[mine].Sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrap under another epoch: %v", err)
	}
	if _, err := openWrap(alice.keys, b.Channel, b.Epoch, [32]byte{}, b.Wraps[mine].Sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrap under another roster hash: %v", err)
	}
	// A bundle signed by someone other than the roster's signer.
	if _, err := NewEpochBundle(next, s, alice.keys, nil); !errors.Is(err, ErrUnknownSigner) {
		t.Fatalf("bundle by non-signer: %v", err)
	}
	// A member's own roster and bundle: no administration key of ours
	// signed it, and its inner signer is no organizer.
	mine2 := c.roster.Next(testNow)
	mine2.Sign(alice.keys)
	byAlice, err := NewEpochBundle(mine2, NewEpochSecrets(mine2), alice.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := byAlice.Open(alice.keys, prev, alice.roster.IsOrganizer); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("bundle by a member, checked by a member: %v", err)
	}
	if _, _, err := byAlice.Open(alice.keys, nil, alice.roster.IsOrganizer); !errors.Is(err, ErrUnknownSigner) {
		t.Fatalf("bundle by a member, checked by a newcomer: %v", err)
	}
}

func TestForgedBundleCannotFakeARemoval(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	// Anyone, the relay included, can make a bundle that leaves Alice
	// out. She must not take it for her removal: only the channel's
	// administration key signs one she believes.
	mallory := newPerson(t, "Mallory", RoleOrganizer)
	r, err := NewGenesisRoster(mallory.id, "Mallory", mallory.keys, PolicyHard, testNow)
	if err != nil {
		t.Fatal(err)
	}
	fake, err := NewEpochBundle(r, NewEpochSecrets(r), mallory.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	fake.Channel = c.roster.Channel
	if _, _, err := fake.Open(alice.keys, c.adminPublic(), alice.roster.IsOrganizer); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("bundle from an outsider: %v, want ErrBadSignature", err)
	}
	// A real removal is told apart: the epoch before's key signed it.
	bob := c.admit("Bob", RoleParticipant)
	prev := c.adminPublic()
	b := c.remove(alice)
	if _, _, err := b.Open(alice.keys, prev, alice.roster.IsOrganizer); !errors.Is(err, ErrNotMember) {
		t.Fatalf("removed: %v, want ErrNotMember", err)
	}
	_ = bob
}

func TestBundleWrapsMatchRoster(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	next := c.roster.Next(testNow)
	next.Sign(c.org.keys)
	b, err := NewEpochBundle(next, NewEpochSecrets(next), c.org.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.checkWrapsMatch(next); err != nil {
		t.Fatal(err)
	}
	// A member left without a wrap (a decoy in its place), or a count
	// that is not the roster's bucket: members notice.
	i := slices.IndexFunc(b.Wraps, func(w Wrap) bool { return w.Recipient == alice.keys.ID() })
	noAlice := *b
	noAlice.Wraps = slices.Clone(b.Wraps)
	noAlice.Wraps[i].Recipient[0] ^= 1
	if err := noAlice.checkWrapsMatch(next); !errors.Is(err, ErrMismatch) {
		t.Fatalf("a member without a wrap: %v, want ErrMismatch", err)
	}
	small := *b
	small.Wraps = b.Wraps[:1]
	if err := small.checkWrapsMatch(next); !errors.Is(err, ErrMismatch) {
		t.Fatalf("fewer wraps than the bucket: %v, want ErrMismatch", err)
	}
}

// TestBundleSizeIsTheBucket: bundles for 2, 3 and 4 members are the
// same size; the relay learns the bucket, not the count.
func TestBundleSizeIsTheBucket(t *testing.T) {
	c := newChannel(t, PolicyHard)
	sizes := map[int]int{}
	for n := 2; n <= 5; n++ {
		c.admit(string(rune('A'+n)), RoleParticipant)
		next := c.roster.Next(testNow)
		next.Sign(c.org.keys)
		b, err := NewEpochBundle(next, NewEpochSecrets(next), c.org.keys, nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := b.Marshal()
		sizes[len(next.Members)] = len(raw)
	}
	if sizes[2] != sizes[3] || sizes[3] != sizes[4] || sizes[5] <= sizes[4] {
		t.Fatalf("bundle sizes by member count: %v", sizes)
	}
}
