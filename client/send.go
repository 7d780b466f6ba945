package client

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"parley/crypto"
)

// MaxText is the longest message text, in bytes: what one fixed-size
// envelope carries after the send time.
const MaxText = crypto.MaxBody - 8

// Send queues text for the talks compartment (Talks) or as a briefing
// (Briefings), then syncs, which sends the queue. The message is sealed
// to the roster this home knows and sealed again before it leaves if a
// newer epoch arrives first, so it only ever goes to the roster current
// when it is sent.
//
// A text identical to one still queued in the same compartment is that
// message sent again (a retried send), not a second copy.
//
// Send returns nil once the relay has acknowledged the message (a
// committed frame), or a *SentUnrecordedError if it did but this home
// could not write that down. It returns a *QueuedError when the message is
// safely queued but not known to be at the relay (the relay is down,
// did not answer, or refused an older item first); the next sync sends
// it, and never twice. Any other error means nothing was queued.
func (c *Client) Send(ctx context.Context, name string, comp crypto.Compartment, text string) error {
	if err := checkText(comp, text); err != nil {
		return err
	}
	if row, err := c.view(name); err != nil {
		return err
	} else if row.st.Status == statusPending || (row.st.Status == statusRemoved && !row.st.RemovedSigned) {
		// Admission arrives with a sync, and so does the relay's
		// second thought about a key it refused; until then there is
		// nothing to seal with, and nothing is queued.
		if _, err := c.Sync(ctx, name); err != nil {
			return err
		}
	}
	var id int64
	merged := false
	rep, err := c.syncThen(ctx, name, func() error {
		// id is the queued item's only once the transaction that queued
		// it committed: a commit that failed (a full disk) queued
		// nothing, and an id left set would read as "sent" below.
		var queued int64
		var same bool
		err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
			// The same text still waiting in the outbox is a retry of a send
			// that failed or was killed: send that one, not a second copy.
			items, err := c.outbox(tx, row.id)
			if err != nil {
				return err
			}
			for _, it := range items {
				if it.Kind == outMessage && it.Type == typeText && it.Comp == comp && string(it.Content) == text {
					queued, same = it.id, true
					return nil
				}
			}
			if err := c.seal1(tx, row, comp, typeText, []byte(text), &Entry{Kind: kindOf(comp), Text: text}); err != nil {
				return err
			}
			return tx.QueryRow(`SELECT max(id) FROM outbox WHERE channel = ?`, row.id).Scan(&queued)
		})
		if err == nil {
			id, merged = queued, same
		}
		return err
	})
	if id == 0 {
		return err // nothing queued
	}
	err = c.sendOutcome(id, rep, err)
	if merged {
		// Say it: someone who meant to send the same words twice
		// must not believe two copies are on their way.
		var qe *QueuedError
		switch {
		case err == nil:
			return &SentOnceNotice{ID: id}
		case errors.As(err, &qe):
			qe.Merged, qe.ID = true, id
		}
	}
	return err
}

// SentOnceNotice is what Send returns when the text was already queued
// (a retried send) and has now gone out: once, not twice.
type SentOnceNotice struct{ ID int64 }

func (n *SentOnceNotice) Error() string {
	return fmt.Sprintf("sent: the same text was already queued (outbox %d), so it went out once, not twice", n.ID)
}

// checkText refuses what can never be sent, before anything is queued.
func checkText(comp crypto.Compartment, text string) error {
	switch {
	case !utf8.ValidString(text):
		return errors.New("message is not valid UTF-8")
	case strings.TrimSpace(text) == "":
		return errors.New("empty message")
	case len(text) > MaxText && comp == crypto.Talks:
		return fmt.Errorf("message of %d bytes is too long: at most %d bytes; put long texts in a draft (parley draft put)", len(text), MaxText)
	case len(text) > MaxText:
		return fmt.Errorf("message of %d bytes is too long: at most %d bytes; split it", len(text), MaxText)
	}
	return nil
}

// sendOutcome tells what became of outbox item id after a sync that
// returned rep and syncErr.
func (c *Client) sendOutcome(id int64, rep *SyncReport, syncErr error) error {
	if rep != nil && rep.Burned {
		return errors.New("not sent: the channel was burned, and this home has erased it")
	}
	var queued int
	if err := c.db.QueryRow(`SELECT count(*) FROM outbox WHERE id = ?`, id).Scan(&queued); err != nil {
		return fmt.Errorf("the message was queued, but the queue cannot be read now: %w", err)
	}
	if queued == 0 {
		return nil // the relay acknowledged it (to this process or another)
	}
	if ue := (*unrecordedError)(nil); errors.As(syncErr, &ue) && ue.id == id {
		return &SentUnrecordedError{Err: ue.err}
	}
	qe := &QueuedError{Err: syncErr}
	var pe *postError
	switch {
	case errors.As(syncErr, &pe) && pe.id == id:
		qe.Maybe, qe.Err = pe.uncertain, pe.err
	case errors.As(syncErr, &pe):
		qe.Behind, qe.Err = true, pe.err
	case syncErr != nil:
	case rep != nil && rep.Removed:
		qe.Err = errKeyRefused
	default:
		qe.Err = errors.New("the relay has not taken it yet")
	}
	return qe
}

