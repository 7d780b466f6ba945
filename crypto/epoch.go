package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"
)

// EpochSecrets are the two fresh random secrets of one epoch, and what
// they are bound to. A mentor's EpochSecrets has no Talks secret.
type EpochSecrets struct {
	Channel    ChannelID
	Epoch      uint64
	RosterHash [32]byte
	Talks      *[32]byte // nil when this member may not read talks
	Briefings  [32]byte
}

// NewEpochSecrets makes fresh secrets for the epoch of roster r (whose
// version is the epoch number).
func NewEpochSecrets(r *Roster) *EpochSecrets {
	s := &EpochSecrets{Channel: r.Channel, Epoch: r.Version, RosterHash: r.Hash(), Talks: new([32]byte)}
	rand.Read(s.Talks[:])
	rand.Read(s.Briefings[:])
	return s
}

// secret returns the secret of compartment c.
func (s *EpochSecrets) secret(c Compartment) ([]byte, error) {
	switch {
	case c == Talks && s.Talks != nil:
		return s.Talks[:], nil
	case c == Briefings:
		return s.Briefings[:], nil
	}
	return nil, fmt.Errorf("%s compartment: %w", c, ErrNoCompartment)
}

func hpkeSuite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.ChaCha20Poly1305() }

func wrapInfo(channel ChannelID, epoch uint64, rosterHash [32]byte, recipient KeyID) []byte {
	info := appendPrefixed(nil, []byte(labelEpochWrap))
	info = append(info, channel[:]...)
	info = append(info, u64(epoch)...)
	info = append(info, rosterHash[:]...)
	return append(info, recipient[:]...)
}

// wrapPlaintextSize is the same for every role so that wrap sizes do not
// tell the relay who is a mentor.
const wrapPlaintextSize = 1 + 32 + 32

const (
	wrapBriefingsOnly = 1
	wrapBoth          = 2
)

// wrapFor seals the secrets member m may hold to m's current KEM key.
func (s *EpochSecrets) wrapFor(m *Member) ([]byte, error) {
	pub, err := kem().NewPublicKey(m.Keys.KEMKey)
	if err != nil {
		return nil, malformed("member KEM key", "invalid")
	}
	pt := make([]byte, wrapPlaintextSize)
	pt[0] = wrapBriefingsOnly
	copy(pt[1:33], s.Briefings[:])
	if m.Role.CanRead(Talks) {
		if s.Talks == nil {
			return nil, fmt.Errorf("wrapping talks: %w", ErrNoCompartment)
		}
		pt[0] = wrapBoth
		copy(pt[33:], s.Talks[:])
	}
	kdf, aead := hpkeSuite()
	return hpke.Seal(pub, kdf, aead, wrapInfo(s.Channel, s.Epoch, s.RosterHash, m.ID()), pt)
}

// openWrap is the inverse of wrapFor, for the holder of k.
func openWrap(k *ChannelKeys, channel ChannelID, epoch uint64, rosterHash [32]byte, wrap []byte) (*EpochSecrets, error) {
	kdf, aead := hpkeSuite()
	pt, err := hpke.Open(k.kem, kdf, aead, wrapInfo(channel, epoch, rosterHash, k.ID()), wrap)
	if err != nil {
		return nil, fmt.Errorf("epoch %d key wrap: %w", epoch, ErrDecrypt)
	}
	if len(pt) != wrapPlaintextSize {
		return nil, malformed("epoch wrap", "wrong size")
	}
	s := &EpochSecrets{Channel: channel, Epoch: epoch, RosterHash: rosterHash}
	copy(s.Briefings[:], pt[1:33])
	switch pt[0] {
	case wrapBoth:
		s.Talks = (*[32]byte)(bytes.Clone(pt[33:]))
	case wrapBriefingsOnly:
		if !allZero(pt[33:]) {
			return nil, malformed("epoch wrap", "non-zero padding")
		}
	default:
		return nil, malformed("epoch wrap", "unknown flags")
	}
	return s, nil
}

