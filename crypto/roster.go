package crypto

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// rosterFormat is the first byte of an encoded roster.
// Format 2 adds each member's KEMSig; format 3 the channel's relays;
// format 4 each member's side; format 5 the quorum rule and approvals.
const rosterFormat = 5

// MaxRelays is the most relays a channel may name.
const MaxRelays = 5

// MaxNameLen is the longest display name, in bytes of UTF-8.
const MaxNameLen = 64

// MaxSideLen is the longest side (delegation) name, in bytes of UTF-8.
const MaxSideLen = 32

// A Member is one entry of a roster: who they are (identity and display
// name, visible only inside ciphertext), what they may do, and the
// pseudonym keys they use in this channel.
type Member struct {
	Identity PublicIdentity
	Name     string
	// Side is the delegation the member belongs to ("A", "B",
	// "facilitators"); empty in a channel that declares no sides. Like
	// the name, it travels only inside the sealed roster.
	Side    string
	Role    Role
	Expires time.Time // zero: no expiry
	Keys    ChannelPublicKeys
	// Binding is the identity's signature over the pseudonym (Bind).
	Binding []byte
	// KEMSig is the pseudonym's signature over its current KEM key
	// (ChannelKeys.SignKEM): epochs are wrapped only to a key its
	// owner signed.
	KEMSig []byte
}

// ID returns the member's pseudonym KeyID.
func (m *Member) ID() KeyID { return m.Keys.ID() }

// ExpiredAt reports whether the membership has expired at now.
func (m *Member) ExpiredAt(now time.Time) bool { return expired(m.Expires, now) }

// A Roster is the cryptographic access list of a channel: its members,
// their roles and keys, and the secrecy policy, signed by an organizer.
// Version N+1 names the hash of version N; version is also the epoch
// number whose secrets are wrapped to exactly these members.
type Roster struct {
	Channel ChannelID
	Version uint64
	Prev    [32]byte // hash of version-1; zero for version 1
	Issued  time.Time
	Policy  Policy
	// Quorum is the channel's admission rule (quorum.go): QuorumNone, or
	// QuorumEverySide, under which the next roster must be approved by
	// an organizer of every side its change concerns.
	Quorum Quorum
	// Founder and Nonce derive Channel (NewChannelID); they let anyone
	// check version 1 without trusting whoever served it.
	Founder ed25519.PublicKey
	Nonce   [16]byte
	// Relays are the addresses (with certificate pins) of the relays the
	// channel lives on, in the organizers' order. They travel only inside
	// the sealed roster, so no relay learns the others from its data.
	Relays  []string
	Members []Member

	Signer    ed25519.PublicKey
	Signature []byte
	// Approvals are other organizers' signatures of the same roster
	// (Approve), which a quorum rule may require. They follow the
	// signature and are part of the roster's hash.
	Approvals []Approval
}

func (r *Roster) marshalSigned(b *cryptobyte.Builder) {
	b.AddUint8(rosterFormat)
	b.AddBytes(r.Channel[:])
	b.AddUint64(r.Version)
	b.AddBytes(r.Prev[:])
	b.AddUint64(unixSeconds(r.Issued))
	b.AddUint8(uint8(r.Policy))
	b.AddUint8(uint8(r.Quorum))
	b.AddBytes(r.Founder)
	b.AddBytes(r.Nonce[:])
	b.AddUint8(uint8(len(r.Relays)))
	for _, u := range r.Relays {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(u)) })
	}
	b.AddUint8(uint8(len(r.Members)))
	for i := range r.Members {
		m := &r.Members[i]
		m.Identity.marshal(b)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(m.Name)) })
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(m.Side)) })
		b.AddUint8(uint8(m.Role))
		b.AddUint64(unixSeconds(m.Expires))
		m.Keys.marshal(b)
		b.AddBytes(m.Binding)
		b.AddBytes(m.KEMSig)
	}
	b.AddBytes(r.Signer)
}

// signedBytes is the part of the encoding the signature covers.
func (r *Roster) signedBytes() ([]byte, error) {
	if err := r.checkShape(); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	r.marshalSigned(&b)
	return b.Bytes()
}

