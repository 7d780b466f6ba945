package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"
)

const (
	// Format 2 adds the channel's other relays.
	inviteFormat = 2
	// InvitePrefix starts every invite code.
	InvitePrefix = "parley-invite-"
	// MaxRelayURLLen bounds the relay URL inside an invite.
	MaxRelayURLLen = 512
)

const inviteAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

var inviteEncoding = base32.NewEncoding(inviteAlphabet).WithPadding(base32.NoPadding)

// An Invite is the single-use code an organizer hands to one invitee out
// of band. Whoever holds it can post one join request, and only the
// organizer who made it can read that request. The relay never sees the
// secret: it sees only the token, a one-way function of it.
type Invite struct {
	RelayURL string
	// Pin is the SHA-256 of the relay certificate's public key.
	Pin [32]byte
	// MoreRelays are the channel's other relays, to which the join
	// request also goes.
	MoreRelays []InviteRelay
	Channel    ChannelID
	Secret     [32]byte
	Organizer  KeyID // the inviting organizer's pseudonym
	Role       Role
	Expires    time.Time
	// Name is the organizer's name for the channel, which the invitee's
	// client uses as its local name unless told otherwise. It travels
	// only in the code, never to the relay.
	Name string
}

// InviteRelay is one more relay of the channel: its address and the
// SHA-256 of its certificate's public key.
type InviteRelay struct {
	URL string
	Pin [32]byte
}

// NewInvite makes an invite with a fresh random secret.
func NewInvite(relayURL string, pin [32]byte, channel ChannelID, organizer KeyID, role Role, expires time.Time, name string) (*Invite, error) {
	if expires.IsZero() {
		return nil, fmt.Errorf("invites must expire: %w", ErrPolicy)
	}
	inv := &Invite{RelayURL: relayURL, Pin: pin, Channel: channel, Organizer: organizer, Role: role, Expires: expires.UTC().Truncate(time.Second), Name: name}
	rand.Read(inv.Secret[:])
	if _, err := inv.payload(); err != nil {
		return nil, err
	}
	return inv, nil
}

func (inv *Invite) payload() ([]byte, error) {
	if len(inv.RelayURL) == 0 || len(inv.RelayURL) > MaxRelayURLLen || !utf8.ValidString(inv.RelayURL) {
		return nil, malformed("invite", "bad relay URL")
	}
	if !inv.Role.valid() {
		return nil, malformed("invite", "unknown role")
	}
	if len(inv.Name) > MaxNameLen || !utf8.ValidString(inv.Name) {
		return nil, malformed("invite", "bad channel name")
	}
	if len(inv.MoreRelays) >= MaxRelays {
		return nil, malformed("invite", "too many relays")
	}
	for _, r := range inv.MoreRelays {
		if len(r.URL) == 0 || len(r.URL) > MaxRelayURLLen || !utf8.ValidString(r.URL) {
			return nil, malformed("invite", "bad relay URL")
		}
	}
	var b cryptobyte.Builder
	b.AddUint8(inviteFormat)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(inv.RelayURL)) })
	b.AddBytes(inv.Pin[:])
	b.AddBytes(inv.Channel[:])
	b.AddBytes(inv.Secret[:])
	b.AddBytes(inv.Organizer[:])
	b.AddUint8(uint8(inv.Role))
	b.AddUint64(unixSeconds(inv.Expires))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(inv.Name)) })
	b.AddUint8(uint8(len(inv.MoreRelays)))
	for _, r := range inv.MoreRelays {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.URL)) })
		b.AddBytes(r.Pin[:])
	}
	return b.Bytes()
}

// String encodes the invite as a code: the prefix, then lowercase base32
// of the fields and a 4-byte checksum that catches typing mistakes.
func (inv *Invite) String() string {
	p, err := inv.payload()
	if err != nil {
		return ""
	}
	sum := labeledHash(labelInviteCheck, p)
	return InvitePrefix + inviteEncoding.EncodeToString(append(p, sum[:4]...))
}

