package crypto

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// Capability is a set of operations a pseudonym key may perform at the
// relay.
type Capability uint8

const (
	CapReadTalks     Capability = 1 << 0
	CapReadBriefings Capability = 1 << 1
	// CapWrite allows posting to the compartments the key may read.
	CapWrite Capability = 1 << 2
	// CapAdmin allows replacing the access list, registering invites,
	// reading join requests, posting epoch bundles and burning.
	CapAdmin Capability = 1 << 3

	capAll = CapReadTalks | CapReadBriefings | CapWrite | CapAdmin
)

// Has reports whether every capability in want is in c.
func (c Capability) Has(want Capability) bool { return c&want == want }

// CanRead reports whether c includes reading compartment comp.
func (c Capability) CanRead(comp Compartment) bool {
	switch comp {
	case Talks:
		return c.Has(CapReadTalks)
	case Briefings:
		return c.Has(CapReadBriefings)
	}
	return false
}

// CanWrite reports whether c includes posting to compartment comp.
func (c Capability) CanWrite(comp Compartment) bool { return c.Has(CapWrite) && c.CanRead(comp) }

// RoleCapabilities maps a roster role to relay capabilities.
func RoleCapabilities(r Role) Capability {
	switch r {
	case RoleOrganizer:
		return capAll
	case RoleParticipant:
		return CapReadTalks | CapReadBriefings | CapWrite
	case RoleMentor:
		return CapReadBriefings | CapWrite
	}
	return 0
}

// An AccessEntry is what the relay knows of one member: a pseudonym key,
// its capabilities and when it stops working. No name, no identity.
type AccessEntry struct {
	Key     ed25519.PublicKey
	Caps    Capability
	Expires time.Time // zero: no expiry
}

// ExpiredAt reports whether the entry has expired at now.
func (e *AccessEntry) ExpiredAt(now time.Time) bool { return expired(e.Expires, now) }

// An AccessList is the relay's view of a channel, signed by a key with
// CapAdmin in the previous list. Versions strictly increase.
type AccessList struct {
	Channel   ChannelID
	Version   uint64
	Retention time.Duration // whole seconds; how long the relay keeps frames
	Entries   []AccessEntry

	Signer    ed25519.PublicKey
	Signature []byte
}

const accessListFormat = 1

// AccessListFor derives the relay access list of a roster: each member's
// pseudonym signing key with the capabilities of its role and its expiry,
// the policy's retention, and the roster's version.
func AccessListFor(r *Roster) *AccessList {
	a := &AccessList{Channel: r.Channel, Version: r.Version, Retention: r.Policy.Retention()}
	for i := range r.Members {
		m := &r.Members[i]
		a.Entries = append(a.Entries, AccessEntry{Key: bytes.Clone(m.Keys.SigningKey), Caps: RoleCapabilities(m.Role), Expires: m.Expires})
	}
	return a
}

func (a *AccessList) signedBytes() ([]byte, error) {
	if len(a.Entries) == 0 || len(a.Entries) > MaxMembers || len(a.Signer) != ed25519.PublicKeySize ||
		a.Version == 0 || a.Retention < time.Second || a.Retention >= 1<<32*time.Second ||
		a.Retention%time.Second != 0 {
		return nil, malformed("access list", "field out of range")
	}
	seen := make(map[string]bool)
	var b cryptobyte.Builder
	b.AddUint8(accessListFormat)
	b.AddBytes(a.Channel[:])
	b.AddUint64(a.Version)
	b.AddUint32(uint32(a.Retention / time.Second))
	b.AddUint8(uint8(len(a.Entries)))
	for _, e := range a.Entries {
		if len(e.Key) != ed25519.PublicKeySize || e.Caps&^capAll != 0 || e.Caps == 0 || seen[string(e.Key)] {
			return nil, malformed("access list", "bad entry")
		}
		seen[string(e.Key)] = true
		b.AddBytes(e.Key)
		b.AddUint8(uint8(e.Caps))
		b.AddUint64(unixSeconds(e.Expires))
	}
	b.AddBytes(a.Signer)
	return b.Bytes()
}

