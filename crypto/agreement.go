package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// The initialled text is the one thing in Parley that is deliberately not
// deniable. When the sides agree on a version of a draft, each side's
// signatory signs that version's hash with their identity key (an
// Initial). The channel's founder, whose pseudonym derives the channel
// id, then vouches with their own identity key that those signatories
// are members of the channel on the sides they claim (an Agreement).
// Anyone holding the record can check it offline, without ever having
// been in the channel:
//
//   - every initial signs exactly this channel, draft, version and text
//     hash, and the signer's name and side;
//   - the founder's identity is bound to the pseudonym that derives the
//     channel id, so a record made up for another channel, or by someone
//     who is not the founder, does not verify;
//   - the founder's signature covers the policy, the sides that must
//     initial and the list of initials, so an initial removed or one added
//     from outside the channel breaks it;
//   - every side named has initialled.
//
// Nothing else is signed: no message, no roster. What a record proves
// beyond the text is that its signatories and its founder took part.

// MaxAgreedText is the largest text an agreement carries (as large as
// the largest draft).
const MaxAgreedText = 8 << 20

// MaxInitials bounds the initials of one agreement.
const MaxInitials = 16

// ErrNotInitialled means a side named by an agreement has not initialled
// it.
var ErrNotInitialled = errors.New("not initialled by every side")

// AgreedText names one version of a draft in a channel: what an initial
// signs.
type AgreedText struct {
	Channel ChannelID
	Draft   string
	Version uint32
	SHA256  [32]byte
}

func (t *AgreedText) marshal(b *cryptobyte.Builder) {
	b.AddBytes(t.Channel[:])
	addString8(b, t.Draft)
	b.AddUint32(t.Version)
	b.AddBytes(t.SHA256[:])
}

func (t *AgreedText) check() error {
	if !validText(t.Draft, MaxNameLen) || t.Version == 0 {
		return malformed("agreed text", "bad draft name or version")
	}
	return nil
}

// An Initial is one signatory's signature of an AgreedText, with the name
// and side they sign as.
type Initial struct {
	Identity  PublicIdentity
	Name      string
	Side      string
	Signature []byte
}

func initialMessage(t *AgreedText, name, side string) ([]byte, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if !validText(name, MaxNameLen) || !validText(side, MaxSideLen) {
		return nil, malformed("initial", "bad name or side")
	}
	var b cryptobyte.Builder
	t.marshal(&b)
	addString8(&b, name)
	addString8(&b, side)
	return b.Bytes()
}

// SignInitial signs t with the identity key, as name of side.
func (id *Identity) SignInitial(t *AgreedText, name, side string) (*Initial, error) {
	msg, err := initialMessage(t, name, side)
	if err != nil {
		return nil, err
	}
	return &Initial{
		Identity:  *id.Public(),
		Name:      name,
		Side:      side,
		Signature: ed25519.Sign(id.sig, append([]byte(labelAgreementInitial+"\x00"), msg...)),
	}, nil
}

// Verify checks that in is its identity's signature of t.
func (in *Initial) Verify(t *AgreedText) error {
	msg, err := initialMessage(t, in.Name, in.Side)
	if err != nil {
		return err
	}
	if !verify(in.Identity.SigningKey, labelAgreementInitial, msg, in.Signature) {
		return fmt.Errorf("initial of %s (side %s): %w", in.Name, in.Side, ErrBadSignature)
	}
	return nil
}

// An Agreement is the exported record of an initialled text.
type Agreement struct {
	AgreedText
	Text   []byte
	Policy Policy
	Quorum Quorum
	// Sides are the sides that must initial, sorted.
	Sides []string

	// The founder: the pseudonym (signing and DH key) and nonce that
	// derive the channel id, the identity bound to that pseudonym, and
	// that identity's name in the channel.
	FounderKey      ed25519.PublicKey
	FounderDH       []byte
	FounderNonce    [16]byte
	FounderName     string
	FounderIdentity PublicIdentity
	FounderBinding  []byte

	Initials []Initial
	// Vouch is the founder identity's signature over all of the above
	// but the text itself, which the hash stands for.
	Vouch []byte
}

func (a *Agreement) vouchMessage() ([]byte, error) {
	if err := a.checkShape(); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	a.AgreedText.marshal(&b)
	b.AddUint8(uint8(a.Policy))
	b.AddUint8(uint8(a.Quorum))
	b.AddUint8(uint8(len(a.Sides)))
	for _, s := range a.Sides {
		addString8(&b, s)
	}
	b.AddBytes(a.FounderKey)
	b.AddBytes(a.FounderDH)
	b.AddBytes(a.FounderNonce[:])
	addString8(&b, a.FounderName)
	a.FounderIdentity.marshal(&b)
	b.AddUint8(uint8(len(a.Initials)))
	for i := range a.Initials {
		in := &a.Initials[i]
		in.Identity.marshal(&b)
		addString8(&b, in.Name)
		addString8(&b, in.Side)
		b.AddBytes(in.Signature)
	}
	return b.Bytes()
}

