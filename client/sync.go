package client

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

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
	// RelayProblems says, one line each, which relays of a channel on
	// several could not be used in this sync, and why (the others were).
	RelayProblems []string
}

// ErrRelayForgot is returned when the channel's relay does not know the
// channel at all: not a removal (that would be a key the relay refuses)
// but a relay that lost its data, or another relay with the same key.
// Nothing in the home changes.
var ErrRelayForgot = errors.New("the relay does not know this channel: it lost its data, or this is another relay with the same key; nothing was changed in this home, and you were not removed")

// maxEpochsAhead is how far past this home's epoch a frame's unchecked
// epoch may be and still count as a sign that epochs are kept from it
// (NewerEpoch, which pauses this home's posting). An epoch begins with a roster
// change; a home that missed this many while still fetching from the
// channel is stopped by its roster's age first (freshness.go). A frame
// claiming more is dropped, not set aside: one made-up header must not
// pause the talks for good.
const maxEpochsAhead = 16

// Sync fetches everything new for a channel from each of its relays,
// verifies and stores it, does an organizer's pending duties (removing
// members who left or expired), and sends the outbox to each relay. It
// fails only when no relay could be synced; what each relay did is kept
// for `parley channel relays`.
func (c *Client) Sync(ctx context.Context, name string) (*SyncReport, error) {
	return c.syncThen(ctx, name, nil)
}

// syncThen is Sync with queue run on the same connections once
// everything the relays hold has been taken in (and, when the talks
// epoch had gone stale and this home's organizer duties made a new one,
// once that epoch is in force), before anything is posted. So a command
// that posts makes one connection per relay, of the same shape as a
// sync: fetch, post what is queued, fetch (docs/threat-model.md §3.1).
// With no relay reached, queue still runs: what it queues waits for the
// next sync.
func (c *Client) syncThen(ctx context.Context, name string, queue func() error) (*SyncReport, error) {
	rep := &SyncReport{}
	conns, err := c.connectAll(ctx, name, rep)
	if rep.Burned {
		return rep, err
	}
	if err != nil {
		if queue != nil && !errors.Is(err, ErrNoChannel) {
			if qerr := queue(); qerr != nil {
				return rep, qerr
			}
		}
		return rep, err
	}
	defer closeAll(conns)
	return rep, c.syncAll(ctx, conns, name, rep, queue)
}

// slowRelay is how long a sync waits for a relay once another relay of
// the channel has answered.
const slowRelay = 5 * time.Second

var errSlowRelay = errors.New("no answer in time while another relay answered; tried again at the next sync")

// relayConn is an authenticated connection to one relay of a channel.
type relayConn struct {
	id   int // relayState.ID
	conn *relayclient.Conn
}

func closeAll(conns []relayConn) {
	for _, rc := range conns {
		rc.conn.Close()
	}
}

