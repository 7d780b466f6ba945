package client

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
)

// SyncReport says what a sync brought.
type SyncReport struct {
	// New holds the transcript entries the sync added.
	New []Entry
	// Pending is set while the join request waits for admission.
	Pending bool
	// Burned is set when the channel was burned and has been erased.
	Burned bool
	// Removed is set when the relay no longer accepts our key.
	Removed bool
}

// ErrRelayForgot is returned when the channel's relay does not know the
// channel at all: not a removal (that would be a key the relay refuses)
// but a relay that lost its data, or another relay with the same key.
// Nothing in the home changes.
var ErrRelayForgot = errors.New("the relay does not know this channel: it lost its data, or this is another relay with the same key; nothing was changed in this home, and you were not removed")

// Sync fetches everything new for a channel, verifies and stores it, does
// an organizer's pending duties (removing members who left or expired),
// and sends the outbox.
func (c *Client) Sync(ctx context.Context, name string) (*SyncReport, error) {
	row, err := c.view(name)
	if err != nil {
		return nil, err
	}
	rep := &SyncReport{}
	conn, err := c.connect(ctx, row.st)
	switch {
	case errors.Is(err, relayclient.ErrBurned):
		return rep, c.burned(ctx, name, rep)
	case errors.Is(err, relayclient.ErrNotFound):
		return nil, ErrRelayForgot
	case errors.Is(err, relayclient.ErrUnauthorized) && row.st.Status == statusPending:
		rep.Pending = true
		return rep, nil
	case errors.Is(err, relayclient.ErrUnauthorized):
		// The relay's word alone: shown, and checked again at every
		// sync, so a relay cannot lock a member out for good by lying
		// once.
		rep.Removed = true
		return rep, c.update(name, func(tx *sql.Tx, row *channelRow) error {
			if row.st.Status == statusRemoved {
				return nil
			}
			row.st.Status = statusRemoved
			e := Entry{Seq: row.st.LastSeq, Time: c.Now().UTC(), Kind: KindSystem, Reason: ReasonRefused, Text: row.st.refusedLine(c.Now())}
			rep.New = append(rep.New, e)
			return c.appendTranscript(tx, row.id, []Entry{e})
		})
	case err != nil:
		return nil, err
	}
	defer conn.Close()
	if row.st.Status == statusRemoved && !row.st.RemovedSigned {
		if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
			row.st.Status = statusActive
			e := Entry{Seq: row.st.LastSeq, Time: c.Now().UTC(), Kind: KindSystem, Text: "the relay accepts this member's key again"}
			rep.New = append(rep.New, e)
			return c.appendTranscript(tx, row.id, []Entry{e})
		}); err != nil {
			return rep, err
		}
	}
	if err := c.syncOn(ctx, conn, name, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// syncOn does a sync's work over an authenticated connection.
func (c *Client) syncOn(ctx context.Context, conn *relayclient.Conn, name string, rep *SyncReport) error {
	if err := c.refetch(ctx, conn, name, rep); err != nil {
		return err
	}
	if err := c.fetch(ctx, conn, name, rep); err != nil {
		return err
	}
	if err := c.organizerDuties(name, rep); err != nil {
		return err
	}
	if err := c.flush(ctx, conn, name); err != nil {
		return err
	}
	if err := c.fetch(ctx, conn, name, rep); err != nil {
		return err
	}
	if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
		warn := append(row.st.staleWarning(c.Now()), row.st.keyUpdateOverdue(c.Now())...)
		rep.New = append(rep.New, warn...)
		return c.appendTranscript(tx, row.id, warn)
	}); err != nil {
		return err
	}
	return c.applyRetention(name)
}