func (s *EpochSecrets) rosterAEAD() cipherAEAD {
	k := deriveKey(s.Briefings[:], labelRosterSeal, chacha20poly1305.KeySize, s.Channel[:], u64(s.Epoch), s.RosterHash[:])
	a, _ := chacha20poly1305.NewX(k)
	return a
}

// An EpochBundle starts an epoch: the new roster, encrypted so that only
// its members read it, and the epoch secrets wrapped to each member's
// current KEM key. The organizer who signed the roster signs the bundle,
// so no member can pass off other secrets as this epoch's.
type EpochBundle struct {
	Channel      ChannelID
	Epoch        uint64
	RosterHash   [32]byte
	SealedRoster []byte
	Wraps        []Wrap

	Signer    ed25519.PublicKey
	Signature []byte
}

// A Wrap is one member's sealed copy of the epoch secrets.
type Wrap struct {
	Recipient KeyID
	Sealed    []byte
}

const bundleFormat = 1

// maxSealedRoster bounds the encrypted roster (MaxMembers entries).
const maxSealedRoster = 1 << 20

// NewEpochBundle seals roster r and the secrets s for r's members and
// signs the bundle with signer, who must be r's signer.
func NewEpochBundle(r *Roster, s *EpochSecrets, signer *ChannelKeys) (*EpochBundle, error) {
	if !bytes.Equal(r.Signer, signer.SigningPublicKey()) {
		return nil, fmt.Errorf("epoch bundle: signer is not the roster's: %w", ErrUnknownSigner)
	}
	if s.Epoch != r.Version || s.Channel != r.Channel || s.RosterHash != r.Hash() {
		return nil, fmt.Errorf("epoch bundle: secrets are not for roster version %d: %w", r.Version, ErrWrongEpoch)
	}
	raw, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	a := s.rosterAEAD()
	sealed := make([]byte, a.NonceSize())
	rand.Read(sealed)
	sealed = a.Seal(sealed, sealed, padRoster(raw, len(r.Members)), nil)
	b := &EpochBundle{Channel: r.Channel, Epoch: r.Version, RosterHash: s.RosterHash, SealedRoster: sealed}
	for i := range r.Members {
		w, err := s.wrapFor(&r.Members[i])
		if err != nil {
			return nil, err
		}
		b.Wraps = append(b.Wraps, Wrap{Recipient: r.Members[i].ID(), Sealed: w})
	}
	b.Signer = signer.SigningPublicKey()
	msg, err := b.signedBytes()
	if err != nil {
		return nil, err
	}
	b.Signature = signer.sign(labelEpochBundleSig, msg)
	return b, nil
}

func (b *EpochBundle) signedBytes() ([]byte, error) {
	if len(b.Wraps) == 0 || len(b.Wraps) > MaxMembers || len(b.SealedRoster) > maxSealedRoster ||
		len(b.Signer) != ed25519.PublicKeySize {
		return nil, malformed("epoch bundle", "field out of range")
	}
	var bb cryptobyte.Builder
	bb.AddUint8(bundleFormat)
	bb.AddBytes(b.Channel[:])
	bb.AddUint64(b.Epoch)
	bb.AddBytes(b.RosterHash[:])
	bb.AddUint24LengthPrefixed(func(bb *cryptobyte.Builder) { bb.AddBytes(b.SealedRoster) })
	bb.AddUint8(uint8(len(b.Wraps)))
	for _, w := range b.Wraps {
		bb.AddBytes(w.Recipient[:])
		bb.AddUint16LengthPrefixed(func(bb *cryptobyte.Builder) { bb.AddBytes(w.Sealed) })
	}
	bb.AddBytes(b.Signer)
	return bb.Bytes()
}

// Marshal encodes the bundle.
func (b *EpochBundle) Marshal() ([]byte, error) {
	msg, err := b.signedBytes()
	if err != nil {
		return nil, err
	}
	if len(b.Signature) != SignatureSize {
		return nil, malformed("epoch bundle", "unsigned")
	}
	return append(msg, b.Signature...), nil
}

