package client

import (
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
	if _, err := c.view(name); err == nil {
		return fmt.Errorf("a channel named %q exists already; choose another name", name)
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
	st := &channelState{Name: name, RelayURL: relayURL, Channel: r.Channel[:], Keys: kb, AccessVersion: list.Version, LastSeq: seq, KeysUpdated: c.Now()}
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
		return nil, nil, nil, errors.New("you were removed from this channel")
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

// rekey starts the next epoch with roster next (members already
// changed): it signs the roster, makes and wraps fresh secrets, signs the
// relay access list, enters the epoch locally and queues both for the
// relay. Everything is committed before anything is sent.
func (c *Client) rekey(tx *sql.Tx, row *channelRow, next *crypto.Roster, keys *crypto.ChannelKeys) ([]Entry, error) {
	st := row.st
	if err := next.Sign(keys); err != nil {
		return nil, err
	}
	cur, err := st.roster()
	if err != nil {
		return nil, err
	}
	if err := next.VerifyNext(cur); err != nil {
		return nil, fmt.Errorf("new roster does not verify: %w", err)
	}
	secrets := crypto.NewEpochSecrets(next)
	bundle, err := crypto.NewEpochBundle(next, secrets, keys)
	if err != nil {
		return nil, err
	}
	list := crypto.AccessListFor(next)
	list.Version = st.AccessVersion + 1
	if err := list.Sign(keys); err != nil {
		return nil, err
	}
	rawList, _ := list.Marshal()
	rawBundle, _ := bundle.Marshal()
	st.AccessVersion = list.Version
	if err := c.queue(tx, row.id, outboxItem{Kind: outAccess, Payload: rawList}); err != nil {
		return nil, err
	}
	if err := c.queue(tx, row.id, outboxItem{Kind: outBundle, Payload: rawBundle}); err != nil {
		return nil, err
	}
	entries := rosterChanges(cur, next, st, keys.ID())
	if err := st.enterEpoch(next, secrets, keys.ID(), st.LastSeq); err != nil {
		return nil, err
	}
	for i := range entries {
		entries[i].Seq = st.LastSeq
	}
	return entries, c.appendTranscript(tx, row.id, entries)
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