// fetch pulls frames after the last one processed until none remain.
func (c *Client) fetch(ctx context.Context, conn *relayclient.Conn, name string, rep *SyncReport) error {
	for {
		row, err := c.view(name)
		if err != nil {
			return err
		}
		frames, more, err := conn.Fetch(ctx, row.st.LastSeq)
		if err != nil {
			return err
		}
		if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
			var entries []Entry
			for _, f := range frames {
				if f.Seq <= row.st.LastSeq {
					continue // another process got here first
				}
				if n := row.st.unseen(f.Seq); n > 0 {
					entries = append(entries, Entry{Seq: f.Seq, Kind: KindSystem, Reason: ReasonGap, Time: c.Now().UTC(), Text: row.st.missingLine(n)})
					row.st.noteMissing(f.Seq, c.Now())
				}
				es, err := c.process(tx, row, f)
				if err != nil {
					return err
				}
				entries = append(entries, stamp(es, f.Seq, c.Now())...)
				row.st.LastSeq = f.Seq
			}
			if !more {
				row.st.Synced = c.Now().UTC()
			}
			rep.New = append(rep.New, entries...)
			return c.appendTranscript(tx, row.id, entries)
		}); err != nil {
			return err
		}
		if !more || len(frames) == 0 {
			return nil
		}
	}
}

// process verifies one frame and returns what to add to the transcript.
// Frames that fail a check become system lines saying what was seen;
// nothing unauthenticated is ever shown as a message.
func (c *Client) process(tx *sql.Tx, row *channelRow, f wire.Stored) ([]Entry, error) {
	keys, err := row.st.keys()
	if err != nil {
		return nil, err
	}
	switch f.Kind {
	case wire.KindBundle:
		return c.processBundle(tx, row, f, keys)
	case wire.KindMessage:
		return c.processMessage(tx, row, f, keys)
	}
	return []Entry{notice(ReasonMalformed, "rejected a frame of unknown kind %d", f.Kind)}, nil
}