// connectAll connects to every relay of a channel, one after another. A
// relay that shows a burn notice ends it all (burned). With no relay
// reached, the relays' answers decide: all forgot the channel, the key
// is refused (pending, or removed on the relay's word), or the first
// error.
func (c *Client) connectAll(ctx context.Context, name string, rep *SyncReport) ([]relayConn, error) {
	row, err := c.view(name)
	if err != nil {
		return nil, err
	}
	var conns []relayConn
	var firstErr error
	var refused, forgot int
	// Dialled at once (a TLS handshake and an authentication each), and
	// taken in the roster's order.
	type dialled struct {
		conn *relayclient.Conn
		err  error
	}
	results := make([]chan dialled, len(row.st.Relays))
	anyUp := make(chan struct{})
	var once sync.Once
	for i, r := range row.st.Relays {
		results[i] = make(chan dialled, 1)
		go func() {
			conn, err := c.connect(ctx, row.st, r)
			if err == nil {
				once.Do(func() { close(anyUp) })
			}
			results[i] <- dialled{conn, err}
		}()
	}
	// Once one relay is up, the others get slowRelay more: a relay that
	// hangs must not hold every send for the whole dial timeout.
	late, finished := make(chan struct{}), make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-anyUp:
			time.AfterFunc(slowRelay, func() { close(late) })
		case <-finished:
		}
	}()
	// abandon closes a dial's connection whenever it arrives.
	abandon := func(ch chan dialled) {
		go func() {
			if d := <-ch; d.conn != nil {
				d.conn.Close()
			}
		}()
	}
	for i, r := range row.st.Relays {
		var d dialled
		select {
		case d = <-results[i]:
		case <-late:
			select {
			case d = <-results[i]:
			default:
				d.err = errSlowRelay
				abandon(results[i])
			}
		}
		conn, err := d.conn, d.err
		if errors.Is(err, relayclient.ErrBurned) {
			berr := c.burned(ctx, name, rep, r)
			if berr == nil || len(row.st.Relays) == 1 {
				for _, rest := range results[i+1:] {
					abandon(rest)
				}
				closeAll(conns)
				return nil, berr
			}
			// One relay of several says "burned" with no notice this
			// home can check: it is named, and the others serve.
			err = fmt.Errorf("it says the channel was burned, but %w", berr)
		}
		switch {
		case errors.Is(err, relayclient.ErrNotFound):
			forgot++
			if conn, err = c.restoreRelay(ctx, name, r, false); err == nil {
				conns = append(conns, relayConn{r.ID, conn})
				continue
			}
		case errors.Is(err, relayclient.ErrUnauthorized):
			refused++
		case err == nil:
			conns = append(conns, relayConn{r.ID, conn})
		}
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			c.noteRelay(name, r.ID, err, rep)
		}
	}
	if len(conns) > 0 {
		if row.st.Status == statusRemoved && !row.st.RemovedSigned {
			if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
				row.st.Status = statusActive
				e := Entry{Seq: row.st.Arrived, Time: c.Now().UTC(), Kind: KindSystem, Text: "the relay accepts this member's key again"}
				rep.New = append(rep.New, e)
				return c.appendTranscript(tx, row.id, []Entry{e})
			}); err != nil {
				closeAll(conns)
				return nil, err
			}
		}
		return conns, nil
	}
	switch {
	case forgot == len(row.st.Relays):
		return nil, ErrRelayForgot
	case refused > 0 && row.st.Status == statusPending:
		rep.Pending = true
		return nil, nil
	case refused > 0:
		// The relay's word alone: shown, and checked again at every
		// sync, so a relay cannot lock a member out for good by lying
		// once.
		rep.Removed = true
		return nil, c.update(name, func(tx *sql.Tx, row *channelRow) error {
			if row.st.Status == statusRemoved {
				return nil
			}
			row.st.Status = statusRemoved
			e := Entry{Seq: row.st.Arrived, Time: c.Now().UTC(), Kind: KindSystem, Reason: ReasonRefused, Text: row.st.refusedLine(c.Now())}
			rep.New = append(rep.New, e)
			return c.appendTranscript(tx, row.id, []Entry{e})
		})
	}
	return nil, firstErr
}

// syncAll does a sync's work on every connection, then what a sync
// does once: warnings, withheld frames, retention. It fails only when
// every relay failed.
func (c *Client) syncAll(ctx context.Context, conns []relayConn, name string, rep *SyncReport, queue func() error) error {
	// In phases: take in what every relay has before sending anything,
	// so that what this home sends follows everything it could know.
	var firstErr, fatal, stale error
	live := slices.Clone(conns)
	phase := func(step func(rc relayConn) error) {
		live = slices.DeleteFunc(live, func(rc relayConn) bool {
			if fatal != nil {
				return false
			}
			err := step(rc)
			switch {
			case err == nil:
				return false
			case errors.Is(err, ErrStale):
				// Talks wait for a fresh epoch: no fault of the relay.
				stale = err
				return false
			case errors.Is(err, ErrNoChannel), errors.Is(err, errProposalLost):
				fatal = err
				return false
			}
			firstErr = cmp.Or(firstErr, err)
			c.noteRelay(name, rc.id, err, rep)
			return true
		})
	}
	phase(func(rc relayConn) error {
		if err := c.refetch(ctx, rc, name, rep); err != nil {
			return err
		}
		return c.fetch(ctx, rc, name, rep)
	})
	if len(live) > 0 && fatal == nil {
		if err := c.organizerDuties(name, rep); err != nil {
			return err
		}
	}
	if queue != nil && fatal == nil {
		if c.talksStale(name) && len(live) > 0 {
			// A new epoch this home's organizer duties just made goes
			// out in an administration session, which enters it.
			if err := c.adminDue(ctx, name, rep); err != nil {
				return err
			}
		}
		if err := queue(); err != nil {
			return err
		}
	}
	phase(func(rc relayConn) error { return c.flush(ctx, rc, name) })
	phase(func(rc relayConn) error { return c.fetch(ctx, rc, name, rep) })
	if len(live) > 0 && fatal == nil {
		// What the organizer duties queued, on a connection of its own.
		if err := c.adminDue(ctx, name, rep); err != nil {
			fatal = err
		}
	}
	switch {
	case fatal != nil:
		return fatal
	case len(live) == 0:
		return firstErr
	}
	if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
		warn := append(row.st.staleWarning(c.Now()), row.st.keyUpdateOverdue(c.Now())...)
		warn = append(warn, row.st.epochAheadLine(c.Now())...)
		withheld, err := c.withheldLines(tx, row)
		if err != nil {
			return err
		}
		if err := c.pruneCopies(tx, row); err != nil {
			return err
		}
		warn = append(warn, withheld...)
		rep.New = append(rep.New, warn...)
		return c.appendTranscript(tx, row.id, warn)
	}); err != nil {
		return err
	}
	if err := c.applyRetention(name); err != nil {
		return err
	}
	// An error from one relay while others worked is the relay's state,
	// kept for `parley channel relays`, not the sync's.
	return stale
}

