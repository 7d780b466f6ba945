package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/crypto/cryptobyte"
)

// Sizes of the public and private key material, fixed by the algorithms.
const (
	// KEMPublicKeySize is the size of an ML-KEM-768 + X25519 public key.
	KEMPublicKeySize = 1216
	// kemSeedSize is the size of its private key (a seed).
	kemSeedSize = 32
	// SignatureSize is the size of an Ed25519 signature.
	SignatureSize = ed25519.SignatureSize
)

// kem is the one hybrid post-quantum KEM Parley uses (X-Wing).
func kem() hpke.KEM { return hpke.MLKEM768X25519() }

// An Identity is a person's long-term key pair: an Ed25519 signing key and
// a hybrid ML-KEM-768 + X25519 KEM key. It never leaves the client; only
// per-channel pseudonym keys reach the relay, and the identity travels
// inside ciphertext.
type Identity struct {
	sig     ed25519.PrivateKey
	kemSeed []byte
	kem     hpke.PrivateKey
}

// PublicIdentity is the public half of an Identity.
type PublicIdentity struct {
	SigningKey ed25519.PublicKey
	KEMKey     []byte
}

// GenerateIdentity makes a fresh identity from the system's CSPRNG.
func GenerateIdentity() (*Identity, error) {
	seed := make([]byte, ed25519.SeedSize+kemSeedSize)
	rand.Read(seed)
	return identityFromSeed(seed)
}

func identityFromSeed(seed []byte) (*Identity, error) {
	if len(seed) != ed25519.SeedSize+kemSeedSize {
		return nil, malformed("identity", "wrong length")
	}
	k, err := kem().NewPrivateKey(seed[ed25519.SeedSize:])
	if err != nil {
		return nil, malformed("identity", "bad KEM key")
	}
	return &Identity{
		sig:     ed25519.NewKeyFromSeed(seed[:ed25519.SeedSize]),
		kemSeed: bytes.Clone(seed[ed25519.SeedSize:]),
		kem:     k,
	}, nil
}

// MarshalBinary returns the private identity (64 bytes of seeds). The
// caller must encrypt it before it touches a disk.
func (id *Identity) MarshalBinary() ([]byte, error) {
	return append(bytes.Clone(id.sig.Seed()), id.kemSeed...), nil
}

// ParseIdentity is the inverse of Identity.MarshalBinary.
func ParseIdentity(b []byte) (*Identity, error) { return identityFromSeed(b) }

// KEMSeed returns the 32-byte seed of the identity's hybrid KEM key. The
// client uses it as the key of its age transcripts (same X-Wing KEM).
func (id *Identity) KEMSeed() []byte { return bytes.Clone(id.kemSeed) }

// Public returns the public identity.
func (id *Identity) Public() *PublicIdentity {
	return &PublicIdentity{
		SigningKey: id.sig.Public().(ed25519.PublicKey),
		KEMKey:     id.kem.PublicKey().Bytes(),
	}
}

func (p *PublicIdentity) marshal(b *cryptobyte.Builder) {
	b.AddBytes(p.SigningKey)
	b.AddBytes(p.KEMKey)
}

func (p *PublicIdentity) unmarshal(s *cryptobyte.String) bool {
	var sig, k []byte
	if !s.ReadBytes(&sig, ed25519.PublicKeySize) || !s.ReadBytes(&k, KEMPublicKeySize) {
		return false
	}
	if _, err := kem().NewPublicKey(k); err != nil {
		return false
	}
	p.SigningKey = bytes.Clone(sig)
	p.KEMKey = bytes.Clone(k)
	return true
}

// MarshalBinary encodes the public identity (32 + 1216 bytes).
func (p *PublicIdentity) MarshalBinary() ([]byte, error) {
	var b cryptobyte.Builder
	p.marshal(&b)
	return b.Bytes()
}

// ParsePublicIdentity is the inverse of PublicIdentity.MarshalBinary.
func ParsePublicIdentity(data []byte) (*PublicIdentity, error) {
	s := cryptobyte.String(data)
	p := new(PublicIdentity)
	if !p.unmarshal(&s) || !s.Empty() {
		return nil, malformed("public identity", "wrong length or bad key")
	}
	return p, nil
}

// Equal reports whether two public identities are the same keys.
func (p *PublicIdentity) Equal(q *PublicIdentity) bool {
	return subtle.ConstantTimeCompare(p.SigningKey, q.SigningKey) == 1 &&
		subtle.ConstantTimeCompare(p.KEMKey, q.KEMKey) == 1
}

// Fingerprint is SHA-256 over both public keys under the safety-number
// label.
func (p *PublicIdentity) Fingerprint() [32]byte {
	return labeledHash(labelSafetyNumber, p.SigningKey, p.KEMKey)
}

// SafetyNumber is the human-comparable form of Fingerprint: 30 decimal
// digits in six groups of five, each group the big-endian integer of five
// fingerprint bytes modulo 100000 (about 99 bits in all). It is stable:
// the same keys give the same number in every Parley version speaking
// protocol v1. People compare it in person.
func (p *PublicIdentity) SafetyNumber() string {
	fp := p.Fingerprint()
	groups := make([]string, 6)
	for i := range groups {
		var chunk [8]byte
		copy(chunk[3:], fp[i*5:i*5+5])
		groups[i] = fmt.Sprintf("%05d", binary.BigEndian.Uint64(chunk[:])%100000)
	}
	return strings.Join(groups, " ")
}

// CheckKEMPublicKey reports whether b is a valid ML-KEM-768 + X25519
// public key.
func CheckKEMPublicKey(b []byte) error {
	if len(b) != KEMPublicKeySize {
		return malformed("KEM public key", "wrong length")
	}
	if _, err := kem().NewPublicKey(b); err != nil {
		return malformed("KEM public key", "invalid")
	}
	return nil
}
