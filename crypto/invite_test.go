package crypto

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestInviteCode(t *testing.T) {
	c := newChannel(t, PolicyHard)
	inv := c.invite(RoleMentor)
	inv.MoreRelays = []InviteRelay{{URL: "wss://127.0.0.1:7444/", Pin: [32]byte{2}}, {URL: "wss://127.0.0.1:7445/", Pin: [32]byte{3}}}
	code := inv.String()
	if !strings.HasPrefix(code, InvitePrefix) {
		t.Fatalf("code %q lacks prefix", code)
	}
	// Pasted with line breaks and in capitals, it still parses.
	mangled := "  " + strings.ToUpper(code[:40]) + "\n" + code[40:] + "\n"
	got, err := ParseInvite(mangled)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, inv) {
		t.Fatalf("round trip changed the invite:\n%+v\n%+v", got, inv)
	}
	// One mistyped character is caught by the checksum.
	i := len(InvitePrefix) + 30
	swap := byte('a')
	if code[i] == 'a' {
		swap = 'b'
	}
	typo := code[:i] + string(swap) + code[i+1:]
	if _, err := ParseInvite(typo); !errors.Is(err, ErrChecksum) {
		t.Fatalf("typo: %v, want ErrChecksum", err)
	}
	// The unused low bits of the last character may not vary.
	last := strings.IndexByte(inviteAlphabet, code[len(code)-1])
	twin := code[:len(code)-1] + string(inviteAlphabet[last^1])
	for _, bad := range []string{"", "parley-invite-", "hello", "parley-invite-!!!!", code[:len(code)-3], twin} {
		if _, err := ParseInvite(bad); err == nil {
			t.Fatalf("ParseInvite(%q) succeeded", bad)
		}
	}
	if inv.ExpiredAt(testNow) || !inv.ExpiredAt(testNow.Add(2*time.Hour)) {
		t.Fatal("invite expiry")
	}
	if TokenID(inv.Token()) == inv.Token() || inv.Token() == [32]byte(inv.Secret) {
		t.Fatal("token reveals the secret or its id the token")
	}
}

func TestJoinRequest(t *testing.T) {
	c := newChannel(t, PolicyHard)
	inv := c.invite(RoleParticipant)
	p := newPerson(t, "Alice", RoleParticipant)
	req, err := NewJoinRequest(inv, p.id, "Alice", p.keys)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := inv.SealJoinRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != SealedJoinSize {
		t.Fatalf("sealed join request of %d bytes", len(sealed))
	}
	if bytes.Contains(sealed, []byte("Alice")) || bytes.Contains(sealed, p.id.Public().SigningKey) {
		t.Fatal("sealed join request shows the name or identity")
	}
	got, err := inv.OpenJoinRequest(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Alice" || !got.Identity.Equal(p.id.Public()) || !got.Keys.Equal(p.keys.Public()) {
		t.Fatal("join request changed in transit")
	}

	other := c.invite(RoleParticipant)
	if _, err := other.OpenJoinRequest(sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("another invite's secret: %v", err)
	}
	tampered := bytes.Clone(sealed)
	tampered[100] ^= 1
	if _, err := inv.OpenJoinRequest(tampered); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := inv.OpenJoinRequest(sealed[:100]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
	// A request whose binding was made for another channel.
	req.Binding = p.id.Bind(ChannelID{9}, p.keys.Public())
	sealed, _ = inv.SealJoinRequest(req)
	if _, err := inv.OpenJoinRequest(sealed); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("binding for another channel: %v", err)
	}
	if _, err := NewJoinRequest(inv, p.id, strings.Repeat("x", MaxNameLen+1), p.keys); err == nil {
		t.Fatal("over-long name accepted")
	}
}

// Someone who intercepted the invite code can open the sealed request.
// Putting their own KEM key in it (so that every epoch would be wrapped
// to them, with the joiner's safety number still matching) fails: the
// joiner's pseudonym signed its KEM key.
func TestJoinRequestKEMKeySwapRefused(t *testing.T) {
	c := newChannel(t, PolicyHard)
	inv := c.invite(RoleParticipant)
	alice := newPerson(t, "Alice", RoleParticipant)
	attacker := newPerson(t, "Mallory", RoleParticipant)
	req, err := NewJoinRequest(inv, alice.id, "Alice", alice.keys)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := inv.SealJoinRequest(req)
	opened, err := inv.OpenJoinRequest(sealed)
	if err != nil {
		t.Fatal(err)
	}
	opened.Keys.KEMKey = attacker.keys.Public().KEMKey
	resealed, _ := inv.SealJoinRequest(opened)
	if _, err := inv.OpenJoinRequest(resealed); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a join request with a swapped KEM key: %v, want ErrBadSignature", err)
	}
	// Nor can the attacker sign for the pseudonym with its own keys.
	opened.KEMSig = attacker.keys.SignKEM(inv.Channel)
	resealed, _ = inv.SealJoinRequest(opened)
	if _, err := inv.OpenJoinRequest(resealed); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a swapped KEM key signed by another pseudonym: %v, want ErrBadSignature", err)
	}
}