// noteRelay records that a relay could not be used now, for `parley
// channel relays`, and in rep (when given) for the command that synced.
func (c *Client) noteRelay(name string, id int, err error, rep *SyncReport) {
	c.update(name, func(tx *sql.Tx, row *channelRow) error {
		if r := row.st.relay(id); r != nil {
			r.Failed, r.Error = c.Now().UTC(), OneLine(err.Error())
			r.Forgot = errors.Is(err, relayclient.ErrNotFound)
			if rep != nil && len(row.st.Relays) > 1 {
				rep.RelayProblems = append(rep.RelayProblems, r.Name()+": "+r.Error)
			}
		}
		return nil
	})
}

// fetch pulls a relay's frames after the last one taken from it until
// none remain.
func (c *Client) fetch(ctx context.Context, rc relayConn, name string, rep *SyncReport) error {
	for {
		row, err := c.view(name)
		if err != nil {
			return err
		}
		r := row.st.relay(rc.id)
		if r == nil {
			return nil // the roster dropped this relay meanwhile
		}
		frames, more, err := rc.conn.Fetch(ctx, r.LastSeq)
		if err != nil {
			return err
		}
		var jump error
		if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
			r := row.st.relay(rc.id)
			if r == nil {
				return nil
			}
			var entries []Entry
			for _, f := range frames {
				if f.Seq <= r.LastSeq {
					continue // another process got here first
				}
				if r.LastSeq > 0 && f.Seq-r.LastSeq > maxSeqJump {
					// Taken, it would move this relay's cursor past every
					// frame to come.
					jump = fmt.Errorf("the relay sent frame number %d right after %d; numbers never jump that far, so it was not taken (the relay is broken or hostile), nor anything after it", f.Seq, r.LastSeq)
					more = true // not synced to the end
					break
				}
				if n := row.st.unseen(r, f.Seq); n > 0 {
					entries = append(entries, Entry{Seq: row.st.Arrived, Kind: KindSystem, Reason: ReasonGap, Time: c.Now().UTC(), Text: row.st.missingLine(n)})
				}
				if row.st.gapMatters(r, f.Seq) {
					r.noteMissing(f.Seq, c.Now())
				}
				es, err := c.take(tx, row, r, f)
				if err != nil {
					return err
				}
				entries = append(entries, es...)
				r.LastSeq = f.Seq
			}
			if !more {
				r.Synced, r.Error, r.Forgot = c.Now().UTC(), "", false
				row.st.Synced = c.Now().UTC()
			}
			rep.New = append(rep.New, entries...)
			return c.appendTranscript(tx, row.id, entries)
		}); err != nil {
			return err
		}
		if jump != nil {
			return jump
		}
		if !more || len(frames) == 0 {
			return nil
		}
	}
}

// maxSeqJump bounds how far a relay's sequence numbers may jump between
// two frames this home takes: far more than expire between two syncs of
// any channel (or than a relay's restart skips, 64), far less than would
// let one made-up number end this home's reading from the relay.
const maxSeqJump = 1 << 24