// ParseEpochBundle decodes a bundle; Open checks it.
func ParseEpochBundle(data []byte) (*EpochBundle, error) {
	s := cryptobyte.String(data)
	b := new(EpochBundle)
	var format, n uint8
	var sealed cryptobyte.String
	if !s.ReadUint8(&format) || format != bundleFormat {
		return nil, malformed("epoch bundle", "unknown format")
	}
	if !s.CopyBytes(b.Channel[:]) || !s.ReadUint64(&b.Epoch) || !s.CopyBytes(b.RosterHash[:]) ||
		!s.ReadUint24LengthPrefixed(&sealed) || !s.ReadUint8(&n) {
		return nil, malformed("epoch bundle", "truncated header")
	}
	b.SealedRoster = bytes.Clone(sealed)
	if n == 0 || int(n) > MaxMembers {
		return nil, malformed("epoch bundle", "wrap count out of range")
	}
	seen := make(map[KeyID]bool)
	for i := 0; i < int(n); i++ {
		var w Wrap
		var sw cryptobyte.String
		if !s.CopyBytes(w.Recipient[:]) || !s.ReadUint16LengthPrefixed(&sw) {
			return nil, malformed("epoch bundle", "truncated wrap")
		}
		if seen[w.Recipient] {
			return nil, malformed("epoch bundle", "two wraps for one member")
		}
		seen[w.Recipient] = true
		w.Sealed = bytes.Clone(sw)
		b.Wraps = append(b.Wraps, w)
	}
	var signer, sig []byte
	if !s.ReadBytes(&signer, 32) || !s.ReadBytes(&sig, SignatureSize) || !s.Empty() {
		return nil, malformed("epoch bundle", "bad trailer")
	}
	b.Signer, b.Signature = bytes.Clone(signer), bytes.Clone(sig)
	if len(b.SealedRoster) > maxSealedRoster {
		return nil, malformed("epoch bundle", "roster too large")
	}
	return b, nil
}

// VerifySignature checks only that the bundle is intact and signed by
// its Signer; the relay uses it to refuse junk. Members use Open.
func (b *EpochBundle) VerifySignature() error {
	msg, err := b.signedBytes()
	if err != nil {
		return err
	}
	if !verify(b.Signer, labelEpochBundleSig, msg, b.Signature) {
		return fmt.Errorf("epoch %d bundle: %w", b.Epoch, ErrBadSignature)
	}
	return nil
}

