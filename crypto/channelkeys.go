package crypto

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// ChannelID names a channel at the relay: 16 bytes derived from the
// founder's pseudonym key and a random nonce, so it says nothing about the
// channel's name or people.
type ChannelID [16]byte

func (c ChannelID) String() string { return hex.EncodeToString(c[:]) }

// NewChannelID derives the id of a channel founded by the given pseudonym
// signing key with the given nonce.
func NewChannelID(founder ed25519.PublicKey, nonce [16]byte) ChannelID {
	h := labeledHash(labelChannelID, founder, nonce[:])
	return ChannelID(h[:16])
}

// KeyID names a pseudonym key: 16 bytes of a labeled hash of its Ed25519
// public key. It is what the relay and message headers use for a member.
type KeyID [16]byte

func (k KeyID) String() string { return hex.EncodeToString(k[:]) }

// KeyIDOf returns the KeyID of a pseudonym signing key.
func KeyIDOf(signingKey ed25519.PublicKey) KeyID {
	h := labeledHash(labelKeyID, signingKey)
	return KeyID(h[:16])
}

// ChannelKeys are the fresh keys a member makes for one channel: the
// pseudonym the relay sees. The signing key authenticates to the relay and
// signs organizer structures; the X25519 key makes deniable pairwise MAC
// keys; the KEM key receives epoch secrets and is rotated by key updates.
type ChannelKeys struct {
	sig     ed25519.PrivateKey
	dh      *ecdh.PrivateKey
	kemSeed []byte
	kem     hpke.PrivateKey
}

// ChannelPublicKeys is the public half of ChannelKeys.
type ChannelPublicKeys struct {
	SigningKey ed25519.PublicKey
	DHKey      []byte
	KEMKey     []byte
}

const channelKeysSize = ed25519.SeedSize + 32 + kemSeedSize

// GenerateChannelKeys makes a fresh pseudonym for one channel.
func GenerateChannelKeys() (*ChannelKeys, error) {
	seed := make([]byte, channelKeysSize)
	rand.Read(seed)
	return channelKeysFromSeed(seed)
}

func channelKeysFromSeed(seed []byte) (*ChannelKeys, error) {
	if len(seed) != channelKeysSize {
		return nil, malformed("channel keys", "wrong length")
	}
	dh, err := ecdh.X25519().NewPrivateKey(seed[32:64])
	if err != nil {
		return nil, malformed("channel keys", "bad X25519 key")
	}
	k, err := kem().NewPrivateKey(seed[64:])
	if err != nil {
		return nil, malformed("channel keys", "bad KEM key")
	}
	return &ChannelKeys{
		sig:     ed25519.NewKeyFromSeed(seed[:32]),
		dh:      dh,
		kemSeed: bytes.Clone(seed[64:]),
		kem:     k,
	}, nil
}

// MarshalBinary returns the private keys (96 bytes). Encrypt before
// storing.
func (k *ChannelKeys) MarshalBinary() ([]byte, error) {
	out := bytes.Clone(k.sig.Seed())
	out = append(out, k.dh.Bytes()...)
	return append(out, k.kemSeed...), nil
}

// ParseChannelKeys is the inverse of ChannelKeys.MarshalBinary.
func ParseChannelKeys(b []byte) (*ChannelKeys, error) { return channelKeysFromSeed(b) }

// RotateKEM returns a copy of k with a fresh KEM key and the same signing
// and DH keys: the key update that gives post-compromise security.
func (k *ChannelKeys) RotateKEM() (*ChannelKeys, error) {
	seed, _ := k.MarshalBinary()
	rand.Read(seed[64:])
	return channelKeysFromSeed(seed)
}

// Public returns the public keys.
func (k *ChannelKeys) Public() *ChannelPublicKeys {
	return &ChannelPublicKeys{
		SigningKey: k.sig.Public().(ed25519.PublicKey),
		DHKey:      k.dh.PublicKey().Bytes(),
		KEMKey:     k.kem.PublicKey().Bytes(),
	}
}

// ID returns the KeyID of these keys.
func (k *ChannelKeys) ID() KeyID { return KeyIDOf(k.sig.Public().(ed25519.PublicKey)) }

// SigningPublicKey returns the Ed25519 public key of the pseudonym.
func (k *ChannelKeys) SigningPublicKey() ed25519.PublicKey {
	return k.sig.Public().(ed25519.PublicKey)
}

func (k *ChannelKeys) sign(label string, msg []byte) []byte {
	return ed25519.Sign(k.sig, append([]byte(label+"\x00"), msg...))
}

func verify(pub ed25519.PublicKey, label string, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != SignatureSize {
		return false
	}
	return ed25519.Verify(pub, append([]byte(label+"\x00"), msg...), sig)
}

// ID returns the KeyID of the signing key.
func (p *ChannelPublicKeys) ID() KeyID { return KeyIDOf(p.SigningKey) }

// Equal reports whether two sets of public keys are identical.
func (p *ChannelPublicKeys) Equal(q *ChannelPublicKeys) bool {
	return subtle.ConstantTimeCompare(p.SigningKey, q.SigningKey) == 1 &&
		subtle.ConstantTimeCompare(p.DHKey, q.DHKey) == 1 &&
		subtle.ConstantTimeCompare(p.KEMKey, q.KEMKey) == 1
}

func (p *ChannelPublicKeys) marshal(b *cryptobyte.Builder) {
	b.AddBytes(p.SigningKey)
	b.AddBytes(p.DHKey)
	b.AddBytes(p.KEMKey)
}