func (c *Client) processBundle(tx *sql.Tx, row *channelRow, f wire.Stored, keys *crypto.ChannelKeys) ([]Entry, error) {
	st := row.st
	b, err := crypto.ParseEpochBundle(f.Payload)
	if err != nil {
		return []Entry{notice(ReasonMalformed, "rejected a malformed epoch bundle")}, nil
	}
	if st.Status == statusPending {
		inv, err := crypto.ParseInvite(st.Invite)
		if err != nil {
			return nil, err
		}
		secrets, r, err := b.Open(keys, inv.IsOrganizer)
		if errors.Is(err, crypto.ErrDecrypt) {
			// The inviting organizer wrapped an epoch to our KeyID, but
			// not to our KEM key: the join request that reached it was
			// not ours as we sent it.
			return []Entry{notice(ReasonAdmissionAltered, "ALERT: the organizer who invited you admitted this pseudonym, but to a key this home does not hold: your join request was altered on its way (the invite code was intercepted, and the relay took part). Do not use this channel; tell the organizer in person")}, nil
		}
		if err != nil {
			return nil, nil // an epoch from before our admission
		}
		if err := r.VerifyInvited(inv, keys.ID()); err != nil {
			return []Entry{notice(ReasonRejected, "rejected the roster that would admit us: %v", err)}, nil
		}
		self := r.Member(keys.ID())
		var names []string
		for _, m := range r.Members {
			names = append(names, m.Name)
		}
		st.noteIdentities(r)
		if err := st.enterEpoch(r, secrets, keys.ID(), f.Seq); err != nil {
			return nil, err
		}
		text := fmt.Sprintf("admitted as %s; members: %s", self.Role, joinNames(names))
		if by := r.Member(crypto.KeyIDOf(b.Signer)); by != nil {
			text += fmt.Sprintf(". %s admitted you: compare their safety number with them in person, %s, then mark it (parley verify %s %s --confirm)", by.Name, by.Identity.SafetyNumber(), st.Name, by.Name)
		}
		return []Entry{{Time: r.Issued, Kind: KindSystem, Text: text}}, nil
	}
	if st.Status != statusActive {
		return nil, nil
	}
	cur, err := st.roster()
	if err != nil {
		return nil, err
	}
	if b.Epoch <= cur.Version {
		if slices.Equal(b.Signer, keys.SigningPublicKey()) {
			// Our own bundle again (a resend whose first copy we
			// already took in).
			_, err := c.matchOwnFrame(tx, row.id, f)
			return nil, err
		}
		if b.VerifySignature() != nil || !cur.IsOrganizer(b.Signer) {
			// Unsigned fields alone must not raise alarms: a relay
			// could make them up.
			return []Entry{notice(ReasonForged, "ignored an old roster that no organizer signed")}, nil
		}
		if e := st.epoch(b.Epoch); e != nil {
			if r, _ := crypto.ParseRoster(e.Roster); r != nil && r.Hash() != b.RosterHash {
				return []Entry{notice(ReasonFork, "rejected a second, different roster for epoch %d (a fork: two organizers changed the channel at once, or the relay lies)", b.Epoch)}, nil
			}
			if f.Seq > e.StartSeq {
				return []Entry{notice(ReasonReplay, "ignored a replayed roster for epoch %d", b.Epoch)}, nil
			}
			return nil, nil
		}
		return []Entry{notice(ReasonRejected, "ignored an old roster for epoch %d", b.Epoch)}, nil
	}
	if slices.Equal(b.Signer, keys.SigningPublicKey()) {
		// Our own proposal: if its acknowledgement was lost, this is it
		// arriving, and it must not be posted again.
		if _, err := c.matchOwnFrame(tx, row.id, f); err != nil {
			return nil, err
		}
	}
	if b.Epoch > cur.Version+1 {
		// A later epoch while the one between is missing: read it again
		// once that one arrives. (Its signer may be an organizer the
		// missing epoch admits, so it cannot be checked yet; a made-up
		// one only pauses our talks messages, as a relay can anyway.)
		st.NewerEpoch = max(st.NewerEpoch, b.Epoch)
		st.Missing = append(st.Missing, missingSeq{Seq: f.Seq, Since: c.Now()})
		return []Entry{notice(ReasonEpochWithheld, "epoch %d arrived before epoch %d, which this home has not received: the relay may be withholding it; talks messages wait until it arrives", b.Epoch, cur.Version+1)}, nil
	}
	var secrets *crypto.EpochSecrets
	var r *crypto.Roster
	candidates, err := st.openKeys()
	if err != nil {
		return nil, err
	}
	for _, k := range candidates {
		// A rotated key opens the epoch that adopts it; the old key
		// every epoch before.
		if secrets, r, err = b.Open(k, cur.IsOrganizer); !errors.Is(err, crypto.ErrDecrypt) {
			break
		}
	}
	if errors.Is(err, crypto.ErrNotMember) {
		st.Status, st.RemovedSigned = statusRemoved, true
		return []Entry{{Time: c.Now().UTC(), Kind: KindSystem, Reason: ReasonRemoved, Text: "you were removed from the channel (by a roster an organizer signed)"}}, nil
	}
	if err != nil {
		return []Entry{notice(ReasonRejected, "rejected epoch bundle %d: %v", b.Epoch, err)}, nil
	}
	if err := r.VerifyNext(cur); err != nil {
		return []Entry{notice(ReasonRejected, "rejected roster version %d: %v", r.Version, err)}, nil
	}
	entries := rosterChanges(cur, r, st, keys.ID())
	if err := st.adoptNextKeys(r, c.Now()); err != nil {
		return nil, err
	}
	if err := st.enterEpoch(r, secrets, keys.ID(), f.Seq); err != nil {
		return nil, err
	}
	st.Leaving = slices.DeleteFunc(st.Leaving, func(n string) bool {
		return !slices.ContainsFunc(r.Members, func(m crypto.Member) bool { return m.Name == n })
	})
	return entries, nil
}