// QueuedError is what Send returns for a message that is safely in the
// outbox but not known to be at the relay.
type QueuedError struct {
	// Merged is set when the same text was queued already (outbox ID):
	// one copy waits, not two.
	Merged bool
	ID     int64
	// Maybe is set when the message went out and no answer came back:
	// the relay may have stored it. The next sync looks for it before
	// sending it again.
	Maybe bool
	// Behind is set when an older queued item failed first, so this
	// one was not tried.
	Behind bool
	// Err is why the message is not known to be sent.
	Err error
}

func (e *QueuedError) Error() string {
	if e.Merged {
		return fmt.Sprintf("the same text was already queued (outbox %d), so it is queued once, not twice; %s", e.ID, (&QueuedError{Maybe: e.Maybe, Behind: e.Behind, Err: e.Err}).Error())
	}
	switch {
	case errors.Is(e.Err, errKeyRefused):
		return "queued, not sent: the relay refuses this member's key; it goes out if the relay accepts the key again (parley outbox lists it, --drop takes it back)"
	case e.Maybe:
		return fmt.Sprintf("posted to the relay, which did not answer (%v): it may have the message or not; it stays queued, and the next sync sends it only if the relay does not have it", e.Err)
	case e.Behind:
		return fmt.Sprintf("queued: not sent yet; an older queued item failed first (%v); it goes out on the next sync (parley outbox lists the queue)", e.Err)
	}
	return fmt.Sprintf("queued: not sent yet; it goes out on the next sync (%v)", e.Err)
}

func (e *QueuedError) Unwrap() error { return e.Err }

// SentUnrecordedError is what Send returns when the relay acknowledged
// the message but this home could not record it (a full disk): the
// message is sent; the next sync records it, and does not send it again.
type SentUnrecordedError struct{ Err error }

func (e *SentUnrecordedError) Error() string {
	return fmt.Sprintf("sent: the relay acknowledged the message, but this home could not record it (%v); the next sync records it without sending it again", e.Err)
}

func (e *SentUnrecordedError) Unwrap() error { return e.Err }

// errKeyRefused is why nothing leaves a home whose key the relay turns
// away: the relay's word alone, so the queue is kept.
var errKeyRefused = errors.New("the relay does not accept this member's key")

// seal1 queues one message; entry, when not nil, goes into our own
// transcript once the relay has it. It is sealed only when it leaves
// (prepareToPost): after the fetch that precedes every post, so that its
// report says what this home knows then, its counter follows any of our
// own messages found at the relay, and its epoch is the newest. What can
// never be sent is refused here, before anything is queued.
func (c *Client) seal1(tx *sql.Tx, row *channelRow, comp crypto.Compartment, typ byte, content []byte, entry *Entry) error {
	if err := c.checkPost(row.st, comp, len(content)); err != nil {
		return err
	}
	now := c.Now().UTC()
	item := outboxItem{Kind: outMessage, Type: typ, Comp: comp, Content: content, Composed: now}
	if entry != nil {
		_, self, _, _ := row.st.self(0)
		e := *entry
		e.Time, e.Sender = now, self.Name
		if e.Kind == KindSideBriefing {
			e.Side = self.Side
		}
		item.Entry = &e
	}
	return c.queue(tx, row.id, item)
}

// talksStale says whether the epoch this home holds is too old to post
// talks in: a sync may bring the next epoch or, for an organizer, start
// it.
func (c *Client) talksStale(name string) bool {
	row, err := c.view(name)
	return err == nil && row.st.Status == statusActive && row.st.stale(c.Now()) != nil
}

// checkPost says why this member cannot post content of size n in comp
// now, or nil.
func (c *Client) checkPost(st *channelState, comp crypto.Compartment, n int) error {
	_, _, err := c.checkPostIn(st, comp, n)
	return err
}

// checkPostIn is checkPost that also returns the current epoch's derived
// state and this member's entry, for the caller that seals.
func (c *Client) checkPostIn(st *channelState, comp crypto.Compartment, n int) (*epochCtx, *crypto.Member, error) {
	x, self, err := c.currentEpoch(st)
	if err != nil {
		return nil, nil, err
	}
	return x, self, checkPostAs(st, x, self, comp, n, c.Now())
}