// checkShape checks what the encoding needs to be parseable again.
func (r *Roster) checkShape() error {
	switch {
	case len(r.Members) == 0 || len(r.Members) > MaxMembers:
		return malformed("roster", "member count out of range")
	case len(r.Founder) != ed25519.PublicKeySize || len(r.Signer) != ed25519.PublicKeySize:
		return malformed("roster", "bad founder or signer key")
	case !r.Policy.valid():
		return malformed("roster", "unknown policy")
	case !r.Quorum.valid():
		return malformed("roster", "unknown quorum rule")
	case len(r.Approvals) > MaxApprovals:
		return malformed("roster", "too many approvals")
	case r.Version == 0:
		return malformed("roster", "version 0")
	case len(r.Relays) > MaxRelays:
		return malformed("roster", "too many relays")
	}
	for i, u := range r.Relays {
		if len(u) == 0 || len(u) > MaxRelayURLLen || !utf8.ValidString(u) || slices.Contains(r.Relays[:i], u) {
			return malformed("roster", "bad or repeated relay address")
		}
	}
	seen := make(map[KeyID]bool)
	for i := range r.Members {
		m := &r.Members[i]
		switch {
		case !m.Role.valid():
			return malformed("roster", "unknown role")
		case len(m.Name) == 0 || len(m.Name) > MaxNameLen || !utf8.ValidString(m.Name):
			return malformed("roster", "bad display name")
		case len(m.Side) > MaxSideLen || !utf8.ValidString(m.Side):
			return malformed("roster", "bad side")
		case len(m.Binding) != SignatureSize || len(m.KEMSig) != SignatureSize || len(m.Identity.SigningKey) != ed25519.PublicKeySize ||
			len(m.Identity.KEMKey) != KEMPublicKeySize || len(m.Keys.SigningKey) != ed25519.PublicKeySize ||
			len(m.Keys.DHKey) != 32 || len(m.Keys.KEMKey) != KEMPublicKeySize:
			return malformed("roster", "bad member key length")
		case seen[m.ID()]:
			return malformed("roster", "duplicate member key")
		}
		seen[m.ID()] = true
	}
	return nil
}

// Sign sets the signer to k and signs the roster.
func (r *Roster) Sign(k *ChannelKeys) error {
	r.Signer = k.SigningPublicKey()
	msg, err := r.signedBytes()
	if err != nil {
		return err
	}
	r.Signature = k.sign(labelRosterSig, msg)
	return nil
}

// Marshal encodes a signed roster.
func (r *Roster) Marshal() ([]byte, error) {
	msg, err := r.signedBytes()
	if err != nil {
		return nil, err
	}
	if len(r.Signature) != SignatureSize {
		return nil, malformed("roster", "unsigned")
	}
	out := append(msg, r.Signature...)
	out = append(out, uint8(len(r.Approvals)))
	for _, a := range r.Approvals {
		out = append(append(out, a.Signer...), a.Signature...)
	}
	return out, nil
}