func (c *Client) processMessage(tx *sql.Tx, row *channelRow, f wire.Stored, keys *crypto.ChannelKeys) ([]Entry, error) {
	st := row.st
	if st.Status != statusActive {
		return nil, nil
	}
	h, err := crypto.ParseHeader(f.Payload)
	if err != nil {
		return []Entry{notice(ReasonMalformed, "rejected a malformed frame")}, nil
	}
	if h.Sender == keys.ID() {
		// Our own frame: either an acknowledgement lost in a crash, or
		// a relay reflecting it back; never shown twice.
		matched, err := c.matchOwnFrame(tx, row.id, f)
		if err != nil || matched {
			return nil, err
		}
		return st.restoredFrom(h), nil
	}
	e := st.epoch(h.Epoch)
	cur := st.current()
	if e == nil {
		if cur != nil && h.Epoch > cur.Epoch {
			// Only a header: the relay could have made it up, so it
			// pauses our talks messages (which a relay can stop anyway)
			// and asserts nothing more.
			st.NewerEpoch = max(st.NewerEpoch, h.Epoch)
			st.Missing = append(st.Missing, missingSeq{Seq: f.Seq, Since: c.Now()}) // read once the epoch arrives
			return []Entry{notice(ReasonEpochWithheld, "a message of epoch %d arrived, but this home has not received that epoch: the relay may be withholding it from you; talks messages wait until it arrives", h.Epoch)}, nil
		}
		return nil, nil // before our admission, or an epoch already deleted
	}
	r, err := crypto.ParseRoster(e.Roster)
	if err != nil {
		return nil, err
	}
	// crypto makes every check (EpochView.Open); the client adds its
	// own rule for old epochs, and words for each refusal.
	sender := r.Member(h.Sender)
	if sender != nil && h.Epoch < cur.Epoch {
		now, _ := crypto.ParseRoster(cur.Roster)
		if now.Member(h.Sender) == nil {
			return []Entry{notice(ReasonForged, "rejected a message from %s sent after their removal", sender.Name)}, nil
		}
	}
	ck := chainKey(h.Compartment, h.Sender)
	var chain *crypto.ReceiveChain
	if raw, ok := e.Recv[ck]; ok {
		if chain, err = crypto.ParseReceiveChain(raw); err != nil {
			return nil, err
		}
	}
	o, err := crypto.NewEpochView(r, keys).Open(chain, f.Payload)
	switch {
	case err == nil:
	case sender == nil:
		return []Entry{notice(ReasonForged, "rejected a message from a key outside the roster")}, nil
	case errors.Is(err, crypto.ErrNotMember):
		return []Entry{notice(ReasonForged, "rejected a %s message from %s, a %s", h.Compartment, sender.Name, sender.Role)}, nil
	case errors.Is(err, crypto.ErrNoCompartment):
		return nil, nil // a compartment we do not read
	case errors.Is(err, crypto.ErrReplay):
		return []Entry{notice(ReasonReplay, "rejected a replayed message from %s", sender.Name)}, nil
	case errors.Is(err, crypto.ErrBadTag):
		return []Entry{notice(ReasonForged, "rejected a message claiming to be from %s: sender authentication failed", sender.Name)}, nil
	case errors.Is(err, crypto.ErrDecrypt):
		return []Entry{notice(ReasonUndecryptable, "could not decrypt a message from %s in epoch %d: the relay altered it, or %s holds another epoch %d than this home (a fork: two organizers changed the channel at once, and the relay kept each side's roster from the other)", sender.Name, h.Epoch, sender.Name, h.Epoch)}, nil
	default:
		return []Entry{notice(ReasonRejected, "rejected a message claiming to be from %s: %v", sender.Name, err)}, nil
	}
	m := o.Message
	var out []Entry
	if o.Late {
		out = append(out, notice(ReasonLate, "a late message from %s fills an earlier gap", sender.Name))
	}
	if o.Gap > 0 {
		out = append(out, notice(ReasonGap, "%d message(s) from %s missing", o.Gap, sender.Name))
	}
	e.Recv[ck], _ = chain.MarshalBinary()
	out = append(out, st.checkReport(e, r, h, sender, m.Report, keys.ID())...)
	if m.Report.PendingKey != nil && e == cur && !bytes.Equal(m.Report.PendingKey[:crypto.KEMPublicKeySize], sender.Keys.KEMKey) {
		self := r.Member(keys.ID())
		out = append(out, st.receiveKeyUpdate(sender, self.Role, m.Report.PendingKey)...)
	}
	t, content, err := decodeBody(m.Body)
	if err != nil {
		return append(out, notice(ReasonRejected, "rejected a message from %s: %v", sender.Name, err)), nil
	}
	switch m.Type {
	case typeText:
		out = append(out, Entry{Time: t, Sender: sender.Name, Kind: kindOf(h.Compartment), Text: string(content)})
	case typeDraft:
		if h.Compartment != crypto.Talks {
			return append(out, notice(ReasonRejected, "rejected a draft outside the talks compartment from %s", sender.Name)), nil
		}
		es, err := st.receiveChunk(sender.Name, t, content)
		return append(out, es...), err
	case typeKeyUpdate:
		self := r.Member(keys.ID())
		out = append(out, st.receiveKeyUpdate(sender, self.Role, content)...)
	case typeLeave:
		out = append(out, Entry{Time: t, Kind: KindSystem, Text: sender.Name + " left the channel"})
		if !slices.Contains(st.Leaving, sender.Name) {
			st.Leaving = append(st.Leaving, sender.Name)
		}
	default:
		out = append(out, notice(ReasonRejected, "ignored a message of unknown type %d from %s", m.Type, sender.Name))
	}
	return out, nil
}

