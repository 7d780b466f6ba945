package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// agreementFormat names the record format in its "format" field.
const agreementFormat = "parley agreement 1"

// MaxAgreementFile bounds the size of a record file ParseAgreement reads.
const MaxAgreementFile = 64 << 20

// The record file is JSON, so a person can read it with any tool, and
// every field in it is checked: the safety numbers and the hash shown
// are recomputed by ParseAgreement, and the signatures cover the rest.
// Nothing a reader sees in the file is unverified once it parses and
// Verify passes. The text is a JSON string when it is UTF-8, base64
// otherwise, so no byte of it is lost.
type agreementFile struct {
	Format     string        `json:"format"`
	Channel    string        `json:"channel"`
	Draft      string        `json:"draft"`
	Version    uint32        `json:"version"`
	SHA256     string        `json:"sha256"`
	Text       *string       `json:"text,omitempty"`
	TextBase64 *string       `json:"text_base64,omitempty"`
	Policy     string        `json:"policy"`
	Quorum     string        `json:"quorum"`
	Sides      []string      `json:"sides"`
	Initials   []initialFile `json:"initials"`
	Founder    founderFile   `json:"founder"`
}

type initialFile struct {
	Name         string `json:"name"`
	Side         string `json:"side"`
	SafetyNumber string `json:"safety_number"`
	Identity     string `json:"identity"`
	Signature    string `json:"signature"`
}

type founderFile struct {
	Name         string `json:"name"`
	SafetyNumber string `json:"safety_number"`
	Identity     string `json:"identity"`
	Pseudonym    string `json:"pseudonym"`
	DHKey        string `json:"dh_key"`
	Nonce        string `json:"nonce"`
	Binding      string `json:"binding"`
	Signature    string `json:"signature"`
}

var b64 = base64.StdEncoding

// MarshalJSON writes the record file.
func (a *Agreement) MarshalJSON() ([]byte, error) {
	if err := a.checkShape(); err != nil {
		return nil, err
	}
	f := agreementFile{
		Format: agreementFormat, Channel: a.Channel.String(), Draft: a.Draft, Version: a.Version,
		SHA256: hex.EncodeToString(a.SHA256[:]), Policy: a.Policy.String(), Quorum: a.Quorum.String(), Sides: a.Sides,
		Founder: founderFile{
			Name: a.FounderName, SafetyNumber: a.FounderIdentity.SafetyNumber(), Identity: b64Identity(&a.FounderIdentity),
			Pseudonym: b64.EncodeToString(a.FounderKey), DHKey: b64.EncodeToString(a.FounderDH),
			Nonce: hex.EncodeToString(a.FounderNonce[:]), Binding: b64.EncodeToString(a.FounderBinding),
			Signature: b64.EncodeToString(a.Vouch),
		},
	}
	if utf8.Valid(a.Text) {
		s := string(a.Text)
		f.Text = &s
	} else {
		s := b64.EncodeToString(a.Text)
		f.TextBase64 = &s
	}
	for i := range a.Initials {
		in := &a.Initials[i]
		f.Initials = append(f.Initials, initialFile{Name: in.Name, Side: in.Side, SafetyNumber: in.Identity.SafetyNumber(),
			Identity: b64Identity(&in.Identity), Signature: b64.EncodeToString(in.Signature)})
	}
	return json.MarshalIndent(f, "", "  ")
}

func b64Identity(p *PublicIdentity) string {
	b, _ := p.MarshalBinary()
	return b64.EncodeToString(b)
}

// ParseAgreement reads a record file. It checks the encoding and that the
// hash and safety numbers shown match what they stand for; Verify checks
// the signatures.
func ParseAgreement(data []byte) (*Agreement, error) {
	if len(data) > MaxAgreementFile {
		return nil, fmt.Errorf("agreement record: %w", ErrTooLarge)
	}
	var f agreementFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, malformed("agreement record", "not the JSON of a record: "+err.Error())
	}
	if dec.More() {
		return nil, malformed("agreement record", "data after the record")
	}
	if f.Format != agreementFormat {
		return nil, malformed("agreement record", fmt.Sprintf("format %q is not %q", f.Format, agreementFormat))
	}
	a := &Agreement{Sides: f.Sides}
	a.Draft, a.Version = f.Draft, f.Version
	d := decoder{}
	d.fixed(a.Channel[:], f.Channel, "channel", hex.DecodeString)
	d.fixed(a.SHA256[:], f.SHA256, "sha256", hex.DecodeString)
	d.fixed(a.FounderNonce[:], f.Founder.Nonce, "founder nonce", hex.DecodeString)
	a.FounderKey = d.bytes(f.Founder.Pseudonym, "founder pseudonym", ed25519PublicKeySize)
	a.FounderDH = d.bytes(f.Founder.DHKey, "founder DH key", 32)
	a.FounderBinding = d.bytes(f.Founder.Binding, "founder binding", SignatureSize)
	a.Vouch = d.bytes(f.Founder.Signature, "founder signature", SignatureSize)
	a.FounderName = f.Founder.Name
	d.identity(&a.FounderIdentity, f.Founder.Identity, f.Founder.SafetyNumber, "founder")
	switch {
	case f.Text != nil && f.TextBase64 == nil:
		a.Text = []byte(*f.Text)
	case f.Text == nil && f.TextBase64 != nil:
		a.Text = d.bytes(*f.TextBase64, "text", -1)
	default:
		d.fail("exactly one of text and text_base64")
	}
	for _, in := range f.Initials {
		i := Initial{Name: in.Name, Side: in.Side, Signature: d.bytes(in.Signature, "initial signature", SignatureSize)}
		d.identity(&i.Identity, in.Identity, in.SafetyNumber, "initial")
		a.Initials = append(a.Initials, i)
	}
	var ok bool
	if a.Policy, ok = ParsePolicy(f.Policy); !ok {
		d.fail("policy")
	}
	if a.Quorum, ok = ParseQuorum(f.Quorum); !ok {
		d.fail("quorum")
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := a.checkShape(); err != nil {
		return nil, err
	}
	if sha256.Sum256(a.Text) != a.SHA256 {
		return nil, malformed("agreement record", "the text does not have the hash shown")
	}
	return a, nil
}

const ed25519PublicKeySize = 32

// decoder keeps the first error of a run of field decodings.
type decoder struct{ err error }

func (d *decoder) fail(field string) {
	if d.err == nil {
		d.err = malformed("agreement record", "bad "+field)
	}
}

func (d *decoder) fixed(dst []byte, s, field string, decode func(string) ([]byte, error)) {
	b, err := decode(s)
	if err != nil || len(b) != len(dst) {
		d.fail(field)
		return
	}
	copy(dst, b)
}

// bytes decodes base64 of n bytes (any length when n < 0).
func (d *decoder) bytes(s, field string, n int) []byte {
	b, err := b64.DecodeString(s)
	if err != nil || (n >= 0 && len(b) != n) {
		d.fail(field)
		return nil
	}
	return b
}

func (d *decoder) identity(dst *PublicIdentity, s, safetyNumber, field string) {
	p, err := ParsePublicIdentity(d.bytes(s, field+" identity", -1))
	if err != nil {
		d.fail(field + " identity")
		return
	}
	if p.SafetyNumber() != safetyNumber {
		d.fail(field + " safety number: it is not the identity's")
		return
	}
	*dst = *p
}