// ParseRoster decodes a roster. It checks the encoding only; call one of
// the Verify methods before trusting it.
func ParseRoster(data []byte) (*Roster, error) {
	s := cryptobyte.String(data)
	r := new(Roster)
	var format, policy, quorum, count, relays uint8
	var issued uint64
	var ch, prev, founder, nonce []byte
	if !s.ReadUint8(&format) || format != rosterFormat {
		return nil, malformed("roster", "unknown format")
	}
	if !s.ReadBytes(&ch, 16) || !s.ReadUint64(&r.Version) || !s.ReadBytes(&prev, 32) ||
		!s.ReadUint64(&issued) || !s.ReadUint8(&policy) || !s.ReadUint8(&quorum) || !s.ReadBytes(&founder, 32) ||
		!s.ReadBytes(&nonce, 16) || !s.ReadUint8(&relays) {
		return nil, malformed("roster", "truncated header")
	}
	if relays > MaxRelays {
		return nil, malformed("roster", "too many relays")
	}
	for range relays {
		var u cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&u) {
			return nil, malformed("roster", "truncated relay address")
		}
		r.Relays = append(r.Relays, string(u))
	}
	if !s.ReadUint8(&count) {
		return nil, malformed("roster", "truncated header")
	}
	copy(r.Channel[:], ch)
	copy(r.Prev[:], prev)
	copy(r.Nonce[:], nonce)
	r.Issued = fromUnixSeconds(issued)
	r.Policy, r.Quorum = Policy(policy), Quorum(quorum)
	r.Founder = bytes.Clone(founder)
	if count == 0 || int(count) > MaxMembers {
		return nil, malformed("roster", "member count out of range")
	}
	r.Members = make([]Member, count)
	for i := range r.Members {
		m := &r.Members[i]
		var name, side, binding, kemSig []byte
		var role uint8
		var expires uint64
		if !m.Identity.unmarshal(&s) || !s.ReadUint8LengthPrefixed((*cryptobyte.String)(&name)) ||
			!s.ReadUint8LengthPrefixed((*cryptobyte.String)(&side)) || !s.ReadUint8(&role) || !s.ReadUint64(&expires) || !m.Keys.unmarshal(&s) ||
			!s.ReadBytes(&binding, SignatureSize) || !s.ReadBytes(&kemSig, SignatureSize) {
			return nil, malformed("roster", fmt.Sprintf("member %d truncated or bad key", i))
		}
		m.Name, m.Side = string(name), string(side)
		m.Role = Role(role)
		m.Expires = fromUnixSeconds(expires)
		m.Binding, m.KEMSig = bytes.Clone(binding), bytes.Clone(kemSig)
	}
	var signer, sig []byte
	var approvals uint8
	if !s.ReadBytes(&signer, 32) || !s.ReadBytes(&sig, SignatureSize) || !s.ReadUint8(&approvals) || approvals > MaxApprovals {
		return nil, malformed("roster", "bad trailer")
	}
	r.Signer, r.Signature = bytes.Clone(signer), bytes.Clone(sig)
	for range approvals {
		var a, as []byte
		if !s.ReadBytes(&a, 32) || !s.ReadBytes(&as, SignatureSize) {
			return nil, malformed("roster", "bad approval")
		}
		r.Approvals = append(r.Approvals, Approval{Signer: bytes.Clone(a), Signature: bytes.Clone(as)})
	}
	if !s.Empty() {
		return nil, malformed("roster", "trailing data")
	}
	if err := r.checkShape(); err != nil {
		return nil, err
	}
	// Times beyond the encodable range do not survive the round trip;
	// rejecting them keeps every roster's encoding (and hash) unique.
	if again, _ := r.Marshal(); !bytes.Equal(again, data) {
		return nil, malformed("roster", "not canonical")
	}
	return r, nil
}

// Hash identifies a signed roster; the next version names it in Prev and
// epoch wraps are bound to it.
func (r *Roster) Hash() [32]byte {
	b, err := r.Marshal()
	if err != nil {
		return [32]byte{}
	}
	return labeledHash(labelRosterHash, b)
}

// Sides returns the sides the members belong to, in roster order, each
// once; none in a channel that declares no sides.
func (r *Roster) Sides() []string {
	var out []string
	for _, m := range r.Members {
		if m.Side != "" && !slices.Contains(out, m.Side) {
			out = append(out, m.Side)
		}
	}
	return out
}

// Member returns the member with pseudonym id, or nil.
func (r *Roster) Member(id KeyID) *Member {
	for i := range r.Members {
		if r.Members[i].ID() == id {
			return &r.Members[i]
		}
	}
	return nil
}

// Readers returns the members given compartment c's secret (for Side,
// side's), in roster order. Message tags are laid out in this order.
func (r *Roster) Readers(c Compartment, side string) []*Member {
	var out []*Member
	for i := range r.Members {
		if r.Members[i].Reads(c, side) {
			out = append(out, &r.Members[i])
		}
	}
	return out
}

// IsOrganizer reports whether pub is the pseudonym key of an organizer
// in r: who may sign the next roster and epoch bundle.
func (r *Roster) IsOrganizer(pub ed25519.PublicKey) bool {
	m := r.Member(KeyIDOf(pub))
	return m != nil && m.Role == RoleOrganizer
}

// Slot returns the position of id among the readers of compartment c
// (for Side, of id's own side): its tag slot in messages, or -1.
func (r *Roster) Slot(c Compartment, id KeyID) int {
	side := ""
	if m := r.Member(id); m != nil {
		side = m.Side
	}
	for i, m := range r.Readers(c, side) {
		if m.ID() == id {
			return i
		}
	}
	return -1
}

// verifySignature checks the signature and that the signer is an
// organizer of authority.
func (r *Roster) verifySignature(authority *Roster) error {
	msg, err := r.signedBytes()
	if err != nil {
		return err
	}
	if !verify(r.Signer, labelRosterSig, msg, r.Signature) {
		return fmt.Errorf("roster version %d: %w", r.Version, ErrBadSignature)
	}
	m := authority.Member(KeyIDOf(r.Signer))
	if m == nil || m.Role != RoleOrganizer {
		return fmt.Errorf("roster version %d: %w", r.Version, ErrUnknownSigner)
	}
	return nil
}

