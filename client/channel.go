package client

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
)

// dialTimeout bounds connecting and authenticating.
const dialTimeout = 20 * time.Second

// connect opens an authenticated connection for a channel.
func (c *Client) connect(ctx context.Context, st *channelState) (*relayclient.Conn, error) {
	k, err := st.keys()
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := relayclient.Dial(dctx, st.RelayURL)
	if err != nil {
		return nil, err
	}
	if err := conn.Auth(dctx, st.channelID(), k); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// CreateChannel founds a channel at the relay with this home as its
// organizer.
func (c *Client) CreateChannel(ctx context.Context, name, relayURL string, policy crypto.Policy) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("channel %w", err)
	}
	if _, _, err := wire.ParseURL(relayURL); err != nil {
		return err
	}
	if err := c.nameFree(name, "choose another name"); err != nil {
		return err
	}
	keys, err := crypto.GenerateChannelKeys()
	if err != nil {
		return err
	}
	r, err := crypto.NewGenesisRoster(c.id, c.name, keys, policy, c.Now())
	if err != nil {
		return err
	}
	list := crypto.AccessListFor(r)
	if err := list.Sign(keys); err != nil {
		return err
	}
	secrets := crypto.NewEpochSecrets(r)
	bundle, err := crypto.NewEpochBundle(r, secrets, keys)
	if err != nil {
		return err
	}
	raw, _ := bundle.Marshal()
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := relayclient.Dial(dctx, relayURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Create(dctx, list); err != nil {
		return err
	}
	if err := conn.Auth(dctx, r.Channel, keys); err != nil {
		return err
	}
	seq, err := conn.Post(dctx, wire.KindBundle, raw)
	if err != nil {
		return err
	}
	kb, _ := keys.MarshalBinary()
	st := &channelState{Name: name, RelayURL: relayURL, Channel: r.Channel[:], Keys: kb, LastSeq: seq, KeysUpdated: c.Now()}
	if err := st.enterEpoch(r, secrets, keys.ID(), seq); err != nil {
		return err
	}
	st.noteIdentities(r)
	tx, err := c.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	row, err := c.insertChannel(tx, st)
	if err != nil {
		return err
	}
	if err := c.appendTranscript(tx, row.id, []Entry{{Seq: seq, Time: c.Now().UTC(), Kind: KindSystem,
		Text: fmt.Sprintf("%s created the channel (%s secrecy)", c.name, policy)}}); err != nil {
		return err
	}
	return tx.Commit()
}

// self returns the caller's roster entry, failing if it is not an active
// member with the given role (0: any).
func (st *channelState) self(want crypto.Role) (*crypto.Roster, *crypto.Member, *crypto.ChannelKeys, error) {
	switch st.Status {
	case statusPending:
		return nil, nil, nil, errors.New("not admitted yet: an organizer must admit you (then parley sync)")
	case statusRemoved:
		return nil, nil, nil, st.refusedError(time.Now())
	}
	r, err := st.roster()
	if err != nil {
		return nil, nil, nil, err
	}
	k, err := st.keys()
	if err != nil {
		return nil, nil, nil, err
	}
	m := r.Member(k.ID())
	if m == nil {
		return nil, nil, nil, errors.New("you are not in this channel's roster")
	}
	if want != 0 && m.Role != want {
		return nil, nil, nil, fmt.Errorf("only %ss can do this; you are a %s", want, m.Role)
	}
	return r, m, k, nil
}

