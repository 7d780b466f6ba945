package crypto

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"sort"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// An AccessEntry is what the relay knows of one member: a pseudonym key
// that may post and fetch, and when it stops working. No name, no
// identity, no role: every member's entry looks alike, and decoy entries
// pad the list to a bucket.
type AccessEntry struct {
	Key     ed25519.PublicKey
	Expires time.Time // zero: no expiry
}

// ExpiredAt reports whether the entry has expired at now.
func (e *AccessEntry) ExpiredAt(now time.Time) bool { return expired(e.Expires, now) }

// An AccessList is the relay's view of a channel: the keys that may post
// and fetch, and the one administration key that may change the list.
// It is signed by the administration key of the list it replaces (its
// own for a channel's first list) and by its own administration key,
// which proves that whoever submits it holds that key. Versions strictly
// increase.
type AccessList struct {
	Channel   ChannelID
	Version   uint64
	Retention time.Duration // whole seconds; how long the relay keeps frames
	Admin     ed25519.PublicKey
	Entries   []AccessEntry

	Signer         ed25519.PublicKey
	Signature      []byte
	AdminSignature []byte
}

const accessListFormat = 2

// AccessListFor derives the relay access list of roster r with admin as
// its administration key: each member's pseudonym signing key with its
// roster expiry, padded with decoy keys to MemberBucket(len(r.Members))
// and sorted, so that neither the order nor the count tells the relay
// who the organizers are or exactly how many people there are.
func AccessListFor(r *Roster, admin ed25519.PublicKey) *AccessList {
	a := &AccessList{Channel: r.Channel, Version: r.Version, Retention: r.Policy.Retention(), Admin: bytes.Clone(admin)}
	for i := range r.Members {
		m := &r.Members[i]
		a.Entries = append(a.Entries, AccessEntry{Key: bytes.Clone(m.Keys.SigningKey), Expires: m.Expires})
	}
	for len(a.Entries) < MemberBucket(len(r.Members)) {
		a.Entries = append(a.Entries, AccessEntry{Key: decoyKey()})
	}
	sort.Slice(a.Entries, func(i, j int) bool { return bytes.Compare(a.Entries[i].Key, a.Entries[j].Key) < 0 })
	return a
}

func (a *AccessList) signedBytes() ([]byte, error) {
	if !isBucket(len(a.Entries)) || len(a.Signer) != ed25519.PublicKeySize || len(a.Admin) != ed25519.PublicKeySize ||
		a.Version == 0 || a.Retention < time.Second || a.Retention >= 1<<32*time.Second ||
		a.Retention%time.Second != 0 {
		return nil, malformed("access list", "field out of range")
	}
	var b cryptobyte.Builder
	b.AddUint8(accessListFormat)
	b.AddBytes(a.Channel[:])
	b.AddUint64(a.Version)
	b.AddUint32(uint32(a.Retention / time.Second))
	b.AddBytes(a.Admin)
	b.AddUint8(uint8(len(a.Entries)))
	for i, e := range a.Entries {
		if len(e.Key) != ed25519.PublicKeySize || (i > 0 && bytes.Compare(a.Entries[i-1].Key, e.Key) >= 0) {
			return nil, malformed("access list", "entries not distinct keys in order")
		}
		b.AddBytes(e.Key)
		b.AddUint64(unixSeconds(e.Expires))
	}
	b.AddBytes(a.Signer)
	return b.Bytes()
}

// Sign signs the list as its replacement of a list administered by
// signer (for a channel's first list, signer is the list's own key), and
// with the list's own administration key, admin.
func (a *AccessList) Sign(signer, admin *AdminKey) error {
	if !bytes.Equal(admin.SigningPublicKey(), a.Admin) {
		return fmt.Errorf("access list: the administration key is not the list's: %w", ErrUnknownSigner)
	}
	a.Signer = signer.SigningPublicKey()
	msg, err := a.signedBytes()
	if err != nil {
		return err
	}
	a.Signature = signer.sign(labelAccessListSig, msg)
	a.AdminSignature = admin.sign(labelAccessListPoP, msg)
	return nil
}