// take processes a frame fetched from relay r, unless another relay's
// copy was taken already: then it only records that r had it too. The
// frame's entries are numbered in the order this home took frames in.
func (c *Client) take(tx *sql.Tx, row *channelRow, r *relayState, f wire.Stored) ([]Entry, error) {
	digest := c.frameDigest(uint8(f.Kind), f.Payload)
	dup, replay, err := c.seenFrame(tx, row.id, digest, r, f.Kind == wire.KindBundle)
	if err != nil {
		return nil, err
	}
	if dup {
		// Another relay's copy was taken already. If the frame is one of
		// ours, this relay has it too: a copy waiting for it (its
		// acknowledgement lost) must not be posted there again.
		if row.st.mightBeOurs(f) {
			_, err := c.matchOwnFrame(tx, row, r, f)
			return nil, err
		}
		return nil, nil
	}
	// A replay (the same relay, the same bytes again) is processed as
	// any frame: the ratchet and the roster checks refuse it, by name.
	row.st.Arrived++
	local := f
	local.Seq = row.st.Arrived
	row.st.setAside = false
	es, err := c.process(tx, row, r, local)
	if err != nil {
		return nil, err
	}
	if !replay && !row.st.setAside && refusedFrame(es) {
		if err := c.refuseSeen(tx, row.id, digest); err != nil {
			return nil, err
		}
	}
	if !dup && !replay && !row.st.setAside {
		// A frame counts from when it was posted (the time its sender
		// gave it), not from when this home first got it: a relay added
		// or emptied later is not expected to hold older frames.
		if err := c.datedSeen(tx, row.id, digest, es); err != nil {
			return nil, err
		}
	}
	if row.st.setAside && !replay {
		// Read again, from this relay, once the epoch it needs arrives.
		r.Missing = append(r.Missing, missingSeq{Seq: f.Seq, Since: c.Now()})
		if err := c.forgetSeen(tx, row.id, digest); err != nil {
			return nil, err
		}
	}
	return stamp(es, local.Seq, c.Now()), nil
}

// process verifies one frame and returns what to add to the transcript.
// Frames that fail a check become system lines saying what was seen;
// nothing unauthenticated is ever shown as a message.
func (c *Client) process(tx *sql.Tx, row *channelRow, r *relayState, f wire.Stored) ([]Entry, error) {
	keys, err := c.cache.channelKeys(row.st)
	if err != nil {
		return nil, err
	}
	switch f.Kind {
	case wire.KindBundle:
		return c.processBundle(tx, row, r, f, keys)
	case wire.KindMessage:
		return c.processMessage(tx, row, r, f, keys)
	}
	return []Entry{notice(ReasonMalformed, "rejected a frame of unknown kind %d", f.Kind)}, nil
}