// verifyContent checks what must hold of every roster on its own: the
// policy's member cap, at least one organizer, and every member's binding.
func (r *Roster) verifyContent() error {
	if len(r.Members) > r.Policy.MemberCap() {
		return fmt.Errorf("roster version %d has %d members, cap %d: %w",
			r.Version, len(r.Members), r.Policy.MemberCap(), ErrPolicy)
	}
	organizers := 0
	for i := range r.Members {
		m := &r.Members[i]
		if m.Role == RoleOrganizer {
			organizers++
		}
		if err := VerifyBinding(&m.Identity, r.Channel, &m.Keys, m.Binding); err != nil {
			return fmt.Errorf("roster version %d, member %q: %w", r.Version, m.Name, err)
		}
		if err := VerifyKEM(r.Channel, &m.Keys, m.KEMSig); err != nil {
			return fmt.Errorf("roster version %d, member %q: %w", r.Version, m.Name, err)
		}
		if err := checkDHKey(m.Keys.DHKey); err != nil {
			return fmt.Errorf("roster version %d, member %q: %w", r.Version, m.Name, err)
		}
	}
	if organizers == 0 {
		return fmt.Errorf("roster version %d has no organizer: %w", r.Version, ErrPolicy)
	}
	return nil
}

// VerifyGenesis checks a version-1 roster without trusting anyone: the
// channel id derives from the founder key and nonce, and the founder, an
// organizer listed in it, signed it.
func (r *Roster) VerifyGenesis() error {
	if r.Version != 1 || r.Prev != [32]byte{} {
		return fmt.Errorf("roster version %d is not a genesis roster: %w", r.Version, ErrGap)
	}
	if NewChannelID(r.Founder, r.Nonce) != r.Channel {
		return fmt.Errorf("genesis roster: %w", ErrWrongChannel)
	}
	if !bytes.Equal(r.Signer, r.Founder) {
		return fmt.Errorf("genesis roster: %w", ErrUnknownSigner)
	}
	if err := r.verifySignature(r); err != nil {
		return err
	}
	return r.verifyContent()
}

// VerifyNext checks that r may replace cur: same channel and founder,
// exactly the next version, chained to cur's hash, signed by an organizer
// of cur. The error tells a rollback, a replay, a fork and a gap apart.
func (r *Roster) VerifyNext(cur *Roster) error {
	if err := r.verifyChain(cur); err != nil {
		return err
	}
	if err := r.verifySignature(cur); err != nil {
		return err
	}
	if err := r.verifyQuorum(cur); err != nil {
		return err
	}
	return r.verifyContent()
}

// verifyChain checks that r is cur's successor: same channel, the next
// version, chained to cur's hash.
func (r *Roster) verifyChain(cur *Roster) error {
	if r.Channel != cur.Channel || !bytes.Equal(r.Founder, cur.Founder) || r.Nonce != cur.Nonce {
		return fmt.Errorf("roster: %w", ErrWrongChannel)
	}
	switch {
	case r.Version < cur.Version:
		return fmt.Errorf("roster version %d after %d: %w", r.Version, cur.Version, ErrRollback)
	case r.Version == cur.Version && r.Hash() == cur.Hash():
		return fmt.Errorf("roster version %d: %w", r.Version, ErrDuplicate)
	case r.Version == cur.Version:
		return fmt.Errorf("two different rosters with version %d: %w", r.Version, ErrFork)
	case r.Version > cur.Version+1:
		return fmt.Errorf("roster version %d after %d: %w", r.Version, cur.Version, ErrGap)
	case r.Prev != cur.Hash():
		return fmt.Errorf("roster version %d does not follow the held version %d: %w",
			r.Version, cur.Version, ErrFork)
	}
	return nil
}

// VerifyInvited checks the first roster a new member sees, which it cannot
// chain to anything it holds: it must be signed by the organizer whose key
// id the invite named, who must be an organizer in it, and it must list
// self.
func (r *Roster) VerifyInvited(inv *Invite, self KeyID) error {
	if r.Channel != inv.Channel || NewChannelID(r.Founder, r.Nonce) != r.Channel {
		return fmt.Errorf("roster: %w", ErrWrongChannel)
	}
	if KeyIDOf(r.Signer) != inv.Organizer {
		return fmt.Errorf("roster not signed by the inviting organizer: %w", ErrUnknownSigner)
	}
	if err := r.verifySignature(r); err != nil {
		return err
	}
	if r.Member(self) == nil {
		return fmt.Errorf("roster version %d: %w", r.Version, ErrNotMember)
	}
	return r.verifyContent()
}