// Sign sets the signer to k and signs the list.
func (a *AccessList) Sign(k *ChannelKeys) error {
	a.Signer = k.SigningPublicKey()
	msg, err := a.signedBytes()
	if err != nil {
		return err
	}
	a.Signature = k.sign(labelAccessListSig, msg)
	return nil
}

// Marshal encodes a signed access list.
func (a *AccessList) Marshal() ([]byte, error) {
	msg, err := a.signedBytes()
	if err != nil {
		return nil, err
	}
	if len(a.Signature) != SignatureSize {
		return nil, malformed("access list", "unsigned")
	}
	return append(msg, a.Signature...), nil
}

// ParseAccessList decodes an access list; verify it before use.
func ParseAccessList(data []byte) (*AccessList, error) {
	s := cryptobyte.String(data)
	a := new(AccessList)
	var format, n uint8
	var retention uint32
	if !s.ReadUint8(&format) || format != accessListFormat {
		return nil, malformed("access list", "unknown format")
	}
	if !s.CopyBytes(a.Channel[:]) || !s.ReadUint64(&a.Version) || !s.ReadUint32(&retention) || !s.ReadUint8(&n) {
		return nil, malformed("access list", "truncated header")
	}
	a.Retention = time.Duration(retention) * time.Second
	for i := 0; i < int(n); i++ {
		var key []byte
		var caps uint8
		var expires uint64
		if !s.ReadBytes(&key, ed25519.PublicKeySize) || !s.ReadUint8(&caps) || !s.ReadUint64(&expires) {
			return nil, malformed("access list", "truncated entry")
		}
		a.Entries = append(a.Entries, AccessEntry{Key: bytes.Clone(key), Caps: Capability(caps), Expires: fromUnixSeconds(expires)})
	}
	var signer, sig []byte
	if !s.ReadBytes(&signer, 32) || !s.ReadBytes(&sig, SignatureSize) || !s.Empty() {
		return nil, malformed("access list", "bad trailer")
	}
	a.Signer, a.Signature = bytes.Clone(signer), bytes.Clone(sig)
	if again, err := a.Marshal(); err != nil {
		return nil, err
	} else if !bytes.Equal(again, data) {
		return nil, malformed("access list", "not canonical")
	}
	return a, nil
}

// Entry returns the entry of key, or nil.
func (a *AccessList) Entry(key ed25519.PublicKey) *AccessEntry {
	for i := range a.Entries {
		if bytes.Equal(a.Entries[i].Key, key) {
			return &a.Entries[i]
		}
	}
	return nil
}

func (a *AccessList) verifySigner(authority *AccessList, now time.Time) error {
	msg, err := a.signedBytes()
	if err != nil {
		return err
	}
	if !verify(a.Signer, labelAccessListSig, msg, a.Signature) {
		return fmt.Errorf("access list version %d: %w", a.Version, ErrBadSignature)
	}
	e := authority.Entry(a.Signer)
	if e == nil || !e.Caps.Has(CapAdmin) || e.ExpiredAt(now) {
		return fmt.Errorf("access list version %d: %w", a.Version, ErrUnknownSigner)
	}
	return nil
}

// VerifyGenesis checks the first access list of a channel: signed by a
// key it gives CapAdmin.
func (a *AccessList) VerifyGenesis(now time.Time) error { return a.verifySigner(a, now) }

// VerifyNext checks that a may replace cur: same channel, a strictly
// higher version, signed by a key with CapAdmin in cur that has not
// expired at now.
func (a *AccessList) VerifyNext(cur *AccessList, now time.Time) error {
	if a.Channel != cur.Channel {
		return fmt.Errorf("access list: %w", ErrWrongChannel)
	}
	if a.Version <= cur.Version {
		return fmt.Errorf("access list version %d, held %d: %w", a.Version, cur.Version, ErrRollback)
	}
	return a.verifySigner(cur, now)
}