func (c *Client) processBundle(tx *sql.Tx, row *channelRow, relay *relayState, f wire.Stored, keys *crypto.ChannelKeys) ([]Entry, error) {
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
		secrets, r, err := b.Open(keys, nil, inv.IsOrganizer)
		if errors.Is(err, crypto.ErrDecrypt) {
			// An epoch wrapped to our KeyID that our KEM key does not
			// open. Its signer is inside what does not open, so which
			// of two attacks it is cannot be told from here: the join
			// request reached the organizer with another KEM key in it,
			// or the relay altered this bundle on its way to us.
			return []Entry{notice(ReasonAdmissionAltered, "ALERT: an epoch naming this pseudonym arrived that this home's key does not open: either your join request was altered before it reached the organizer (the invite code intercepted, with the relay's help), or the relay altered the epoch on its way here. Do not use this channel until you have checked with the organizer in person")}, nil
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
		if err := st.followRoster(r, c.Now()); err != nil {
			return nil, err
		}
		text := fmt.Sprintf("admitted as %s; members: %s", self.Role, joinNames(names))
		if by := r.Member(crypto.KeyIDOf(r.Signer)); by != nil {
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
		if ours, err := c.matchOwnFrame(tx, row, relay, f); ours || err != nil {
			// Our own bundle again (a resend whose first copy we
			// already took in).
			return nil, err
		}
		if e := st.epoch(b.Epoch); e != nil {
			if r, _ := crypto.ParseRoster(e.Roster); r != nil && r.Hash() != b.RosterHash {
				if !st.signedOld(b, cur) {
					// Unsigned fields alone must not raise alarms: a
					// relay could make them up.
					return []Entry{notice(ReasonForged, "ignored a roster for epoch %d that no organizer signed", b.Epoch)}, nil
				}
				return []Entry{notice(ReasonFork, "rejected a second, different roster for epoch %d (a fork: two organizers changed the channel at once, or the relay lies)", b.Epoch)}, nil
			}
			if f.Seq > e.StartSeq {
				return []Entry{notice(ReasonReplay, "ignored a replayed roster for epoch %d", b.Epoch)}, nil
			}
			return nil, nil
		}
		return []Entry{notice(ReasonRejected, "ignored an old roster for epoch %d", b.Epoch)}, nil
	}
	// Our own proposal: if its acknowledgement was lost, this is it
	// arriving, and it must not be posted again.
	if _, err := c.matchOwnFrame(tx, row, relay, f); err != nil {
		return nil, err
	}
	if b.Epoch > cur.Version+maxEpochsAhead {
		return []Entry{notice(ReasonForged, "rejected a roster that claims epoch %d, more than %d past this home's %d: made up by the relay, or every epoch between was kept from this home", b.Epoch, maxEpochsAhead, cur.Version)}, nil
	}
	if b.Epoch > cur.Version+1 {
		// A later epoch while the one between is missing: read it again
		// once that one arrives. (Its signer may be an organizer the
		// missing epoch admits, so it cannot be checked yet; a made-up
		// one only pauses our talks messages, as a relay can anyway.)
		st.NewerEpoch = max(st.NewerEpoch, b.Epoch)
		st.setAside = true
		if len(st.Relays) > 1 {
			return nil, nil // another relay may have the epoch: said after all have been fetched (epochAheadLine)
		}
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
		if secrets, r, err = b.Open(k, st.current().Admin, cur.IsOrganizer); !errors.Is(err, crypto.ErrDecrypt) {
			break
		}
	}
	if errors.Is(err, crypto.ErrNotMember) && st.current().Admin != nil {
		// The channel's administration key, which only organizers
		// hold, signed an epoch without us.
		st.Status, st.RemovedSigned = statusRemoved, true
		text := "you were removed from the channel (by a roster an organizer signed)"
		if cur.Quorum != crypto.QuorumNone {
			// The new roster is sealed to those who remain, so this
			// home cannot check the approvals the rule asks for: say
			// what it knows, not more.
			text = fmt.Sprintf("an organizer signed epoch %d without you; under this channel's every-side rule your side's organizer must approve a removal, "+
				"which this home cannot check (the new roster is sealed to those who remain); if your side did not agree, the other members' clients reject it and say so", b.Epoch)
		}
		return []Entry{{Time: c.Now().UTC(), Kind: KindSystem, Reason: ReasonRemoved, Text: text}}, nil
	}
	if err != nil {
		return []Entry{notice(ReasonRejected, "rejected epoch bundle %d: %v", b.Epoch, err)}, nil
	}
	if err := r.VerifyNext(cur); errors.Is(err, crypto.ErrQuorum) {
		// Signed by an organizer, but without the other sides the
		// channel's rule requires: the error names the side missing.
		return []Entry{notice(ReasonQuorum, "rejected roster version %d, signed by %s: %v", r.Version, signerName(cur, r), err)}, nil
	} else if err != nil {
		return []Entry{notice(ReasonRejected, "rejected roster version %d: %v", r.Version, err)}, nil
	}
	entries := rosterChanges(cur, r, st, keys.ID())
	if err := st.adoptNextKeys(r, c.Now()); err != nil {
		return nil, err
	}
	if err := st.enterEpoch(r, secrets, keys.ID(), f.Seq); err != nil {
		return nil, err
	}
	if err := st.followRoster(r, c.Now()); err != nil {
		return nil, err
	}
	st.Leaving = slices.DeleteFunc(st.Leaving, func(n string) bool {
		return !slices.ContainsFunc(r.Members, func(m crypto.Member) bool { return m.Name == n })
	})
	return entries, nil
}

// undecryptable is the line for a member's message that does not
// decrypt under the epoch's keys.
func undecryptable(sender *crypto.Member, epoch uint64) Entry {
	return notice(ReasonUndecryptable, "could not decrypt a message from %s in epoch %d: the relay altered it, or %s holds another epoch %d than this home (a fork: two organizers changed the channel at once, and the relay kept each side's roster from the other)", sender.Name, epoch, sender.Name, epoch)
}

func (c *Client) processMessage(tx *sql.Tx, row *channelRow, relay *relayState, f wire.Stored, keys *crypto.ChannelKeys) ([]Entry, error) {
	st := row.st
	if st.Status != statusActive {
		return nil, nil
	}
	h, err := crypto.ParseClearHeader(f.Payload)
	if err != nil {
		return []Entry{notice(ReasonMalformed, "rejected a malformed frame")}, nil
	}
	selfID := keys.ID()
	if h.Sender == selfID {
		// Our own frame: either an acknowledgement lost in a crash, or
		// a relay reflecting it back; never shown twice.
		matched, err := c.matchOwnFrame(tx, row, relay, f)
		if err != nil || matched {
			return nil, err
		}
		return st.restoredFrom(f.Payload, keys), nil
	}
	e := st.epoch(h.Epoch)
	cur := st.current()
	if e == nil {
		if cur != nil && h.Epoch > cur.Epoch+maxEpochsAhead {
			// Set aside, it would pause the talks until the channel
			// reached an epoch that will never come.
			return []Entry{notice(ReasonForged, "rejected a frame that claims epoch %d, more than %d past this home's %d: made up by the relay or a member, or every epoch between was kept from this home", h.Epoch, maxEpochsAhead, cur.Epoch)}, nil
		}
		if cur != nil && h.Epoch > cur.Epoch {
			// Only a header: the relay could have made it up, so it
			// pauses our talks messages (which a relay can stop anyway)
			// and asserts nothing more.
			st.NewerEpoch = max(st.NewerEpoch, h.Epoch)
			st.setAside = true // read once the epoch arrives
			if len(st.Relays) > 1 {
				return nil, nil // another relay may have the epoch: said after all have been fetched (epochAheadLine)
			}
			return []Entry{notice(ReasonEpochWithheld, "a message of epoch %d arrived, but this home has not received that epoch: the relay may be withholding it from you; talks messages wait until it arrives", h.Epoch)}, nil
		}
		return nil, nil // before our admission, or an epoch already deleted
	}
	// The roster, its hash and the view (pair keys) are derived once
	// per epoch, not per message (epochcache.go).
	epochOf := func(e *epochState) (*epochCtx, error) { return c.cache.epoch(st, e) }
	x, err := epochOf(e)
	if err != nil {
		return nil, err
	}
	r := x.roster
	// crypto makes every check (EpochView.Open); the client adds its
	// own rule for old epochs, and words for each refusal.
	sender := x.member(h.Sender)
	if sender != nil && h.Epoch < cur.Epoch {
		now, err := epochOf(cur)
		if err != nil {
			return nil, err
		}
		if now.member(h.Sender) == nil {
			return []Entry{notice(ReasonForged, "rejected a message from %s sent after their removal", sender.Name)}, nil
		}
	}
	v := x.view
	// The header is opened once: Incoming, then OpenIncoming with the
	// chain it names.
	in, err := v.Incoming(f.Payload)
	full := in.Header()
	switch {
	case err == nil:
	case sender == nil:
		return []Entry{notice(ReasonForged, "rejected a message from a key outside the roster")}, nil
	default:
		return []Entry{undecryptable(sender, h.Epoch)}, nil
	}
	ck := chainKey(full.Compartment, h.Sender)
	var chain *crypto.ReceiveChain
	if raw, ok := e.Recv[ck]; ok {
		if chain, err = crypto.ParseReceiveChain(raw); err != nil {
			return nil, err
		}
	}
	o, err := v.OpenIncoming(chain, in)
	switch {
	case err == nil:
	case sender == nil:
		return []Entry{notice(ReasonForged, "rejected a message from a key outside the roster")}, nil
	case errors.Is(err, crypto.ErrNotMember):
		return []Entry{notice(ReasonForged, "rejected a %s message from %s, a %s", full.Compartment, sender.Name, sender.Role)}, nil
	case errors.Is(err, crypto.ErrNoCompartment):
		return nil, nil // a compartment we do not read
	case errors.Is(err, crypto.ErrReplay):
		return []Entry{notice(ReasonReplay, "rejected a replayed message from %s", sender.Name)}, nil
	case errors.Is(err, crypto.ErrBadTag):
		return []Entry{notice(ReasonForged, "rejected a message claiming to be from %s: sender authentication failed", sender.Name)}, nil
	case errors.Is(err, crypto.ErrDecrypt):
		return []Entry{undecryptable(sender, h.Epoch)}, nil
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
	out = append(out, st.checkReport(e, x, o.Header, sender, m.Report, selfID, epochOf)...)
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
		en := Entry{Time: t, Sender: sender.Name, Kind: kindOf(full.Compartment), Text: string(content)}
		if full.Compartment == crypto.Side {
			en.Side = sender.Side
		}
		out = append(out, en)
	case typeDraft:
		if full.Compartment != crypto.Talks {
			return append(out, notice(ReasonRejected, "rejected a draft outside the talks compartment from %s", sender.Name)), nil
		}
		es, err := st.receiveChunk(sender.Name, t, content)
		return append(out, es...), err
	case typeKeyUpdate:
		self := r.Member(keys.ID())
		out = append(out, st.receiveKeyUpdate(sender, self.Role, content)...)
	case typePadding:
		// A draft's padding frame: nothing to show.
	case typeInitial:
		if full.Compartment != crypto.Talks {
			return append(out, notice(ReasonRejected, "rejected an initial outside the talks compartment from %s", sender.Name)), nil
		}
		e := st.receiveInitial(sender, content)
		e.Time = t
		if e.Kind == KindInitial {
			e.Sender = sender.Name
		}
		out = append(out, e)
	case typeProposal, typeApproval:
		if full.Compartment != crypto.Talks {
			return append(out, notice(ReasonRejected, "rejected a roster proposal outside the talks compartment from %s", sender.Name)), nil
		}
		self := r.Member(keys.ID())
		if m.Type == typeProposal {
			return append(out, st.receiveProposal(sender, self, t, content)...), nil
		}
		return append(out, st.receiveApproval(sender, self, t, content)...), nil
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
		if err := c.proposalDuties(tx, row, rep, cur, keys); err != nil {
			return err
		}
		if held, err := c.holdForProposal(tx, row, rep, cur); err != nil || held {
			return err
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
		var held []string
		for _, m := range cur.Members {
			if m.ID() == keys.ID() {
				continue
			}
			if slices.Contains(row.st.Leaving, m.Name) || m.ExpiredAt(c.Now()) {
				if needsOtherSide(cur, self, &m) {
					// Not this organizer's alone to remove under the
					// channel's rule: said, and left to that side.
					held = append(held, m.Name)
					continue
				}
				changed = next.Remove(m.ID()) || changed
			}
		}
		if err := c.noteHeld(tx, row, rep, cur, held); err != nil {
			return err
		}
		if !changed {
			return nil
		}
		row.st.Leaving = slices.DeleteFunc(row.st.Leaving, func(n string) bool { return !slices.Contains(held, n) })
		if newKeys != nil {
			// Adopted when our own bundle, wrapped to it, comes back.
			row.st.NextKeys, _ = newKeys.MarshalBinary()
		}
		return c.rekey(tx, row, next, keys)
	})
}

// burned handles a relay that says the channel was burned: the notice
// must be signed by an organizer of the roster we hold, then every trace
// of the channel is erased from this home. One relay's valid notice is
// enough: an organizer burns at every relay, and a relay that hides the
// notice only delays the erasure.
func (c *Client) burned(ctx context.Context, name string, rep *SyncReport, relay *relayState) error {
	row, err := c.view(name)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	k, err := row.st.keys()
	if err != nil {
		return err
	}
	conn, err := c.dial(dctx, relay.URL, k.ID())
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
	if !slices.ContainsFunc(row.st.knownAdmins(), notice.SignedBy) {
		if row.st.Status == statusPending {
			return errors.New("the relay says the channel was burned; this home, not admitted yet, holds no key to check that (parley channel leave removes the channel here)")
		}
		return errors.New("the relay's burn notice is not signed by an administration key of this channel")
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
