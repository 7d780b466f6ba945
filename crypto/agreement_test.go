package crypto

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const agreementVectorFile = "testdata/agreement.json"

// agreementWorld is a channel of two sides, A and B, convened by a
// founder of neither, whose delegates initial a text.
type agreementWorld struct {
	c             *channel
	alice, bashir *person
	text          []byte
	agreed        AgreedText
}

func newAgreementWorld(t *testing.T) *agreementWorld {
	c := newChannel(t, PolicyHard)
	w := &agreementWorld{c: c, text: []byte("Article 1. The parties recognise each other.\n")}
	w.alice = c.admitToSide("Alice", RoleParticipant, "A")
	w.bashir = c.admitToSide("Bashir", RoleParticipant, "B")
	w.agreed = AgreedText{Channel: c.roster.Channel, Draft: "declaration", Version: 3, SHA256: sha256.Sum256(w.text)}
	return w
}

func (w *agreementWorld) initial(t *testing.T, p *person, side string) Initial {
	in, err := p.id.SignInitial(&w.agreed, p.name, side)
	if err != nil {
		t.Fatal(err)
	}
	return *in
}

// record makes the founder's record of the given initials.
func (w *agreementWorld) record(t *testing.T, initials ...Initial) *Agreement {
	a, err := NewAgreement(w.c.roster, w.agreed, w.text, []string{"B", "A"}, initials)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SignVouch(w.c.org.id); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAgreementRoundTrip(t *testing.T) {
	w := newAgreementWorld(t)
	a := w.record(t, w.initial(t, w.alice, "A"), w.initial(t, w.bashir, "B"))
	if err := a.Verify(); err != nil {
		t.Fatalf("a good record: %v", err)
	}
	file, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(file, []byte(`"text": "Article 1. The parties recognise each other.\n"`)) {
		t.Fatalf("the text is not readable in the file:\n%s", file)
	}
	back, err := ParseAgreement(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(); err != nil {
		t.Fatalf("the parsed record: %v", err)
	}
	again, _ := back.MarshalJSON()
	if !bytes.Equal(again, file) {
		t.Fatal("the parsed record writes a different file")
	}
	// A text that is not UTF-8 travels as base64, every byte kept.
	w.text = []byte{0xff, 0x00, 'x'}
	w.agreed.SHA256 = sha256.Sum256(w.text)
	bin := w.record(t, w.initial(t, w.alice, "A"), w.initial(t, w.bashir, "B"))
	file, _ = bin.MarshalJSON()
	back, err = ParseAgreement(file)
	if err != nil || !bytes.Equal(back.Text, w.text) || back.Verify() != nil {
		t.Fatalf("a binary text: %v", err)
	}
}

// The must-show negatives: a signature removed, a byte of the text
// changed, a signer from outside the channel; and the founder's place
// taken by someone else.
func TestAgreementRejections(t *testing.T) {
	w := newAgreementWorld(t)
	ia, ib := w.initial(t, w.alice, "A"), w.initial(t, w.bashir, "B")
	good := func() *Agreement { return w.record(t, ia, ib) }

	removed := good()
	removed.Initials = removed.Initials[:1]
	if err := removed.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("an initial removed after the founder signed: %v", err)
	}
	if err := w.record(t, ia).Verify(); !errors.Is(err, ErrNotInitialled) || !strings.Contains(err.Error(), `side "B"`) {
		t.Errorf("side B never initialled: %v", err)
	}

	changed := good()
	changed.Text = bytes.Clone(changed.Text)
	changed.Text[0] ^= 1
	if err := changed.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a byte of the text changed: %v", err)
	}
	file, _ := good().MarshalJSON()
	edited := bytes.Replace(file, []byte("Article 1."), []byte("Article 2."), 1)
	if _, err := ParseAgreement(edited); !errors.Is(err, ErrMalformed) {
		t.Errorf("a byte of the text changed in the file: %v", err)
	}
	// Changing the hash shown too leaves the initials and the
	// founder's signature over the old hash.
	rehashed := good()
	rehashed.Text = []byte("Article 2. The parties recognise each other.\n")
	rehashed.SHA256 = sha256.Sum256(rehashed.Text)
	if err := rehashed.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("text and hash changed together: %v", err)
	}

	// An outsider initials the same text as side B.
	outsider := newPerson(t, "Outsider", RoleParticipant)
	io := w.initial(t, outsider, "B")
	added := good()
	added.Initials = append(added.Initials, io)
	if err := added.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("an outsider's initial added: %v", err)
	}
	swapped := good()
	swapped.Initials[1] = io
	if err := swapped.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("an outsider's initial in place of side B's: %v", err)
	}
	// The outsider makes the whole record, vouching as founder.
	forged := w.record(t, ia, io)
	forged.FounderIdentity = *outsider.id.Public()
	if err := forged.SignVouch(outsider.id); err != nil {
		t.Fatal(err)
	}
	if err := forged.Verify(); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "not bound") {
		t.Errorf("vouched by an outsider's identity: %v", err)
	}
	// ... with a founder pseudonym of their own: another channel.
	forged.FounderKey = outsider.keys.SigningPublicKey()
	forged.FounderDH = outsider.keys.Public().DHKey
	forged.FounderBinding = outsider.id.Bind(w.agreed.Channel, outsider.keys.Public())
	if err := forged.SignVouch(outsider.id); err != nil {
		t.Fatal(err)
	}
	if err := forged.Verify(); !errors.Is(err, ErrWrongChannel) {
		t.Errorf("a founder pseudonym that does not derive the channel: %v", err)
	}
	if err := good().SignVouch(w.alice.id); !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("a member who is not the founder vouches: %v", err)
	}

	// An initial signed as one side and shown as another.
	resided := good()
	resided.Initials[1].Side = "A"
	if err := resided.SignVouch(w.c.org.id); err != nil {
		t.Fatal(err)
	}
	if err := resided.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("an initial moved to another side: %v", err)
	}
	// An initial of another version does not count for this one.
	other := w.agreed
	other.Version = 2
	old, _ := w.bashir.id.SignInitial(&other, "Bashir", "B")
	stale := w.record(t, ia, *old)
	if err := stale.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("an initial of version 2 in a record of version 3: %v", err)
	}
	// A safety number in the file that is not the identity's.
	file, _ = good().MarshalJSON()
	sn := w.alice.id.Public().SafetyNumber()
	lied := bytes.Replace(file, []byte(sn), []byte("00000"+sn[5:]), 1)
	if _, err := ParseAgreement(lied); !errors.Is(err, ErrMalformed) {
		t.Errorf("a safety number that is not the identity's: %v", err)
	}
}

