package client

import (
	"context"
	"crypto/ed25519"
	"errors"

	"parley/crypto"
	"parley/internal/relayclient"
)

// The relay knows no roles (docs/protocol.md §7): a member's pseudonym
// may post and fetch, and only the channel's administration key, which
// every organizer of an epoch holds and no member key is, may change
// the access list, register invites, read join requests, post epoch
// bundles and burn. An organizer's client does those on a connection of
// their own, authenticated with that key and isolated from the
// member's (a SOCKS username of its own), so the relay cannot tell
// which member administers the channel.

// errNotAdmin is returned when this home holds no administration key.
var errNotAdmin = errors.New("this home holds no administration key for the channel (only organizers do)")

// adminKey returns the administration key of the current epoch.
func (st *channelState) adminKey() (*crypto.AdminKey, error) {
	e := st.current()
	if e == nil || len(e.AdminSecret) != 32 {
		return nil, errNotAdmin
	}
	return crypto.NewAdminKey(st.channelID(), e.Epoch, [32]byte(e.AdminSecret)), nil
}

// adminKeys are the administration keys a relay may hold for this
// channel, most likely first: the current epoch's; that of the epoch
// this home proposed, whose access list the relay may have taken
// already; and older ones, for a relay that missed later lists (it
// is then given them in order, each under the key before).
func (st *channelState) adminKeys() []*crypto.AdminKey {
	var keys []*crypto.AdminKey
	add := func(epoch uint64, secret []byte) {
		if len(secret) == 32 {
			keys = append(keys, crypto.NewAdminKey(st.channelID(), epoch, [32]byte(secret)))
		}
	}
	for i := len(st.Epochs) - 1; i >= 0; i-- {
		add(st.Epochs[i].Epoch, st.Epochs[i].AdminSecret)
		if i == len(st.Epochs)-1 {
			add(st.NextAdminEpoch, st.NextAdmin)
		}
	}
	for i := len(st.Past) - 1; i >= 0; i-- {
		add(st.Past[i].Epoch, st.Past[i].AdminSecret)
	}
	return keys
}

// knownAdmins are the administration public keys of the epochs this home
// holds, and for an organizer those of every administration secret it
// keeps: the keys whose signature on a burn notice is an organizer's.
func (st *channelState) knownAdmins() []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, e := range st.Epochs {
		if len(e.Admin) == ed25519.PublicKeySize {
			out = append(out, e.Admin)
		}
	}
	for _, k := range st.adminKeys() {
		out = append(out, k.SigningPublicKey())
	}
	return out
}

// adminConn connects to the relay at url as the administrator of the
// channel of st: one connection, answering its challenge with each of
// the keys in turn until the relay takes one.
func (c *Client) adminConn(ctx context.Context, st *channelState, url string) (*relayclient.Conn, error) {
	keys := st.adminKeys()
	if len(keys) == 0 {
		return nil, errNotAdmin
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	// The SOCKS username is the newest key's, the same for every
	// connection of this administrator, and unlike any member's.
	conn, err := c.dial(dctx, url, crypto.KeyIDOf(keys[0].SigningPublicKey()))
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		err = conn.Auth(dctx, st.channelID(), k)
		if !errors.Is(err, relayclient.ErrUnauthorized) {
			break
		}
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// signedOld reports whether an epoch bundle not above the current epoch
// is an organizer's: signed by the administration key of the epoch
// before it, when this home still holds that epoch, or else opened by
// one of this home's keys and signed by an organizer of the current
// roster. Unsigned fields alone must not raise alarms: a relay could
// make them up.
func (st *channelState) signedOld(b *crypto.EpochBundle, cur *crypto.Roster) bool {
	if e := st.epoch(b.Epoch - 1); e != nil && e.Admin != nil {
		return b.VerifyAdmin(e.Admin) == nil
	}
	keys, err := st.openKeys()
	if err != nil {
		return false
	}
	for _, k := range keys {
		if _, _, err := b.Open(k, nil, cur.IsOrganizer); err == nil {
			return true
		}
	}
	return false
}