// organizerDuties removes members who left or whose membership expired,
// when this home is an organizer.
func (c *Client) organizerDuties(name string, rep *SyncReport) error {
	return c.update(name, func(tx *sql.Tx, row *channelRow) error {
		if row.st.Status != statusActive {
			return nil
		}
		if err := c.memberKeyDuties(tx, row); err != nil {
			return err
		}
		cur, self, keys, err := row.st.self(0)
		if err != nil || self.Role != crypto.RoleOrganizer {
			return nil
		}
		if !leadOrganizer(cur, keys) && c.Now().Sub(cur.Issued) < takeOverAfter {
			// The lead organizer keeps the channel's epochs; any other
			// organizer takes over when it has not for a while, so that
			// one organizer away does not pause the talks.
			return nil
		}
		if pending, err := c.hasProposal(tx, row.id); err != nil || pending {
			return err
		}
		next := cur.Next(c.Now())
		changed, newKeys, err := c.organizerKeyDuties(row, cur, next, keys)
		if err != nil {
			return err
		}
		for _, m := range cur.Members {
			if m.ID() == keys.ID() {
				continue
			}
			if slices.Contains(row.st.Leaving, m.Name) || m.ExpiredAt(c.Now()) {
				changed = next.Remove(m.ID()) || changed
			}
		}
		if !changed {
			return nil
		}
		row.st.Leaving = nil
		if newKeys != nil {
			// Adopted when our own bundle, wrapped to it, comes back.
			row.st.NextKeys, _ = newKeys.MarshalBinary()
		}
		return c.rekey(tx, row, next, keys)
	})
}

// burned handles a relay that says the channel was burned: the notice
// must be signed by an organizer of the roster we hold, then every trace
// of the channel is erased from this home.
func (c *Client) burned(ctx context.Context, name string, rep *SyncReport) error {
	row, err := c.view(name)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := relayclient.Dial(dctx, row.st.RelayURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	raw, err := conn.Tombstone(dctx, row.st.channelID())
	if err != nil {
		return fmt.Errorf("the relay says the channel was burned but shows no notice: %w", err)
	}
	notice, err := crypto.ParseBurnNotice(raw)
	if err != nil {
		return fmt.Errorf("the relay's burn notice is malformed: %w", err)
	}
	if err := notice.Verify(row.st.channelID()); err != nil {
		return fmt.Errorf("the relay's burn notice does not verify: %w", err)
	}
	var authorized bool
	if r, err := row.st.roster(); err == nil {
		authorized = r.IsOrganizer(notice.Signer)
	} else if inv, err := crypto.ParseInvite(row.st.Invite); err == nil {
		// Not admitted yet: the organizer who invited us may burn.
		authorized = inv.IsOrganizer(notice.Signer)
	}
	if !authorized {
		return errors.New("the relay's burn notice is not signed by an organizer of this channel")
	}
	rep.Burned = true
	return c.erase(row.id)
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