func TestBurnNotice(t *testing.T) {
	c := newChannel(t, PolicyHard)
	older := c.admin
	c.admit("Alice", RoleParticipant) // a new epoch, a new administration key
	b, err := NewBurnNotice([]*AdminKey{c.admin, older}, c.roster.Channel, testNow)
	if err != nil {
		t.Fatal(err)
	}
	raw := b.Marshal()
	got, err := ParseBurnNotice(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(c.roster.Channel); err != nil {
		t.Fatal(err)
	}
	if !got.SignedBy(c.admin.SigningPublicKey()) || !got.SignedBy(older.SigningPublicKey()) {
		t.Fatal("a signer is missing")
	}
	// No member's pseudonym is among the signers: the notice does not
	// say who burned the channel.
	for _, m := range c.roster.Members {
		if got.SignedBy(m.Keys.SigningKey) {
			t.Fatalf("%s's pseudonym signs the notice", m.Name)
		}
	}
	if err := got.Verify(ChannelID{1}); !errors.Is(err, ErrWrongChannel) {
		t.Fatalf("other channel: %v", err)
	}
	tampered := bytes.Clone(raw)
	tampered[20] ^= 1
	if got, err := ParseBurnNotice(tampered); err != nil || !errors.Is(got.Verify(c.roster.Channel), ErrBadSignature) {
		t.Fatalf("tampered: %v", err)
	}
	// A relay that swaps in a key of its own as a signer, or drops one,
	// is caught.
	swapped := *got
	other, _ := GenerateChannelKeys()
	swapped.Signers = []ed25519.PublicKey{other.SigningPublicKey(), got.Signers[1]}
	if err := swapped.Verify(c.roster.Channel); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("swapped signer: %v", err)
	}
	if _, err := ParseBurnNotice(raw[:len(raw)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
	// A relay challenge answer is not a burn notice, though both come
	// from the same key.
	sig := c.admin.SignRelayChallenge([32]byte{}, c.roster.Channel, [32]byte(b.signedBytes()[:32]))
	forged := *got
	forged.Signatures = [][]byte{sig, got.Signatures[1]}
	if err := forged.Verify(c.roster.Channel); !errors.Is(err, ErrBadSignature) {
		t.Fatal("signature from another context verified as a burn notice")
	}
	if _, err := NewBurnNotice(nil, c.roster.Channel, testNow); err == nil {
		t.Fatal("a notice with no signer")
	}
}

func TestRelayChallenge(t *testing.T) {
	k, _ := GenerateChannelKeys()
	ch, pin, challenge := ChannelID{1}, [32]byte{2}, [32]byte{3}
	sig := k.SignRelayChallenge(pin, ch, challenge)
	if !VerifyRelayChallenge(k.SigningPublicKey(), pin, ch, challenge, sig) {
		t.Fatal("good response rejected")
	}
	if VerifyRelayChallenge(k.SigningPublicKey(), [32]byte{3}, ch, challenge, sig) {
		t.Fatal("response for another relay accepted")
	}
	if VerifyRelayChallenge(k.SigningPublicKey(), pin, ChannelID{2}, challenge, sig) {
		t.Fatal("response for another channel accepted")
	}
	if VerifyRelayChallenge(k.SigningPublicKey(), pin, ch, challenge, sig[:63]) {
		t.Fatal("short signature accepted")
	}
}

func TestIdentity(t *testing.T) {
	id, _ := GenerateIdentity()
	raw, _ := id.MarshalBinary()
	again, err := ParseIdentity(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Public().Equal(id.Public()) {
		t.Fatal("identity round trip changed keys")
	}
	pub, _ := id.Public().MarshalBinary()
	pp, err := ParsePublicIdentity(pub)
	if err != nil || !pp.Equal(id.Public()) {
		t.Fatalf("public identity round trip: %v", err)
	}
	sn := id.Public().SafetyNumber()
	if len(sn) != 35 || strings.Count(sn, " ") != 5 {
		t.Fatalf("safety number %q", sn)
	}
	other, _ := GenerateIdentity()
	if other.Public().SafetyNumber() == sn {
		t.Fatal("two identities share a safety number")
	}
	if _, err := ParseIdentity(raw[:10]); !errors.Is(err, ErrMalformed) {
		t.Fatal("short identity accepted")
	}
	ck, _ := GenerateChannelKeys()
	raw, _ = ck.MarshalBinary()
	ck2, err := ParseChannelKeys(raw)
	if err != nil || !ck2.Public().Equal(ck.Public()) {
		t.Fatalf("channel keys round trip: %v", err)
	}
}

func TestPairKeyLowOrder(t *testing.T) {
	a, _ := GenerateChannelKeys()
	b, _ := GenerateChannelKeys()
	ab, err := a.pairKey(ChannelID{1}, b.Public())
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := b.pairKey(ChannelID{1}, a.Public())
	if ab != ba {
		t.Fatal("pair keys differ between the two sides")
	}
	if other, _ := a.pairKey(ChannelID{2}, b.Public()); other == ab {
		t.Fatal("pair key does not depend on the channel")
	}
	// Low-order points of Curve25519 (RFC 7748 and the usual lists).
	for _, hexKey := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		pub := b.Public()
		pub.DHKey = mustHex(t, hexKey)
		if _, err := a.pairKey(ChannelID{1}, pub); !errors.Is(err, ErrLowOrder) {
			t.Errorf("low-order key %s: %v", hexKey[:8], err)
		}
		if err := checkDHKey(pub.DHKey); !errors.Is(err, ErrLowOrder) {
			t.Errorf("checkDHKey %s: %v", hexKey[:8], err)
		}
	}
	if err := checkDHKey(b.Public().DHKey); err != nil {
		t.Fatal(err)
	}
}