// ParseInvite decodes an invite code. Surrounding space is ignored, and
// so are case and the line breaks mail clients insert.
func ParseInvite(code string) (*Invite, error) {
	code = strings.ToLower(strings.Join(strings.Fields(code), ""))
	if !strings.HasPrefix(code, InvitePrefix) {
		return nil, malformed("invite", "does not start with "+InvitePrefix)
	}
	raw, err := inviteEncoding.DecodeString(code[len(InvitePrefix):])
	if err != nil || len(raw) < 5 {
		return nil, malformed("invite", "not valid base32")
	}
	p, sum := raw[:len(raw)-4], raw[len(raw)-4:]
	want := labeledHash(labelInviteCheck, p)
	if !bytes.Equal(sum, want[:4]) {
		return nil, ErrChecksum
	}
	s := cryptobyte.String(p)
	inv := new(Invite)
	var format, role, more uint8
	var url, name cryptobyte.String
	var expires uint64
	if !s.ReadUint8(&format) || format != inviteFormat {
		return nil, malformed("invite", "unknown format")
	}
	if !s.ReadUint16LengthPrefixed(&url) || !s.CopyBytes(inv.Pin[:]) || !s.CopyBytes(inv.Channel[:]) ||
		!s.CopyBytes(inv.Secret[:]) || !s.CopyBytes(inv.Organizer[:]) || !s.ReadUint8(&role) ||
		!s.ReadUint64(&expires) || !s.ReadUint8LengthPrefixed(&name) || !s.ReadUint8(&more) || more >= MaxRelays {
		return nil, malformed("invite", "truncated")
	}
	for range more {
		var r InviteRelay
		var u cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&u) || !s.CopyBytes(r.Pin[:]) {
			return nil, malformed("invite", "truncated relay")
		}
		r.URL = string(u)
		inv.MoreRelays = append(inv.MoreRelays, r)
	}
	if !s.Empty() {
		return nil, malformed("invite", "trailing bytes")
	}
	inv.RelayURL, inv.Role, inv.Expires, inv.Name = string(url), Role(role), fromUnixSeconds(expires), string(name)
	if inv.Expires.IsZero() {
		return nil, malformed("invite", "no expiry")
	}
	again, err := inv.payload()
	if err != nil {
		return nil, err
	}
	// Base32 leaves unused bits in the last character; only the one
	// canonical spelling of each code is accepted.
	if !bytes.Equal(again, p) || inv.String() != code {
		return nil, malformed("invite", "not canonical")
	}
	return inv, nil
}

// IsOrganizer reports whether pub is the inviting organizer's key: the
// one whose epoch bundle a newcomer accepts first.
func (inv *Invite) IsOrganizer(pub ed25519.PublicKey) bool { return KeyIDOf(pub) == inv.Organizer }

// ExpiredAt reports whether the invite has expired at now.
func (inv *Invite) ExpiredAt(now time.Time) bool { return expired(inv.Expires, now) }

// Token is the capability the invitee presents to the relay to post its
// join request. It reveals nothing about the secret.
func (inv *Invite) Token() [32]byte {
	return [32]byte(deriveKey(inv.Secret[:], labelInviteToken, 32, inv.Channel[:]))
}

// TokenID is what the organizer registers at the relay: a hash of Token,
// so that the relay's store cannot be used to post a join request.
func TokenID(token [32]byte) [32]byte { return labeledHash(labelInviteTokenID, token[:]) }

// A JoinRequest is what an invitee sends through the relay to the
// organizer: who they are and the pseudonym they made for the channel.
type JoinRequest struct {
	Identity PublicIdentity
	Name     string
	Keys     ChannelPublicKeys
	Binding  []byte
	KEMSig   []byte // the pseudonym's signature over its KEM key (SignKEM)
}

// NewJoinRequest builds the request of identity id, signing the binding
// of its pseudonym keys to the invite's channel.
func NewJoinRequest(inv *Invite, id *Identity, name string, keys *ChannelKeys) (*JoinRequest, error) {
	if len(name) == 0 || len(name) > MaxNameLen || !utf8.ValidString(name) {
		return nil, fmt.Errorf("display name must be 1 to %d bytes of UTF-8: %w", MaxNameLen, ErrMalformed)
	}
	pub := keys.Public()
	return &JoinRequest{Identity: *id.Public(), Name: name, Keys: *pub, Binding: id.Bind(inv.Channel, pub), KEMSig: keys.SignKEM(inv.Channel)}, nil
}