// rekey proposes the next epoch with roster next (members already
// changed): it signs the roster, makes and wraps fresh secrets, signs the
// relay access list with the roster's version, and queues both. It does
// not enter the epoch: the organizer enters it like every member, when
// its bundle comes back from the relay. The relay accepts only one access
// list per version, so when two organizers propose the same version, one
// wins and the other's proposal is dropped (see sendAccess) instead of
// forking the channel.
func (c *Client) rekey(tx *sql.Tx, row *channelRow, next *crypto.Roster, keys *crypto.ChannelKeys) error {
	pending, err := c.hasProposal(tx, row.id)
	if err != nil {
		return err
	}
	if pending {
		return errors.New("an earlier change to this channel is still waiting for the relay; run parley sync, then try again")
	}
	if err := next.Sign(keys); err != nil {
		return err
	}
	cur, err := row.st.roster()
	if err != nil {
		return err
	}
	if err := next.VerifyNext(cur); err != nil {
		return fmt.Errorf("new roster does not verify: %w", err)
	}
	return c.queueProposal(tx, row, next, keys)
}

// queueProposal makes fresh secrets for the signed roster next, wraps them
// in a bundle, and queues the access list and the bundle.
func (c *Client) queueProposal(tx *sql.Tx, row *channelRow, next *crypto.Roster, keys *crypto.ChannelKeys) error {
	secrets := crypto.NewEpochSecrets(next)
	bundle, err := crypto.NewEpochBundle(next, secrets, keys)
	*secrets = crypto.EpochSecrets{}
	if err != nil {
		return err
	}
	list := crypto.AccessListFor(next)
	if err := list.Sign(keys); err != nil {
		return err
	}
	rawList, _ := list.Marshal()
	rawBundle, _ := bundle.Marshal()
	if err := c.queue(tx, row.id, outboxItem{Kind: outAccess, Payload: rawList}); err != nil {
		return err
	}
	return c.queue(tx, row.id, outboxItem{Kind: outBundle, Payload: rawBundle})
}

// leadOrganizer reports whether keys belong to the organizer who runs a
// channel's automatic duties (timed rekeys, expiries, leavers, key
// updates): the one with the lowest key id, so that two organizers'
// clients never race to make the same change.
func leadOrganizer(r *crypto.Roster, keys *crypto.ChannelKeys) bool {
	self := keys.ID()
	for _, m := range r.Members {
		id := m.ID()
		if m.Role == crypto.RoleOrganizer && bytes.Compare(id[:], self[:]) < 0 {
			return false
		}
	}
	return true
}

// rosterChanges describes, as system lines, how next differs from cur.
func rosterChanges(cur, next *crypto.Roster, st *channelState, self crypto.KeyID) []Entry {
	var out []Entry
	line := func(format string, args ...any) {
		out = append(out, Entry{Time: next.Issued, Kind: KindSystem, Text: fmt.Sprintf(format, args...)})
	}
	for _, m := range next.Members {
		old := cur.Member(m.ID())
		switch {
		case old == nil:
			line("%s joined as %s", m.Name, m.Role)
		case old.Role != m.Role:
			line("%s is now %s", m.Name, m.Role)
		}
	}
	for _, m := range cur.Members {
		if next.Member(m.ID()) == nil {
			line("%s is no longer a member", m.Name)
		}
	}
	if cur.Policy != next.Policy {
		line("secrecy policy is now %s", next.Policy)
	}
	return append(out, st.noteIdentities(next)...)
}

// noteIdentities records which identity stands behind each display
// name and announces a name whose identity keys changed (a rejoin with a
// new identity, or someone else under that name): such a member is shown
// unverified until safety numbers are compared again.
func (st *channelState) noteIdentities(r *crypto.Roster) []Entry {
	if st.Identities == nil {
		st.Identities = map[string]string{}
	}
	var out []Entry
	for _, m := range r.Members {
		fp := fmt.Sprintf("%x", m.Identity.Fingerprint())
		if old, ok := st.Identities[m.Name]; ok && old != fp {
			out = append(out, Entry{Time: r.Issued, Kind: KindSystem,
				Text: fmt.Sprintf("%s's keys changed: compare safety numbers again (parley verify)", m.Name)})
			delete(st.Verified, old)
		}
		st.Identities[m.Name] = fp
	}
	return out
}
