package crypto

import (
	"bytes"
	"crypto/rand"
	"slices"
	"time"
)

// NewGenesisRoster founds a channel on relays: a fresh nonce, the channel
// id derived from it and the founder's pseudonym, and a version-1 roster
// listing the founder as its only organizer, signed.
func NewGenesisRoster(id *Identity, name string, keys *ChannelKeys, policy Policy, now time.Time, relays ...string) (*Roster, error) {
	r := &Roster{Version: 1, Issued: now.UTC().Truncate(time.Second), Policy: policy, Founder: keys.SigningPublicKey(), Relays: slices.Clone(relays)}
	rand.Read(r.Nonce[:])
	r.Channel = NewChannelID(r.Founder, r.Nonce)
	pub := keys.Public()
	r.Members = []Member{{Identity: *id.Public(), Name: name, Role: RoleOrganizer, Keys: *pub, Binding: id.Bind(r.Channel, pub), KEMSig: keys.SignKEM(r.Channel)}}
	if err := r.Sign(keys); err != nil {
		return nil, err
	}
	return r, nil
}

// Next returns an unsigned copy of r as the next version: same channel,
// members and policy, Prev set to r's hash. The caller changes members or
// policy, then signs it.
func (r *Roster) Next(now time.Time) *Roster {
	n := &Roster{
		Channel: r.Channel, Version: r.Version + 1, Prev: r.Hash(), Issued: now.UTC().Truncate(time.Second),
		Policy: r.Policy, Quorum: r.Quorum, Founder: bytes.Clone(r.Founder), Nonce: r.Nonce, Relays: slices.Clone(r.Relays),
	}
	for _, m := range r.Members {
		n.Members = append(n.Members, m.clone())
	}
	return n
}

// Remove drops the member with pseudonym id; it reports whether one was
// found.
func (r *Roster) Remove(id KeyID) bool {
	for i := range r.Members {
		if r.Members[i].ID() == id {
			r.Members = append(r.Members[:i:i], r.Members[i+1:]...)
			return true
		}
	}
	return false
}

// clone returns a deep copy, so that editing a Next roster never changes
// the one it came from.
func (m Member) clone() Member {
	m.Identity = PublicIdentity{SigningKey: bytes.Clone(m.Identity.SigningKey), KEMKey: bytes.Clone(m.Identity.KEMKey)}
	m.Keys = ChannelPublicKeys{SigningKey: bytes.Clone(m.Keys.SigningKey), DHKey: bytes.Clone(m.Keys.DHKey), KEMKey: bytes.Clone(m.Keys.KEMKey)}
	m.Binding, m.KEMSig = bytes.Clone(m.Binding), bytes.Clone(m.KEMSig)
	return m
}
