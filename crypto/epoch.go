package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"
)

// EpochSecrets are the fresh random secrets of one epoch, and what they
// are bound to. A mentor's EpochSecrets has no Talks secret; only an
// organizer's has the Admin secret, from which the epoch's
// administration key at the relay derives (AdminKey). AdminPublic is
// that key's public half, which every member learns from the bundle.
type EpochSecrets struct {
	Channel     ChannelID
	Epoch       uint64
	RosterHash  [32]byte
	Talks       *[32]byte // nil when this member may not read talks
	Briefings   [32]byte
	Admin       *[32]byte // nil unless this member is an organizer
	AdminPublic ed25519.PublicKey
	// Side is the secret of this member's side's briefings (Side); nil
	// for a member of no side. sides holds every side's, only in the
	// secrets of the organizer who makes the epoch, for the wraps.
	Side  *[32]byte
	sides map[string]*[32]byte
}

// NewEpochSecrets makes fresh secrets for the epoch of roster r (whose
// version is the epoch number), a fresh administration key among them.
func NewEpochSecrets(r *Roster) *EpochSecrets {
	s := &EpochSecrets{Channel: r.Channel, Epoch: r.Version, RosterHash: r.Hash(), Talks: new([32]byte), Admin: new([32]byte)}
	rand.Read(s.Talks[:])
	rand.Read(s.Briefings[:])
	rand.Read(s.Admin[:])
	s.AdminPublic = NewAdminKey(s.Channel, s.Epoch, *s.Admin).SigningPublicKey()
	for _, side := range r.Sides() {
		if s.sides == nil {
			s.sides = map[string]*[32]byte{}
		}
		k := new([32]byte)
		rand.Read(k[:])
		s.sides[side] = k
	}
	return s
}

