package crypto

import (
	"errors"
	"testing"
)

func TestRemovedMemberReadsNothingNew(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	bob := c.admit("Bob", RoleParticipant)
	before, _ := alice.seal(t, Talks, 1, []byte("before removal"))
	mustOpen(t, bob, before, "before removal")

	bundle := c.remove(bob)
	if _, _, err := bundle.Open(bob.keys, bob.roster.IsOrganizer); !errors.Is(err, ErrNotMember) {
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
	h, _ := ParseHeader(after)
	for _, comp := range []Compartment{Talks, Briefings} {
		old := *bob.secrets
		old.Epoch = h.Epoch // even pretending the old secret is the new one
		k, _ := old.SenderChain(comp, h.Sender)
		mk, _ := (&ReceiveChain{Key: k}).lookup(h.Counter)
		if _, err := openMessage(c.roster.Channel, after, mk, 1, PairKey{}); !errors.Is(err, ErrDecrypt) {
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
	if _, _, err := bundle.Open(stolen, c.org.roster.IsOrganizer); !errors.Is(err, ErrDecrypt) {
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
	s := NewEpochSecrets(next)
	b, err := NewEpochBundle(next, s, c.org.keys)
	if err != nil {
		t.Fatal(err)
	}
	ms, _, err := b.Open(mentor.keys, mentor.roster.IsOrganizer)
	if err != nil {
		t.Fatal(err)
	}
	if ms.Talks != nil || ms.Briefings != s.Briefings {
		t.Fatal("mentor's wrap holds the wrong secrets")
	}
	as, _, err := b.Open(alice.keys, alice.roster.IsOrganizer)
	if err != nil || *as.Talks != *s.Talks {
		t.Fatalf("participant's wrap: %v", err)
	}
	// All wraps are the same size: the relay cannot spot the mentor.
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
	cases := []struct {
		name string
		b    *EpochBundle
		want error
	}{
		{"tampered wrap", reparse(func(x *EpochBundle) { x.Wraps[1].Sealed[1200] ^= 1 }), ErrBadSignature},
		{"tampered roster", reparse(func(x *EpochBundle) { x.SealedRoster[40] ^= 1 }), ErrBadSignature},
		{"other epoch", reparse(func(x *EpochBundle) { x.Epoch++ }), ErrBadSignature},
		{"dropped wrap", reparse(func(x *EpochBundle) { x.Wraps = x.Wraps[:2] }), ErrBadSignature},
	}
	for _, tc := range cases {
		if _, _, err := tc.b.Open(alice.keys, alice.roster.IsOrganizer); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A re-signed bundle whose wrap is moved to another epoch fails at
	// HPKE: the wrap is bound to channel, epoch and roster hash.
	if _, err := openWrap(alice.keys, b.Channel, b.Epoch+1, b.RosterHash, b.Wraps[1].Sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrap under another epoch: %v", err)
	}
	if _, err := openWrap(alice.keys, b.Channel, b.Epoch, [32]byte{}, b.Wraps[1].Sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrap under another roster hash: %v", err)
	}
	// A bundle signed by someone other than the roster's signer.
	if _, err := NewEpochBundle(next, s, alice.keys); !errors.Is(err, ErrUnknownSigner) {
		t.Fatalf("bundle by non-signer: %v", err)
	}
	forged := reparse(func(x *EpochBundle) {})
	forged.Signer = alice.keys.SigningPublicKey()
	msg, _ := forged.signedBytes()
	forged.Signature = alice.keys.sign(labelEpochBundleSig, msg)
	if _, _, err := forged.Open(alice.keys, alice.roster.IsOrganizer); !errors.Is(err, ErrUnknownSigner) {
		t.Fatalf("bundle re-signed by a member: %v", err)
	}
}

func TestForgedBundleCannotFakeARemoval(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	// Anyone, the relay included, can sign a bundle that leaves Alice
	// out. She must not take it for her removal.
	mallory := newPerson(t, "Mallory", RoleOrganizer)
	r, err := NewGenesisRoster(mallory.id, "Mallory", mallory.keys, PolicyHard, testNow)
	if err != nil {
		t.Fatal(err)
	}
	fake, err := NewEpochBundle(r, NewEpochSecrets(r), mallory.keys)
	if err != nil {
		t.Fatal(err)
	}
	fake.Channel = c.roster.Channel
	msg, _ := fake.signedBytes()
	fake.Signature = mallory.keys.sign(labelEpochBundleSig, msg)
	if _, _, err := fake.Open(alice.keys, alice.roster.IsOrganizer); !errors.Is(err, ErrUnknownSigner) {
		t.Fatalf("bundle from an outsider: %v, want ErrUnknownSigner", err)
	}
}

func TestBundleWrapsMatchRoster(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	outsider := newPerson(t, "Outsider", RoleParticipant)
	next := c.roster.Next(testNow)
	next.Sign(c.org.keys)
	s := NewEpochSecrets(next)
	b, err := NewEpochBundle(next, s, c.org.keys)
	if err != nil {
		t.Fatal(err)
	}
	// The organizer's client, compromised, also wraps the epoch to a key
	// outside the roster; members notice.
	extra := Member{Role: RoleParticipant, Keys: *outsider.keys.Public()}
	w, err := s.wrapFor(&extra)
	if err != nil {
		t.Fatal(err)
	}
	b.Wraps = append(b.Wraps, Wrap{Recipient: outsider.keys.ID(), Sealed: w})
	msg, _ := b.signedBytes()
	b.Signature = c.org.keys.sign(labelEpochBundleSig, msg)
	if _, _, err := b.Open(alice.keys, alice.roster.IsOrganizer); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrap to a key outside the roster: %v, want ErrMismatch", err)
	}
}