// Open checks that an authorized key signed the bundle, unwraps the
// secrets addressed to k, decrypts the roster and checks that it is the
// one the bundle names, signed by the same key. authorized says whether a
// signer may start epochs: an organizer of the roster the caller holds
// (Roster.IsOrganizer), or for a newcomer the organizer its invite names
// (Invite.IsOrganizer). The caller must still verify the roster against
// what it holds (Roster.VerifyNext, VerifyGenesis or VerifyInvited)
// before using either result. ErrNotMember from an authorized bundle
// means k was left out of the roster: removed.
func (b *EpochBundle) Open(k *ChannelKeys, authorized func(signer ed25519.PublicKey) bool) (*EpochSecrets, *Roster, error) {
	msg, err := b.signedBytes()
	if err != nil {
		return nil, nil, err
	}
	if !verify(b.Signer, labelEpochBundleSig, msg, b.Signature) {
		return nil, nil, fmt.Errorf("epoch %d bundle: %w", b.Epoch, ErrBadSignature)
	}
	if !authorized(b.Signer) {
		return nil, nil, fmt.Errorf("epoch %d bundle: %w", b.Epoch, ErrUnknownSigner)
	}
	var wrap []byte
	for _, w := range b.Wraps {
		if w.Recipient == k.ID() {
			wrap = w.Sealed
		}
	}
	if wrap == nil {
		return nil, nil, fmt.Errorf("epoch %d: %w", b.Epoch, ErrNotMember)
	}
	s, err := openWrap(k, b.Channel, b.Epoch, b.RosterHash, wrap)
	if err != nil {
		return nil, nil, err
	}
	a := s.rosterAEAD()
	if len(b.SealedRoster) < a.NonceSize() {
		return nil, nil, malformed("epoch bundle", "sealed roster too short")
	}
	padded, err := a.Open(nil, b.SealedRoster[:a.NonceSize()], b.SealedRoster[a.NonceSize():], nil)
	if err != nil {
		return nil, nil, fmt.Errorf("epoch %d roster: %w", b.Epoch, ErrDecrypt)
	}
	raw, err := unpadRoster(padded)
	if err != nil {
		return nil, nil, err
	}
	r, err := ParseRoster(raw)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case r.Channel != b.Channel:
		return nil, nil, fmt.Errorf("epoch %d: %w", b.Epoch, ErrWrongChannel)
	case r.Hash() != b.RosterHash:
		return nil, nil, fmt.Errorf("epoch %d: roster hash: %w", b.Epoch, ErrMismatch)
	case r.Version != b.Epoch:
		return nil, nil, fmt.Errorf("epoch %d: roster version %d: %w", b.Epoch, r.Version, ErrWrongEpoch)
	case !bytes.Equal(r.Signer, b.Signer):
		return nil, nil, fmt.Errorf("epoch %d: bundle and roster signers differ: %w", b.Epoch, ErrMismatch)
	}
	if err := b.checkWrapsMatch(r); err != nil {
		return nil, nil, err
	}
	return s, r, nil
}

// checkWrapsMatch: one wrap per member, none for anyone else, so a
// member can see that the epoch was keyed to exactly the roster.
func (b *EpochBundle) checkWrapsMatch(r *Roster) error {
	if len(b.Wraps) != len(r.Members) {
		return fmt.Errorf("epoch %d: %d wraps for %d members: %w", b.Epoch, len(b.Wraps), len(r.Members), ErrMismatch)
	}
	for _, w := range b.Wraps {
		if r.Member(w.Recipient) == nil {
			return fmt.Errorf("epoch %d: wrap for a key outside the roster: %w", b.Epoch, ErrMismatch)
		}
	}
	return nil
}

// Encoded sizes of a roster: a fixed part and a part per member whose
// only variable field is the display name.
const (
	rosterFixedSize = 1 + 16 + 8 + 32 + 8 + 1 + 32 + 16 + 1 + 32 + SignatureSize
	memberFixedSize = 32 + KEMPublicKeySize + 1 + 1 + 8 + 32 + 32 + KEMPublicKeySize + 2*SignatureSize
	rosterLenPrefix = 4
	// relaysMaxSize is the largest relay list: its count, then each
	// address with its length. Padding to it hides how many relays a
	// channel has, and their addresses' lengths.
	relaysMaxSize = 1 + MaxRelays*(2+MaxRelayURLLen)
)

// padRoster pads an encoded roster of n members to the size of n members
// with the longest names, so that the sealed roster's length tells the
// relay the member count (which the access list shows anyway) and nothing
// about names.
func padRoster(raw []byte, n int) []byte {
	out := make([]byte, rosterLenPrefix+rosterFixedSize+relaysMaxSize+n*(memberFixedSize+MaxNameLen))
	binary.BigEndian.PutUint32(out, uint32(len(raw)))
	copy(out[rosterLenPrefix:], raw)
	return out
}

func unpadRoster(padded []byte) ([]byte, error) {
	if len(padded) < rosterLenPrefix {
		return nil, malformed("sealed roster", "too short")
	}
	n := binary.BigEndian.Uint32(padded)
	if uint64(n) > uint64(len(padded)-rosterLenPrefix) || !allZero(padded[rosterLenPrefix+int(n):]) {
		return nil, malformed("sealed roster", "bad length or padding")
	}
	return padded[rosterLenPrefix : rosterLenPrefix+int(n)], nil
}