// checkPostAs is checkPost for member self of epoch x, the current one.
func checkPostAs(st *channelState, x *epochCtx, self *crypto.Member, comp crypto.Compartment, n int, now time.Time) error {
	if comp == crypto.Side && self.Side == "" {
		return errors.New("you belong to no side: brief the whole channel with parley brief, without --side")
	}
	if !self.Posts(comp) {
		return fmt.Errorf("a %s cannot post in the %s compartment; use parley brief", self.Role, comp)
	}
	if n+8 > crypto.MaxBody {
		return fmt.Errorf("message of %d bytes is too long: at most %d bytes", n, MaxText)
	}
	if comp == crypto.Talks {
		return st.staleIn(x.roster, now)
	}
	return st.superseded(x.roster)
}

// sealEnvelope seals content, written at time t, for the current roster,
// advancing our sending chain; ref names the message's mark, which its
// acknowledgement dates (noteAcknowledged).
func (c *Client) sealEnvelope(row *channelRow, comp crypto.Compartment, typ byte, content []byte, t time.Time) ([]byte, sentRef, error) {
	x, self, err := c.checkPostIn(row.st, comp, len(content))
	if err != nil {
		return nil, sentRef{}, err
	}
	e := row.st.current()
	selfID := x.id(self)
	k := chainKey(comp, selfID)
	ch, err := crypto.ParseSendChain(e.Send[k])
	if err != nil {
		return nil, sentRef{}, err
	}
	n := ch.Next
	rep, err := row.st.report(comp, selfID, n, func(o *epochState) (*epochCtx, error) {
		if o == e {
			return x, nil // checked against the state above
		}
		return c.cache.epoch(row.st, o)
	})
	if err != nil {
		return nil, sentRef{}, err
	}
	env, err := x.view.Seal(ch, comp, crypto.Message{Type: typ, Body: encodeBody(t, content), Report: rep})
	if err != nil {
		return nil, sentRef{}, err
	}
	e.Send[k], _ = ch.MarshalBinary()
	e.noteSealed(k, n)
	return env, sentRef{Epoch: e.Epoch, Chain: k, Counter: n}, nil
}

func kindOf(comp crypto.Compartment) string {
	switch comp {
	case crypto.Talks:
		return KindMessage
	case crypto.Side:
		return KindSideBriefing
	}
	return KindBriefing
}

// Leave tells the channel this member leaves (an organizer's client then
// removes it), then erases the channel's keys, state and transcript from
// this home. The only organizer cannot leave: burn the channel, or admit
// another organizer first.
func (c *Client) Leave(ctx context.Context, name string) error {
	row, err := c.view(name)
	if err != nil {
		return err
	}
	if row.st.Status == statusActive {
		r, self, _, err := row.st.self(0)
		if err != nil {
			return err
		}
		if self.Role == crypto.RoleOrganizer {
			organizers := 0
			for _, m := range r.Members {
				if m.Role == crypto.RoleOrganizer {
					organizers++
				}
			}
			if organizers == 1 {
				return errors.New("you are the channel's only organizer: burn it (parley burn) or admit another organizer first")
			}
		}
		if _, err := c.syncThen(ctx, name, func() error {
			return c.update(name, func(tx *sql.Tx, row *channelRow) error {
				return c.seal1(tx, row, crypto.Briefings, typeLeave, nil, nil)
			})
		}); err != nil {
			return err
		}
		if q, err := c.Queued(name); err != nil || q > 0 {
			return cmp.Or(err, errors.New("the relay has not taken the leave message yet; nothing was erased: run parley leave again"))
		}
	}
	return c.erase(row.id)
}

// erase deletes every row of a channel and scrubs the database files.
func (c *Client) erase(id int64) error {
	tx, err := c.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{
		`DELETE FROM transcript WHERE channel = ?`,
		`DELETE FROM outbox WHERE channel = ?`,
		`DELETE FROM copies WHERE channel = ?`,
		`DELETE FROM seen WHERE channel = ?`,
		`DELETE FROM channels WHERE id = ?`,
	} {
		if _, err := tx.Exec(q, id); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	c.erased.signal()
	c.cache.forget()
	if err := scrub(c.db); err != nil {
		return err
	}
	// The file shrinks back to what the remaining channels need: its size
	// must not keep telling how much the erased channel held.
	if _, err := c.db.Exec(`VACUUM`); err != nil {
		return err
	}
	return scrub(c.db)
}