// checkShape checks what the encodings need: lengths and counts.
func (a *Agreement) checkShape() error {
	if err := a.AgreedText.check(); err != nil {
		return err
	}
	switch {
	case len(a.Text) > MaxAgreedText:
		return malformed("agreement", "text too large")
	case !a.Policy.valid() || !a.Quorum.valid():
		return malformed("agreement", "unknown policy or quorum rule")
	case len(a.Sides) == 0 || len(a.Sides) > MaxInitials:
		return malformed("agreement", "side count out of range")
	case !slices.IsSorted(a.Sides) || len(slices.Compact(slices.Clone(a.Sides))) != len(a.Sides):
		return malformed("agreement", "sides not sorted or repeated")
	case len(a.FounderKey) != ed25519.PublicKeySize || len(a.FounderDH) != 32:
		return malformed("agreement", "bad founder pseudonym")
	case !validText(a.FounderName, MaxNameLen):
		return malformed("agreement", "bad founder name")
	case len(a.FounderIdentity.SigningKey) != ed25519.PublicKeySize || len(a.FounderIdentity.KEMKey) != KEMPublicKeySize:
		return malformed("agreement", "bad founder identity")
	case len(a.Initials) == 0 || len(a.Initials) > MaxInitials:
		return malformed("agreement", "initial count out of range")
	}
	for _, s := range a.Sides {
		if !validText(s, MaxSideLen) {
			return malformed("agreement", "bad side name")
		}
	}
	for i := range a.Initials {
		in := &a.Initials[i]
		if !validText(in.Name, MaxNameLen) || !validText(in.Side, MaxSideLen) ||
			len(in.Identity.SigningKey) != ed25519.PublicKeySize || len(in.Identity.KEMKey) != KEMPublicKeySize ||
			len(in.Signature) != SignatureSize {
			return malformed("agreement", "bad initial")
		}
	}
	return nil
}

// NewAgreement starts the record of text, agreed as t, in the channel of
// roster r, with the founder's fields taken from r (the founder must
// still be a member) and the given initials, for the sides named. The
// founder then signs it with SignVouch.
func NewAgreement(r *Roster, t AgreedText, text []byte, sides []string, initials []Initial) (*Agreement, error) {
	f := r.Member(KeyIDOf(r.Founder))
	if f == nil {
		return nil, fmt.Errorf("the channel's founder is no longer a member: %w", ErrNotMember)
	}
	if t.Channel != r.Channel {
		return nil, ErrWrongChannel
	}
	sides = slices.Clone(sides)
	slices.Sort(sides)
	return &Agreement{
		AgreedText: t, Text: bytes.Clone(text), Policy: r.Policy, Quorum: r.Quorum, Sides: sides,
		FounderKey: bytes.Clone(r.Founder), FounderDH: bytes.Clone(f.Keys.DHKey), FounderNonce: r.Nonce,
		FounderName: f.Name, FounderIdentity: f.Identity, FounderBinding: bytes.Clone(f.Binding),
		Initials: slices.Clone(initials),
	}, nil
}

// SignVouch signs a as its channel's founder. The caller has checked
// that each initial is a member's, on the side it names.
func (a *Agreement) SignVouch(founder *Identity) error {
	if !founder.Public().Equal(&a.FounderIdentity) {
		return fmt.Errorf("only the channel's founder vouches for its agreements: %w", ErrUnknownSigner)
	}
	msg, err := a.vouchMessage()
	if err != nil {
		return err
	}
	a.Vouch = ed25519.Sign(founder.sig, append([]byte(labelAgreementVouch+"\x00"), msg...))
	return nil
}

// Verify checks the whole record: that its text has the hash initialled,
// that the founder derives the channel and vouches for the record, that
// every initial is good and every side named has initialled.
func (a *Agreement) Verify() error {
	msg, err := a.vouchMessage()
	if err != nil {
		return err
	}
	if sha256.Sum256(a.Text) != a.SHA256 {
		return fmt.Errorf("the text does not have the hash that was initialled: %w", ErrBadSignature)
	}
	if NewChannelID(a.FounderKey, a.FounderNonce) != a.Channel {
		return fmt.Errorf("the founder's pseudonym does not derive the channel id: %w", ErrWrongChannel)
	}
	founderKeys := &ChannelPublicKeys{SigningKey: a.FounderKey, DHKey: a.FounderDH}
	if err := VerifyBinding(&a.FounderIdentity, a.Channel, founderKeys, a.FounderBinding); err != nil {
		return fmt.Errorf("the founder's identity is not bound to the channel: %w", err)
	}
	if !verify(a.FounderIdentity.SigningKey, labelAgreementVouch, msg, a.Vouch) {
		return fmt.Errorf("the founder's signature does not cover this record: %w", ErrBadSignature)
	}
	for i := range a.Initials {
		in := &a.Initials[i]
		if err := in.Verify(&a.AgreedText); err != nil {
			return err
		}
		if !slices.Contains(a.Sides, in.Side) {
			return malformed("agreement", "an initial's side is not among the sides")
		}
		for _, prev := range a.Initials[:i] {
			if bytes.Equal(prev.Identity.SigningKey, in.Identity.SigningKey) {
				return malformed("agreement", "an identity initialled twice")
			}
		}
	}
	for _, s := range a.Sides {
		if !slices.ContainsFunc(a.Initials, func(in Initial) bool { return in.Side == s }) {
			return fmt.Errorf("side %q has not initialled: %w", s, ErrNotInitialled)
		}
	}
	return nil
}

func addString8(b *cryptobyte.Builder, s string) {
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
}

// validText reports whether s is a non-empty name of at most max bytes of
// UTF-8.
func validText(s string, max int) bool {
	return len(s) > 0 && len(s) <= max && utf8.ValidString(s)
}
