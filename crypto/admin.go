package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
)

// An AdminKey is a channel's administration key at the relay for one
// epoch. It is derived from the epoch's admin secret, which only the
// organizers receive (inside their wraps, which are the same size as
// everyone's), and it is distinct from every member's pseudonym. The
// relay lets this key, and no member key, replace the access list,
// register invites, read join requests, post epoch bundles and burn; so
// it learns that somebody administers the channel, never which of its
// members does. A removed or demoted organizer keeps only the key of
// epochs before the change, which the next access list replaces.
type AdminKey struct {
	priv ed25519.PrivateKey
}

// NewAdminKey derives the administration key of epoch epoch of channel
// from that epoch's admin secret.
func NewAdminKey(channel ChannelID, epoch uint64, secret [32]byte) *AdminKey {
	seed := deriveKey(secret[:], labelAdminKey, ed25519.SeedSize, channel[:], u64(epoch))
	return &AdminKey{priv: ed25519.NewKeyFromSeed(seed)}
}

// AdminKey returns the epoch's administration key, for an organizer's
// secrets; ErrNoCompartment for anyone else's.
func (s *EpochSecrets) AdminKey() (*AdminKey, error) {
	if s.Admin == nil {
		return nil, fmt.Errorf("administration key: %w", ErrNoCompartment)
	}
	return NewAdminKey(s.Channel, s.Epoch, *s.Admin), nil
}

// SigningPublicKey is the key the access list names as the channel's
// administrator.
func (a *AdminKey) SigningPublicKey() ed25519.PublicKey { return a.priv.Public().(ed25519.PublicKey) }

// SignRelayChallenge answers the relay's challenge as the channel's
// administrator (§12.2, the same message as a member's answer).
func (a *AdminKey) SignRelayChallenge(pin [32]byte, channel ChannelID, challenge [32]byte) []byte {
	return a.sign(labelRelayAuth, relayAuthMessage(pin, channel, challenge))
}

func (a *AdminKey) sign(label string, msg []byte) []byte {
	return ed25519.Sign(a.priv, append([]byte(label+"\x00"), msg...))
}

// memberBuckets are the sizes an access list's entries and a bundle's
// wraps are padded to, so that the relay learns the member count only to
// within a bucket.
var memberBuckets = [...]int{4, 8, 16, 32, MaxMembers}

// MemberBucket is the padded size for n members: the smallest bucket
// that holds n.
func MemberBucket(n int) int {
	for _, b := range memberBuckets {
		if n <= b {
			return b
		}
	}
	return n
}

func isBucket(n int) bool {
	for _, b := range memberBuckets {
		if n == b {
			return true
		}
	}
	return false
}

// decoyKey is a fresh Ed25519 public key whose private key is thrown
// away: padding that is a real key, like every entry beside it.
func decoyKey() ed25519.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("parley/crypto: random source failed: " + err.Error())
	}
	return pub
}