// secret returns the secret of compartment c.
func (s *EpochSecrets) secret(c Compartment) ([]byte, error) {
	switch {
	case c == Talks && s.Talks != nil:
		return s.Talks[:], nil
	case c == Briefings:
		return s.Briefings[:], nil
	case c == Side && s.Side != nil:
		return s.Side[:], nil
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

// wrapPlaintextSize is the same for every role and side so that wrap
// sizes do not tell the relay who is a mentor, an organizer or of a side:
// flags, briefings, talks, admin, side secrets (zero where not given).
const wrapPlaintextSize = 1 + 32 + 32 + 32 + 32

const (
	wrapBriefingsOnly = 1
	wrapBoth          = 2
	wrapOrganizer     = 3 // both compartments and the admin secret
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
		copy(pt[33:65], s.Talks[:])
	}
	if m.Role == RoleOrganizer {
		if s.Admin == nil {
			return nil, fmt.Errorf("wrapping the admin secret: %w", ErrNoCompartment)
		}
		pt[0] = wrapOrganizer
		copy(pt[65:97], s.Admin[:])
	}
	if m.Side != "" {
		k := s.sides[m.Side]
		if k == nil {
			return nil, fmt.Errorf("wrapping side %q: %w", m.Side, ErrNoCompartment)
		}
		copy(pt[97:], k[:])
	}
	kdf, aead := hpkeSuite()
	return hpke.Seal(pub, kdf, aead, wrapInfo(s.Channel, s.Epoch, s.RosterHash, m.ID()), pt)
}

// decoyWrap is a wrap to a KEM key made for it and thrown away: the
// same size and the same kind of bytes as a member's, for a recipient
// id nobody holds.
func (s *EpochSecrets) decoyWrap() (Wrap, error) {
	k, err := GenerateChannelKeys()
	if err != nil {
		return Wrap{}, err
	}
	pt := make([]byte, wrapPlaintextSize)
	rand.Read(pt)
	kdf, aead := hpkeSuite()
	sealed, err := hpke.Seal(k.kem.PublicKey(), kdf, aead, wrapInfo(s.Channel, s.Epoch, s.RosterHash, k.ID()), pt)
	return Wrap{Recipient: k.ID(), Sealed: sealed}, err
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
	if !allZero(pt[97:]) {
		s.Side = (*[32]byte)(bytes.Clone(pt[97:]))
	}
	switch pt[0] {
	case wrapOrganizer:
		s.Admin = (*[32]byte)(bytes.Clone(pt[65:97]))
		s.Talks = (*[32]byte)(bytes.Clone(pt[33:65]))
	case wrapBoth:
		s.Talks = (*[32]byte)(bytes.Clone(pt[33:65]))
		if !allZero(pt[65:97]) {
			return nil, malformed("epoch wrap", "non-zero padding")
		}
	case wrapBriefingsOnly:
		if !allZero(pt[33:97]) {
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
// current KEM key, padded with decoy wraps to a bucket. Two signatures:
// inside the sealed roster, the organizer who signed the roster signs
// the bundle (so no member can pass off other secrets as this epoch's,
// and the relay never sees which pseudonym made it); outside, the
// channel's administration key of the epoch before signs it (so a
// member the new epoch leaves out can tell a removal from a bundle the
// relay made up, and the relay learns nothing it did not know).
type EpochBundle struct {
	Channel      ChannelID
	Epoch        uint64
	RosterHash   [32]byte
	SealedRoster []byte
	Wraps        []Wrap

	// AdminSignature is by the administration key of epoch Epoch-1 (of
	// this epoch itself for a channel's first).
	AdminSignature []byte
}

// A Wrap is one member's sealed copy of the epoch secrets.
type Wrap struct {
	Recipient KeyID
	Sealed    []byte
}

const bundleFormat = 2

// maxSealedRoster bounds the encrypted roster (MaxMembers entries).
const maxSealedRoster = 1 << 20

// NewEpochBundle seals roster r and the secrets s for r's members. The
// organizer signer, who must be r's signer, signs inside the seal; prev,
// the administration key of the epoch before (for a channel's first
// epoch, nil: then s's own), signs outside.
func NewEpochBundle(r *Roster, s *EpochSecrets, signer *ChannelKeys, prev *AdminKey) (*EpochBundle, error) {
	if !bytes.Equal(r.Signer, signer.SigningPublicKey()) {
		return nil, fmt.Errorf("epoch bundle: signer is not the roster's: %w", ErrUnknownSigner)
	}
	if s.Epoch != r.Version || s.Channel != r.Channel || s.RosterHash != r.Hash() {
		return nil, fmt.Errorf("epoch bundle: secrets are not for roster version %d: %w", r.Version, ErrWrongEpoch)
	}
	if prev == nil {
		var err error
		if prev, err = s.AdminKey(); err != nil {
			return nil, err
		}
	}
	raw, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	b := &EpochBundle{Channel: r.Channel, Epoch: r.Version, RosterHash: s.RosterHash}
	for i := range r.Members {
		w, err := s.wrapFor(&r.Members[i])
		if err != nil {
			return nil, err
		}
		b.Wraps = append(b.Wraps, Wrap{Recipient: r.Members[i].ID(), Sealed: w})
	}
	for len(b.Wraps) < MemberBucket(len(r.Members)) {
		w, err := s.decoyWrap()
		if err != nil {
			return nil, err
		}
		b.Wraps = append(b.Wraps, w)
	}
	sort.Slice(b.Wraps, func(i, j int) bool { return bytes.Compare(b.Wraps[i].Recipient[:], b.Wraps[j].Recipient[:]) < 0 })
	inner, err := b.innerSignedBytes(s.AdminPublic)
	if err != nil {
		return nil, err
	}
	sig := signer.sign(labelEpochBundleSig, inner)
	a := s.rosterAEAD()
	sealed := make([]byte, a.NonceSize())
	rand.Read(sealed)
	b.SealedRoster = a.Seal(sealed, sealed, padRoster(sig, s.AdminPublic, raw, MemberBucket(len(r.Members))), nil)
	msg, err := b.signedBytes()
	if err != nil {
		return nil, err
	}
	b.AdminSignature = prev.sign(labelEpochBundleAdmin, msg)
	return b, nil
}

func (b *EpochBundle) addHeader(bb *cryptobyte.Builder) {
	bb.AddUint8(bundleFormat)
	bb.AddBytes(b.Channel[:])
	bb.AddUint64(b.Epoch)
	bb.AddBytes(b.RosterHash[:])
}

func (b *EpochBundle) addWraps(bb *cryptobyte.Builder) {
	bb.AddUint8(uint8(len(b.Wraps)))
	for _, w := range b.Wraps {
		bb.AddBytes(w.Recipient[:])
		bb.AddUint16LengthPrefixed(func(bb *cryptobyte.Builder) { bb.AddBytes(w.Sealed) })
	}
}

func (b *EpochBundle) checkShape() error {
	if !isBucket(len(b.Wraps)) || len(b.SealedRoster) > maxSealedRoster {
		return malformed("epoch bundle", "field out of range")
	}
	return nil
}

// innerSignedBytes is what the organizer signs inside the seal: the
// bundle without its sealed roster, and the epoch's administration key.
func (b *EpochBundle) innerSignedBytes(adminPublic ed25519.PublicKey) ([]byte, error) {
	if err := b.checkShape(); err != nil {
		return nil, err
	}
	var bb cryptobyte.Builder
	b.addHeader(&bb)
	b.addWraps(&bb)
	bb.AddBytes(adminPublic)
	return bb.Bytes()
}

// signedBytes is what the administration key signs: all of the bundle
// but that signature.
func (b *EpochBundle) signedBytes() ([]byte, error) {
	if err := b.checkShape(); err != nil {
		return nil, err
	}
	var bb cryptobyte.Builder
	b.addHeader(&bb)
	bb.AddUint24LengthPrefixed(func(bb *cryptobyte.Builder) { bb.AddBytes(b.SealedRoster) })
	b.addWraps(&bb)
	return bb.Bytes()
}

// Marshal encodes the bundle.
func (b *EpochBundle) Marshal() ([]byte, error) {
	msg, err := b.signedBytes()
	if err != nil {
		return nil, err
	}
	if len(b.AdminSignature) != SignatureSize {
		return nil, malformed("epoch bundle", "unsigned")
	}
	return append(msg, b.AdminSignature...), nil
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
	if !isBucket(int(n)) {
		return nil, malformed("epoch bundle", "wrap count out of range")
	}
	for i := 0; i < int(n); i++ {
		var w Wrap
		var sw cryptobyte.String
		if !s.CopyBytes(w.Recipient[:]) || !s.ReadUint16LengthPrefixed(&sw) {
			return nil, malformed("epoch bundle", "truncated wrap")
		}
		if i > 0 && bytes.Compare(b.Wraps[i-1].Recipient[:], w.Recipient[:]) >= 0 {
			return nil, malformed("epoch bundle", "wraps not in order, or two for one key")
		}
		w.Sealed = bytes.Clone(sw)
		b.Wraps = append(b.Wraps, w)
	}
	var sig []byte
	if !s.ReadBytes(&sig, SignatureSize) || !s.Empty() {
		return nil, malformed("epoch bundle", "bad trailer")
	}
	b.AdminSignature = bytes.Clone(sig)
	if len(b.SealedRoster) > maxSealedRoster {
		return nil, malformed("epoch bundle", "roster too large")
	}
	return b, nil
}

// VerifyAdmin checks the outer signature under admin, the
// administration key of the epoch before (or of the bundle's own epoch
// for a channel's first).
func (b *EpochBundle) VerifyAdmin(admin ed25519.PublicKey) error {
	msg, err := b.signedBytes()
	if err != nil {
		return err
	}
	if !verify(admin, labelEpochBundleAdmin, msg, b.AdminSignature) {
		return fmt.Errorf("epoch %d bundle: %w", b.Epoch, ErrBadSignature)
	}
	return nil
}

// Open checks the bundle and unwraps the secrets addressed to k. prev is
// the administration key of the epoch before, which the caller learned
// from that epoch's bundle (nil for a newcomer, who has none: it relies
// on the organizer's signature alone). authorized says whether a signer
// may start epochs: an organizer of the roster the caller holds
// (Roster.IsOrganizer), or for a newcomer the organizer its invite names
// (Invite.IsOrganizer). The caller must still verify the roster against
// what it holds (Roster.VerifyNext, VerifyGenesis or VerifyInvited)
// before using either result. ErrNotMember from a bundle that passed
// prev's check means k was left out: removed by an organizer.
func (b *EpochBundle) Open(k *ChannelKeys, prev ed25519.PublicKey, authorized func(signer ed25519.PublicKey) bool) (*EpochSecrets, *Roster, error) {
	if prev != nil {
		if err := b.VerifyAdmin(prev); err != nil {
			return nil, nil, err
		}
	} else if err := b.checkShape(); err != nil {
		return nil, nil, err
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
	sig, adminPublic, raw, err := unpadRoster(padded)
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
	}
	inner, err := b.innerSignedBytes(adminPublic)
	if err != nil {
		return nil, nil, err
	}
	if !verify(r.Signer, labelEpochBundleSig, inner, sig) {
		return nil, nil, fmt.Errorf("epoch %d bundle: %w", b.Epoch, ErrBadSignature)
	}
	if !authorized(r.Signer) {
		return nil, nil, fmt.Errorf("epoch %d bundle: %w", b.Epoch, ErrUnknownSigner)
	}
	// A member of a side holds that side's secret, and only then.
	if m := r.Member(k.ID()); m == nil || (m.Side != "") != (s.Side != nil) {
		return nil, nil, fmt.Errorf("epoch %d: the side secret does not match the roster: %w", b.Epoch, ErrMismatch)
	}
	if prev == nil && b.Epoch == 1 {
		// A channel's first bundle is signed by its own administration key.
		if err := b.VerifyAdmin(adminPublic); err != nil {
			return nil, nil, err
		}
	}
	if s.Admin != nil && !bytes.Equal(NewAdminKey(s.Channel, s.Epoch, *s.Admin).SigningPublicKey(), adminPublic) {
		return nil, nil, fmt.Errorf("epoch %d: the administration key does not match its secret: %w", b.Epoch, ErrMismatch)
	}
	s.AdminPublic = bytes.Clone(adminPublic)
	if err := b.checkWrapsMatch(r); err != nil {
		return nil, nil, err
	}
	return s, r, nil
}

// checkWrapsMatch: one wrap per member, and only decoys besides, so the
// bundle is padded exactly to the roster's bucket. (A decoy cannot be
// told from a wrap to an outsider; an organizer who wanted to give an
// outsider the secrets could do so outside the channel anyway.)
func (b *EpochBundle) checkWrapsMatch(r *Roster) error {
	if len(b.Wraps) != MemberBucket(len(r.Members)) {
		return fmt.Errorf("epoch %d: %d wraps for %d members: %w", b.Epoch, len(b.Wraps), len(r.Members), ErrMismatch)
	}
	for i := range r.Members {
		id := r.Members[i].ID()
		if !slices.ContainsFunc(b.Wraps, func(w Wrap) bool { return w.Recipient == id }) {
			return fmt.Errorf("epoch %d: no wrap for %s: %w", b.Epoch, r.Members[i].Name, ErrMismatch)
		}
	}
	return nil
}

// Encoded sizes of a roster: a fixed part and a part per member whose
// only variable fields are the display name and the side.
const (
	rosterFixedSize = 1 + 16 + 8 + 32 + 8 + 1 + 1 + 32 + 16 + 1 + 32 + SignatureSize + 1 + MaxApprovals*(32+SignatureSize)
	memberFixedSize = 32 + KEMPublicKeySize + 1 + 1 + 1 + 8 + 32 + 32 + KEMPublicKeySize + 2*SignatureSize
	rosterLenPrefix = 4
	// relaysMaxSize is the largest relay list: its count, then each
	// address with its length. Padding to it hides how many relays a
	// channel has, and their addresses' lengths.
	relaysMaxSize = 1 + MaxRelays*(2+MaxRelayURLLen)
)

// padRoster lays out the sealed roster's plaintext: the organizer's
// signature of the bundle, the epoch's administration key, the roster,
// and zeros to the size of a roster of n members with the longest
// names and sides, so that its length tells the relay the member count only to a
// bucket and nothing about names.
func padRoster(sig []byte, adminPublic ed25519.PublicKey, raw []byte, n int) []byte {
	out := make([]byte, sealedPrefix+rosterFixedSize+relaysMaxSize+n*(memberFixedSize+MaxNameLen+MaxSideLen))
	copy(out, sig)
	copy(out[SignatureSize:], adminPublic)
	binary.BigEndian.PutUint32(out[SignatureSize+ed25519.PublicKeySize:], uint32(len(raw)))
	copy(out[sealedPrefix:], raw)
	return out
}

const sealedPrefix = SignatureSize + ed25519.PublicKeySize + rosterLenPrefix

func unpadRoster(padded []byte) (sig []byte, adminPublic ed25519.PublicKey, raw []byte, err error) {
	if len(padded) < sealedPrefix {
		return nil, nil, nil, malformed("sealed roster", "too short")
	}
	n := binary.BigEndian.Uint32(padded[SignatureSize+ed25519.PublicKeySize:])
	if uint64(n) > uint64(len(padded)-sealedPrefix) || !allZero(padded[sealedPrefix+int(n):]) {
		return nil, nil, nil, malformed("sealed roster", "bad length or padding")
	}
	return padded[:SignatureSize], padded[SignatureSize : SignatureSize+ed25519.PublicKeySize], padded[sealedPrefix : sealedPrefix+int(n)], nil
}