func (p *ChannelPublicKeys) unmarshal(s *cryptobyte.String) bool {
	var sig, dh, k []byte
	if !s.ReadBytes(&sig, ed25519.PublicKeySize) || !s.ReadBytes(&dh, 32) ||
		!s.ReadBytes(&k, KEMPublicKeySize) {
		return false
	}
	if _, err := ecdh.X25519().NewPublicKey(dh); err != nil {
		return false
	}
	if _, err := kem().NewPublicKey(k); err != nil {
		return false
	}
	p.SigningKey, p.DHKey, p.KEMKey = bytes.Clone(sig), bytes.Clone(dh), bytes.Clone(k)
	return true
}

// bindingMessage is what an identity signs to claim a pseudonym in a
// channel. The KEM key is left out because key updates rotate it; the
// pseudonym signs each of its KEM keys itself (SignKEM), so the binding
// reaches the KEM key through the pseudonym's signing key.
func bindingMessage(channel ChannelID, p *ChannelPublicKeys) []byte {
	var b cryptobyte.Builder
	b.AddBytes(channel[:])
	b.AddBytes(p.SigningKey)
	b.AddBytes(p.DHKey)
	return b.BytesOrPanic()
}

// Bind signs, with the identity key, the claim that keys are this
// identity's pseudonym in channel.
func (id *Identity) Bind(channel ChannelID, keys *ChannelPublicKeys) []byte {
	return ed25519.Sign(id.sig, append([]byte(labelBinding+"\x00"), bindingMessage(channel, keys)...))
}

// kemMessage is what a pseudonym signs to claim a KEM key in a channel.
func kemMessage(channel ChannelID, p *ChannelPublicKeys) []byte {
	var b cryptobyte.Builder
	b.AddBytes(channel[:])
	b.AddBytes(p.SigningKey)
	b.AddBytes(p.KEMKey)
	return b.BytesOrPanic()
}

// SignKEM signs, with the pseudonym's signing key, the claim that its
// current KEM key is its own in channel. Epoch secrets are wrapped to
// that key; without this signature anyone who could open a join request
// or a key update in transit (an interceptor of the invite code working
// with the relay) could put their own KEM key in its place, and the
// organizer's safety-number check would still pass.
func (k *ChannelKeys) SignKEM(channel ChannelID) []byte {
	return k.sign(labelKEMKey, kemMessage(channel, k.Public()))
}

// VerifyKEM checks a KEMSig made by ChannelKeys.SignKEM for keys.
func VerifyKEM(channel ChannelID, keys *ChannelPublicKeys, sig []byte) error {
	if !verify(keys.SigningKey, labelKEMKey, kemMessage(channel, keys), sig) {
		return fmt.Errorf("pseudonym KEM key: %w", ErrBadSignature)
	}
	return nil
}

// VerifyBinding checks a binding made by Identity.Bind.
func VerifyBinding(id *PublicIdentity, channel ChannelID, keys *ChannelPublicKeys, sig []byte) error {
	if !verify(id.SigningKey, labelBinding, bindingMessage(channel, keys), sig) {
		return fmt.Errorf("pseudonym binding: %w", ErrBadSignature)
	}
	return nil
}

// PairKey is the symmetric key two members of a channel share for
// deniable sender authentication. Both compute the same value.
type PairKey [32]byte

// pairKey derives the pairwise MAC key between k and a peer, from
// static-static X25519 bound to the channel and both key ids. It fails on
// a low-order peer key.
func (k *ChannelKeys) pairKey(channel ChannelID, peer *ChannelPublicKeys) (PairKey, error) {
	pub, err := ecdh.X25519().NewPublicKey(peer.DHKey)
	if err != nil {
		return PairKey{}, malformed("X25519 key", "wrong length")
	}
	shared, err := k.dh.ECDH(pub)
	if err != nil {
		return PairKey{}, ErrLowOrder
	}
	a, b := k.ID(), peer.ID()
	if bytes.Compare(a[:], b[:]) > 0 {
		a, b = b, a
	}
	return PairKey(deriveKey(shared, labelPairKey, 32, channel[:], a[:], b[:])), nil
}

// SignRelayChallenge answers the relay's authentication challenge for one
// channel. The relay's certificate pin is bound in, so a response made for
// one relay is useless to another.
func (k *ChannelKeys) SignRelayChallenge(pin [32]byte, channel ChannelID, challenge [32]byte) []byte {
	return k.sign(labelRelayAuth, relayAuthMessage(pin, channel, challenge))
}

// VerifyRelayChallenge checks a response made by SignRelayChallenge.
func VerifyRelayChallenge(pub ed25519.PublicKey, pin [32]byte, channel ChannelID, challenge [32]byte, sig []byte) bool {
	return verify(pub, labelRelayAuth, relayAuthMessage(pin, channel, challenge), sig)
}

func relayAuthMessage(pin [32]byte, channel ChannelID, challenge [32]byte) []byte {
	msg := append(pin[:], channel[:]...)
	return append(msg, challenge[:]...)
}

// lowOrderProbe is a fixed X25519 scalar. X25519 clamps scalars to a
// multiple of the cofactor, so a public key gives the all-zero result with
// this scalar exactly when it gives it with every scalar: when it is of
// low order.
var lowOrderProbe, _ = ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{0x5a}, 32))

// checkDHKey rejects X25519 public keys of the wrong length or of low
// order, which would make a pair key that anyone can compute.
func checkDHKey(pub []byte) error {
	p, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return malformed("X25519 key", "wrong length")
	}
	if _, err := lowOrderProbe.ECDH(p); err != nil {
		return ErrLowOrder
	}
	return nil
}
