package client

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
)

// dialTimeout bounds connecting and authenticating.
const dialTimeout = 20 * time.Second

// connect opens an authenticated connection to one relay of a channel.
func (c *Client) connect(ctx context.Context, st *channelState, r *relayState) (*relayclient.Conn, error) {
	k, err := st.keys()
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := c.dial(dctx, r.URL, k.ID())
	if err != nil {
		return nil, err
	}
	if err := conn.Auth(dctx, st.channelID(), k); err != nil {
		conn.Close()
		return nil, err
	}
	if err := c.noteOrigin(st, r, conn); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// noteOrigin records the origin of the relay's copy of the channel that
// an authenticated connection reports (§15.6), and starts reading the
// relay from the beginning when that copy is a new one.
func (c *Client) noteOrigin(st *channelState, r *relayState, conn *relayclient.Conn) error {
	origin := conn.Origin()
	restarted := r.Forgot || origin != 0 && r.Origin != 0 && origin != r.Origin
	if restarted || origin != 0 && origin != r.Origin {
		if err := c.update(st.Name, func(tx *sql.Tx, row *channelRow) error {
			rs := row.st.relay(r.ID)
			if rs == nil {
				return nil
			}
			rs.Origin = origin
			if !restarted {
				return nil
			}
			// The relay said it did not know the channel, or holds
			// another copy of it than before: it lost its data and was
			// given the channel again, numbering from 1. Read it from
			// the start; the seen table keeps what this home has from
			// taking effect twice.
			rs.LastSeq, rs.Missing, rs.Added, rs.Forgot = 0, nil, c.Now().UTC(), false
			return c.forgetRelayBit(tx, row.id, rs)
		}); err != nil {
			return err
		}
	}
	return nil
}

// CreateChannel founds a channel on one to five relays with this home as
// its organizer. Every relay must take it: a channel that starts on
// fewer relays than its roster names would start half-protected.
func (c *Client) CreateChannel(ctx context.Context, name, relayURL string, policy crypto.Policy, moreRelays ...string) error {
	return c.CreateChannelOnSide(ctx, name, "", relayURL, policy, moreRelays...)
}

// CreateChannelOnSide is CreateChannel for a founder who belongs to side
// (a delegation, or "facilitators"; "" for none).
func (c *Client) CreateChannelOnSide(ctx context.Context, name, side, relayURL string, policy crypto.Policy, moreRelays ...string) error {
	return c.CreateChannelWithRule(ctx, name, side, crypto.QuorumNone, relayURL, policy, moreRelays...)
}

// CreateChannelWithRule is CreateChannelOnSide with an admission rule
// (quorum.go) in force from the first roster on.
func (c *Client) CreateChannelWithRule(ctx context.Context, name, side string, quorum crypto.Quorum, relayURL string, policy crypto.Policy, moreRelays ...string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("channel %w", err)
	}
	if side != "" {
		if err := checkSide(side); err != nil {
			return err
		}
	}
	relays := append([]string{relayURL}, moreRelays...)
	if len(relays) > crypto.MaxRelays {
		return fmt.Errorf("a channel lives on at most %d relays", crypto.MaxRelays)
	}
	for i, u := range relays {
		if _, _, err := wire.ParseURL(u); err != nil {
			return err
		}
		if slices.Contains(relays[:i], u) {
			return fmt.Errorf("relay %s is named twice", u)
		}
	}
	if err := c.nameFree(name, "choose another name"); err != nil {
		return err
	}
	keys, err := crypto.GenerateChannelKeys()
	if err != nil {
		return err
	}
	var named []string
	if len(relays) > 1 {
		named = relays // a one-relay channel's roster stays as before
	}
	r, err := crypto.NewGenesisRoster(c.id, c.name, keys, policy, c.Now(), named...)
	if err != nil {
		return err
	}
	if side != "" || quorum != crypto.QuorumNone {
		r.Members[0].Side, r.Quorum = side, quorum
		if err := r.Sign(keys); err != nil {
			return err
		}
	}
	secrets := crypto.NewEpochSecrets(r)
	admin, err := secrets.AdminKey()
	if err != nil {
		return err
	}
	list := crypto.AccessListFor(r, admin.SigningPublicKey())
	if err := list.Sign(admin, admin); err != nil {
		return err
	}
	bundle, err := crypto.NewEpochBundle(r, secrets, keys, nil)
	if err != nil {
		return err
	}
	raw, _ := bundle.Marshal()
	st := &channelState{Name: name, Channel: r.Channel[:], Keys: kb(keys), KeysUpdated: c.Now(), Relays: newRelayStates(relays, c.Now())}
	st.NextRelayID = len(relays) + 1
	for _, rs := range st.Relays {
		seq, err := c.createAt(ctx, rs.URL, list, admin, raw)
		if err != nil {
			if len(relays) > 1 {
				return fmt.Errorf("%s: %w", rs.Name(), err)
			}
			return err
		}
		rs.LastSeq = seq
	}
	st.Arrived = 1
	if err := st.enterEpoch(r, secrets, keys.ID(), st.Arrived); err != nil {
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
	digest := c.frameDigest(uint8(wire.KindBundle), raw)
	for _, rs := range st.Relays {
		if _, _, err := c.seenFrame(tx, row.id, digest, rs, true); err != nil {
			return err
		}
	}
	if err := c.appendTranscript(tx, row.id, []Entry{{Seq: st.Arrived, Time: c.Now().UTC(), Kind: KindSystem,
		Text: fmt.Sprintf("%s created the channel (%s secrecy%s)", c.name, policy, ruleNote(quorum))}}); err != nil {
		return err
	}
	return tx.Commit()
}

func kb(keys *crypto.ChannelKeys) []byte {
	b, _ := keys.MarshalBinary()
	return b
}

// createAt founds the channel at one relay: its access list, then, as
// the channel's administrator, the epoch bundle. It returns the
// bundle's sequence number there.
func (c *Client) createAt(ctx context.Context, url string, list *crypto.AccessList, admin *crypto.AdminKey, bundle []byte) (uint64, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := c.dial(dctx, url, crypto.KeyIDOf(admin.SigningPublicKey()))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := conn.Create(dctx, list); err != nil {
		return 0, err
	}
	if err := conn.Auth(dctx, list.Channel, admin); err != nil {
		return 0, err
	}
	return conn.Post(dctx, wire.KindBundle, bundle)
}

// restoreRelay brings a relay that does not know the channel (it lost
// its data, or was just added to the roster) up to date for new traffic:
// an organizer founds the channel there again with the current access
// list and starts a new epoch, whose bundle then goes to every relay.
// Others can only wait for an organizer; they go on with the other
// relays. Older frames are not copied: no client holds others' frames
// in a form a relay would take from it, and relays never talk to each
// other.
//
// The connection it returns is authenticated as the administrator when
// asAdmin is set (an administration session), else as the member.
func (c *Client) restoreRelay(ctx context.Context, name string, r *relayState, asAdmin bool) (*relayclient.Conn, error) {
	row, err := c.view(name)
	if err != nil {
		return nil, err
	}
	cur, self, keys, err := row.st.self(0)
	if err != nil || self.Role != crypto.RoleOrganizer || len(row.st.Relays) < 2 {
		return nil, relayclient.ErrNotFound
	}
	admin, err := row.st.adminKey()
	if err != nil {
		return nil, relayclient.ErrNotFound
	}
	list := crypto.AccessListFor(cur, admin.SigningPublicKey())
	if err := list.Sign(admin, admin); err != nil {
		return nil, err
	}
	var signer relayclient.Signer = keys
	user := keys.ID()
	if asAdmin {
		signer, user = admin, crypto.KeyIDOf(admin.SigningPublicKey())
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := c.dial(dctx, r.URL, user)
	if err != nil {
		return nil, err
	}
	if err := conn.Create(dctx, list); err != nil && !errors.Is(err, relayclient.ErrExists) {
		conn.Close()
		return nil, err
	}
	if err := conn.Auth(dctx, list.Channel, signer); err != nil {
		conn.Close()
		return nil, err
	}
	err = c.update(name, func(tx *sql.Tx, row *channelRow) error {
		rs := row.st.relay(r.ID)
		if rs == nil {
			return nil
		}
		// A fresh start there: its sequence numbers begin again.
		rs.LastSeq, rs.Missing, rs.Forgot, rs.Added, rs.Origin = 0, nil, false, c.Now().UTC(), 0
		if err := c.forgetRelayBit(tx, row.id, rs); err != nil {
			return err
		}
		e := Entry{Seq: row.st.Arrived, Time: c.Now().UTC(), Kind: KindSystem, Reason: ReasonRelayRestored,
			Text: fmt.Sprintf("%s did not know this channel (it lost its data, or was just added); this home founded it there again, and a new epoch brings it what new messages need", rs.Name())}
		if pending, err := c.proposalUnadopted(tx, row); err != nil || pending {
			// The change waiting to be sent brings its own epoch.
			return errors.Join(err, c.appendTranscript(tx, row.id, []Entry{e}))
		}
		if err := c.appendTranscript(tx, row.id, []Entry{e}); err != nil {
			return err
		}
		return c.rekey(tx, row, cur.Next(c.Now()), keys)
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
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
	if err := row.st.errOwnProposalWaits(); err != nil {
		return err
	}
	if err := next.Sign(keys); err != nil {
		return err
	}
	cur, err := row.st.roster()
	if err != nil {
		return err
	}
	if err := next.VerifyNext(cur); errors.Is(err, crypto.ErrQuorum) {
		// The channel's rule needs other sides' organizers: the change
		// waits for their approvals (quorum.go).
		return c.propose(tx, row, cur, next, keys)
	} else if err != nil {
		return fmt.Errorf("new roster does not verify: %w", err)
	}
	return c.queueProposal(tx, row, next, keys)
}

// queueProposal makes fresh secrets for the signed roster next, wraps them
// in a bundle, and queues the access list and the bundle.
func (c *Client) queueProposal(tx *sql.Tx, row *channelRow, next *crypto.Roster, keys *crypto.ChannelKeys) error {
	prev, err := row.st.adminKey()
	if err != nil {
		return err
	}
	secrets := crypto.NewEpochSecrets(next)
	admin, _ := secrets.AdminKey()
	row.st.NextAdmin, row.st.NextAdminEpoch = bytes.Clone(secrets.Admin[:]), next.Version
	bundle, err := crypto.NewEpochBundle(next, secrets, keys, prev)
	*secrets.Admin, *secrets.Talks = [32]byte{}, [32]byte{}
	*secrets = crypto.EpochSecrets{}
	if err != nil {
		return err
	}
	list := crypto.AccessListFor(next, admin.SigningPublicKey())
	if err := list.Sign(prev, admin); err != nil {
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
	if cur.Quorum != next.Quorum {
		line("admission rule is now %s", next.Quorum.String())
	}
	if len(next.Approvals) > 0 {
		var names []string
		for _, a := range next.Approvals {
			if m := cur.Member(crypto.KeyIDOf(a.Signer)); m != nil {
				names = append(names, m.Name)
			}
		}
		line("roster version %d, made by %s, approved by %s", next.Version, signerName(cur, next), joinNames(names))
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