// Format 2 adds the KEMSig.
const joinFormat = 2

func (inv *Invite) joinAEAD() cipherAEAD {
	k := deriveKey(inv.Secret[:], labelJoinKey, chacha20poly1305.KeySize, inv.Channel[:])
	a, _ := chacha20poly1305.NewX(k)
	return a
}

// SealedJoinSize is the fixed size of a sealed join request.
const SealedJoinSize = EnvelopeSize

// SealJoinRequest encrypts a join request under a key derived from the
// invite secret, padded to SealedJoinSize.
func (inv *Invite) SealJoinRequest(req *JoinRequest) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(joinFormat)
	req.Identity.marshal(&b)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(req.Name)) })
	req.Keys.marshal(&b)
	b.AddBytes(req.Binding)
	b.AddBytes(req.KEMSig)
	pt, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	a := inv.joinAEAD()
	padded := make([]byte, SealedJoinSize-a.NonceSize()-a.Overhead())
	copy(padded, pt)
	out := make([]byte, a.NonceSize(), SealedJoinSize)
	rand.Read(out)
	return a.Seal(out, out, padded, []byte(labelJoinAD)), nil
}

// OpenJoinRequest decrypts and checks a sealed join request made for this
// invite: its binding signature must verify.
func (inv *Invite) OpenJoinRequest(sealed []byte) (*JoinRequest, error) {
	a := inv.joinAEAD()
	if len(sealed) != SealedJoinSize {
		return nil, malformed("join request", "wrong size")
	}
	pt, err := a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], []byte(labelJoinAD))
	if err != nil {
		return nil, fmt.Errorf("join request: %w", ErrDecrypt)
	}
	s := cryptobyte.String(pt)
	req := new(JoinRequest)
	var format uint8
	var name cryptobyte.String
	var binding, kemSig []byte
	if !s.ReadUint8(&format) || format != joinFormat || !req.Identity.unmarshal(&s) ||
		!s.ReadUint8LengthPrefixed(&name) || !req.Keys.unmarshal(&s) || !s.ReadBytes(&binding, SignatureSize) ||
		!s.ReadBytes(&kemSig, SignatureSize) {
		return nil, malformed("join request", "truncated or bad key")
	}
	if !allZero(s) {
		return nil, malformed("join request", "non-zero padding")
	}
	req.Name, req.Binding, req.KEMSig = string(name), bytes.Clone(binding), bytes.Clone(kemSig)
	if len(req.Name) == 0 || len(req.Name) > MaxNameLen || !utf8.ValidString(req.Name) {
		return nil, malformed("join request", "bad display name")
	}
	if err := VerifyBinding(&req.Identity, inv.Channel, &req.Keys, req.Binding); err != nil {
		return nil, fmt.Errorf("join request: %w", err)
	}
	if err := VerifyKEM(inv.Channel, &req.Keys, req.KEMSig); err != nil {
		return nil, fmt.Errorf("join request: %w", err)
	}
	if err := checkDHKey(req.Keys.DHKey); err != nil {
		return nil, fmt.Errorf("join request: %w", err)
	}
	return req, nil
}

// Member turns an accepted join request into a roster entry.
func (req *JoinRequest) Member(role Role, expires time.Time) Member {
	return Member{Identity: req.Identity, Name: req.Name, Role: role, Expires: expires, Keys: req.Keys, Binding: bytes.Clone(req.Binding), KEMSig: bytes.Clone(req.KEMSig)}
}

// allZero reports whether b is all zero bytes, in time that depends only
// on len(b). It reads 32 bytes at a time: message padding is up to
// 16 KiB.
func allZero(b []byte) bool {
	var a0, a1, a2, a3 uint64
	for len(b) >= 32 {
		a0 |= binary.LittleEndian.Uint64(b)
		a1 |= binary.LittleEndian.Uint64(b[8:])
		a2 |= binary.LittleEndian.Uint64(b[16:])
		a3 |= binary.LittleEndian.Uint64(b[24:])
		b = b[32:]
	}
	for _, c := range b {
		a0 |= uint64(c)
	}
	return a0|a1|a2|a3 == 0
}