// TestVectorsAgreement checks the record made from fixed seeds against
// testdata/agreement.json, the vector docs/protocol.md points to.
func TestVectorsAgreement(t *testing.T) {
	v := newVectorWorld(t)
	bashir, err := identityFromSeed(seeded(0x04, 64))
	if err != nil {
		t.Fatal(err)
	}
	bKeys, err := channelKeysFromSeed(seeded(0x14, channelKeysSize))
	if err != nil {
		t.Fatal(err)
	}
	v3 := v.v2.Next(v.v2.Issued.Add(3600e9))
	pub := bKeys.Public()
	v3.Members = append(v3.Members, Member{Identity: *bashir.Public(), Name: "Delegate B", Side: "B", Role: RoleParticipant,
		Keys: *pub, Binding: bashir.Bind(v3.Channel, pub), KEMSig: bKeys.SignKEM(v3.Channel)})
	if err := v3.Sign(v.orgKeys); err != nil {
		t.Fatal(err)
	}
	if err := v3.VerifyNext(v.v2); err != nil {
		t.Fatal(err)
	}
	text := []byte("Declaration of Principles\n\nArticle 1. The parties recognise each other.\n")
	agreed := AgreedText{Channel: v3.Channel, Draft: "declaration", Version: 2, SHA256: sha256.Sum256(text)}
	ia, err := v.alice.SignInitial(&agreed, "Delegate A", "A")
	if err != nil {
		t.Fatal(err)
	}
	ib, err := bashir.SignInitial(&agreed, "Delegate B", "B")
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAgreement(v3, agreed, text, []string{"A", "B"}, []Initial{*ia, *ib})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SignVouch(v.org); err != nil {
		t.Fatal(err)
	}
	file, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	file = append(file, '\n')
	if *update {
		if err := os.WriteFile(agreementVectorFile, file, 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join("testdata", "fuzz", "FuzzParseAgreement")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "vector-0"), fuzzSeed(file), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(agreementVectorFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, want) {
		t.Fatalf("the agreement record drifted from %s (regenerate only on purpose: go test ./crypto -run TestVectors -update)", agreementVectorFile)
	}
	parsed, err := ParseAgreement(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := parsed.Verify(); err != nil {
		t.Fatalf("the vector does not verify: %v", err)
	}
}