// Marshal encodes a signed access list.
func (a *AccessList) Marshal() ([]byte, error) {
	msg, err := a.signedBytes()
	if err != nil {
		return nil, err
	}
	if len(a.Signature) != SignatureSize || len(a.AdminSignature) != SignatureSize {
		return nil, malformed("access list", "unsigned")
	}
	return append(append(msg, a.Signature...), a.AdminSignature...), nil
}

// ParseAccessList decodes an access list; verify it before use.
func ParseAccessList(data []byte) (*AccessList, error) {
	s := cryptobyte.String(data)
	a := new(AccessList)
	var format, n uint8
	var retention uint32
	var admin []byte
	if !s.ReadUint8(&format) || format != accessListFormat {
		return nil, malformed("access list", "unknown format")
	}
	if !s.CopyBytes(a.Channel[:]) || !s.ReadUint64(&a.Version) || !s.ReadUint32(&retention) ||
		!s.ReadBytes(&admin, ed25519.PublicKeySize) || !s.ReadUint8(&n) {
		return nil, malformed("access list", "truncated header")
	}
	a.Retention = time.Duration(retention) * time.Second
	a.Admin = bytes.Clone(admin)
	for i := 0; i < int(n); i++ {
		var key []byte
		var expires uint64
		if !s.ReadBytes(&key, ed25519.PublicKeySize) || !s.ReadUint64(&expires) {
			return nil, malformed("access list", "truncated entry")
		}
		a.Entries = append(a.Entries, AccessEntry{Key: bytes.Clone(key), Expires: fromUnixSeconds(expires)})
	}
	var signer, sig, adminSig []byte
	if !s.ReadBytes(&signer, 32) || !s.ReadBytes(&sig, SignatureSize) || !s.ReadBytes(&adminSig, SignatureSize) || !s.Empty() {
		return nil, malformed("access list", "bad trailer")
	}
	a.Signer, a.Signature, a.AdminSignature = bytes.Clone(signer), bytes.Clone(sig), bytes.Clone(adminSig)
	if again, err := a.Marshal(); err != nil {
		return nil, err
	} else if !bytes.Equal(again, data) {
		return nil, malformed("access list", "not canonical")
	}
	return a, nil
}

// Entry returns the entry of key, or nil.
func (a *AccessList) Entry(key ed25519.PublicKey) *AccessEntry {
	i := sort.Search(len(a.Entries), func(i int) bool { return bytes.Compare(a.Entries[i].Key, key) >= 0 })
	if i < len(a.Entries) && bytes.Equal(a.Entries[i].Key, key) {
		return &a.Entries[i]
	}
	return nil
}

// IsAdmin reports whether key is the list's administration key.
func (a *AccessList) IsAdmin(key ed25519.PublicKey) bool { return bytes.Equal(a.Admin, key) }

// verifySigner checks both signatures, the first under authority's
// administration key.
func (a *AccessList) verifySigner(authority *AccessList) error {
	msg, err := a.signedBytes()
	if err != nil {
		return err
	}
	if !bytes.Equal(a.Signer, authority.Admin) {
		return fmt.Errorf("access list version %d: %w", a.Version, ErrUnknownSigner)
	}
	if !verify(a.Signer, labelAccessListSig, msg, a.Signature) || !verify(a.Admin, labelAccessListPoP, msg, a.AdminSignature) {
		return fmt.Errorf("access list version %d: %w", a.Version, ErrBadSignature)
	}
	return nil
}

// VerifyGenesis checks the first access list of a channel: signed by its
// own administration key.
func (a *AccessList) VerifyGenesis() error { return a.verifySigner(a) }

// VerifyNext checks that a may replace cur: same channel, a strictly
// higher version, signed by cur's administration key and by its own.
func (a *AccessList) VerifyNext(cur *AccessList) error {
	if a.Channel != cur.Channel {
		return fmt.Errorf("access list: %w", ErrWrongChannel)
	}
	if a.Version <= cur.Version {
		return fmt.Errorf("access list version %d, held %d: %w", a.Version, cur.Version, ErrRollback)
	}
	return a.verifySigner(cur)
}
