package client

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
)

// Outbox item kinds, sent in the order they were queued.
const (
	outAccess  = "access"
	outBundle  = "bundle"
	outMessage = "message"
)

// outboxItem is something committed locally that the relay has not
// acknowledged yet.
type outboxItem struct {
	id      int64
	Kind    string `json:"kind"`
	Payload []byte `json:"payload"`
	// Entry is recorded in the transcript once a message is delivered.
	Entry *Entry `json:"entry,omitempty"`
	// A message keeps its plaintext, so that it can be sealed again in
	// a newer epoch if the roster changes before it is sent.
	Type    byte               `json:"type,omitempty"`
	Comp    crypto.Compartment `json:"comp,omitempty"`
	Content []byte             `json:"content,omitempty"`
	// Composed is when the message was written: the time its readers
	// see, whenever it is sealed.
	Composed time.Time `json:"composed,omitempty"`
	// Attempted is set, and committed, before a message is posted: from
	// then on the relay may have it, and it can no longer be taken back.
	Attempted bool `json:"attempted,omitempty"`
	// Acked lists the relays (IDs) that acknowledged an item now kept
	// in the copies table for the others; FirstAck is when the first
	// did.
	Acked    []int     `json:"acked,omitempty"`
	FirstAck time.Time `json:"first_ack,omitempty"`
	// Sent names a sealed message's mark (report.go), dated when a
	// relay first acknowledges it.
	Sent *sentRef `json:"sent,omitempty"`
	// copy is set for an item loaded from the copies table.
	copy bool
}

func (c *Client) queue(tx *sql.Tx, channel int64, item outboxItem) error {
	plain, _ := json.Marshal(item)
	res, err := tx.Exec(`INSERT INTO outbox (channel, item) VALUES (?, x'')`, channel)
	if err != nil {
		return err
	}
	id, _ := res.LastInsertId()
	_, err = tx.Exec(`UPDATE outbox SET item = ? WHERE id = ?`, c.seal.seal(fmt.Sprintf("outbox/%d", id), plain), id)
	return err
}

func (c *Client) outbox(tx *sql.Tx, channel int64) ([]outboxItem, error) {
	return c.items(tx, "outbox", channel)
}

// items loads the sealed items of table (outbox or copies) for a
// channel, oldest first.
func (c *Client) items(tx *sql.Tx, table string, channel int64) ([]outboxItem, error) {
	rows, err := tx.Query(`SELECT id, item FROM `+table+` WHERE channel = ? ORDER BY id`, channel)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []outboxItem
	for rows.Next() {
		var id int64
		var sealed []byte
		if err := rows.Scan(&id, &sealed); err != nil {
			return nil, err
		}
		plain, err := c.seal.open(fmt.Sprintf("%s/%d", table, id), sealed)
		if err != nil {
			return nil, err
		}
		var it outboxItem
		if err := json.Unmarshal(plain, &it); err != nil {
			return nil, errCorrupt
		}
		it.id, it.copy = id, table == "copies"
		out = append(out, it)
	}
	return out, rows.Err()
}

// acknowledged records that relay r has an item. The first relay to
// acknowledge a queued item makes it sent: it leaves the outbox, its
// transcript entry is recorded, and, when the channel has other relays,
// it waits in the copies table until each has it. A copy leaves when
// every relay of the channel has it.
func (c *Client) acknowledged(tx *sql.Tx, row *channelRow, it outboxItem, r *relayState) error {
	// The seen table is not told: our own frame, fetched back, must be
	// taken in once (an epoch is entered when its bundle comes back).
	if it.copy {
		if !slices.Contains(it.Acked, r.ID) {
			it.Acked = append(it.Acked, r.ID)
		}
		return c.saveCopy(tx, row, it)
	}
	res, err := tx.Exec(`DELETE FROM outbox WHERE id = ?`, it.id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // another process on this home delivered it
	}
	if it.Sent != nil {
		if e := row.st.epoch(it.Sent.Epoch); e != nil {
			e.noteAcknowledged(it.Sent.Chain, it.Sent.Counter, c.Now())
		}
	}
	if it.Kind == outBundle {
		// The relay holds an epoch this home made and has not entered:
		// it enters it when the bundle comes back. Until then nothing
		// is sealed in the epoch it replaces, whose roster may hold
		// someone it removes (freshness.go, superseded): a relay that
		// took the bundle and never returns it would otherwise have
		// this home go on writing to them.
		if b, err := crypto.ParseEpochBundle(it.Payload); err == nil {
			row.st.NewerEpoch = max(row.st.NewerEpoch, b.Epoch)
		}
	}
	if it.Entry != nil {
		e := *it.Entry
		row.st.Arrived++
		e.Seq = row.st.Arrived
		if err := c.appendTranscript(tx, row.id, []Entry{e}); err != nil {
			return err
		}
	}
	it.Acked, it.FirstAck, it.id = []int{r.ID}, c.Now().UTC(), 0
	return c.saveCopy(tx, row, it)
}

// saveCopy keeps a copy for the relays that lack it, or drops it when
// none of the channel's relays does.
func (c *Client) saveCopy(tx *sql.Tx, row *channelRow, it outboxItem) error {
	lacking := slices.ContainsFunc(row.st.Relays, func(r *relayState) bool { return !slices.Contains(it.Acked, r.ID) })
	if !lacking {
		if it.id != 0 {
			_, err := tx.Exec(`DELETE FROM copies WHERE id = ?`, it.id)
			return err
		}
		return nil
	}
	if it.id == 0 {
		res, err := tx.Exec(`INSERT INTO copies (channel, item) VALUES (?, x'')`, row.id)
		if err != nil {
			return err
		}
		it.id, _ = res.LastInsertId()
	}
	it.Entry = nil // recorded already; a copy is only bytes for a relay
	plain, _ := json.Marshal(it)
	_, err := tx.Exec(`UPDATE copies SET item = ? WHERE id = ?`, c.seal.seal(fmt.Sprintf("copies/%d", it.id), plain), it.id)
	return err
}

// matchOwnFrame handles a frame of our own fetched from relay r: if it
// is an outbox item whose acknowledgement was lost (a crash between post
// and commit), or a copy r was still to get, r has it now and it is not
// sent there again.
func (c *Client) matchOwnFrame(tx *sql.Tx, row *channelRow, r *relayState, f wire.Stored) (bool, error) {
	for _, table := range []string{"outbox", "copies"} {
		items, err := c.items(tx, table, row.id)
		if err != nil {
			return false, err
		}
		for _, it := range items {
			if (it.Kind == outMessage || it.Kind == outBundle) && bytes.Equal(it.Payload, f.Payload) {
				return true, c.acknowledged(tx, row, it, r)
			}
		}
	}
	return false, nil
}

// errProposalLost is returned when another organizer's change to the
// channel reached the relay first.
var errProposalLost = errors.New("another organizer changed the channel at the same moment; this change was not made: run the command again")

// proposalQueued reports whether a roster change of channel name waits
// in the outbox.
func (c *Client) proposalQueued(name string) (queued bool, err error) {
	err = c.read(name, func(tx *sql.Tx, row *channelRow) error {
		queued, err = c.hasProposal(tx, row.id)
		return err
	})
	return queued, err
}

// hasProposal reports whether a roster change waits in the outbox.
func (c *Client) hasProposal(tx *sql.Tx, channel int64) (bool, error) {
	items, err := c.outbox(tx, channel)
	if err != nil {
		return false, err
	}
	for _, it := range items {
		if it.Kind == outAccess || it.Kind == outBundle {
			return true, nil
		}
	}
	return false, nil
}

// flush sends the channel's messages to one relay on a member
// connection, and flushAdmin its access lists and epoch bundles on an
// administration connection (administer.go): each in order, committing
// each acknowledgement as it comes, first the copies other relays have
// and this one lacks, then what no relay has yet. A lock on the home
// keeps two parley processes from sending one item twice.
func (c *Client) flush(ctx context.Context, rc relayConn, name string) error {
	return c.flushKind(ctx, rc, name, false)
}

func (c *Client) flushAdmin(ctx context.Context, rc relayConn, name string) error {
	return c.flushKind(ctx, rc, name, true)
}

func (c *Client) flushKind(ctx context.Context, rc relayConn, name string, admin bool) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	tx, err := c.db.Begin()
	if err != nil {
		return err
	}
	row, err := c.loadChannel(tx, name)
	if err != nil {
		tx.Rollback()
		return err
	}
	copies, err := c.items(tx, "copies", row.id)
	if err != nil {
		tx.Rollback()
		return err
	}
	items, err := c.outbox(tx, row.id)
	tx.Rollback()
	if err != nil {
		return err
	}
	conn := rc.conn
	mine := func(it outboxItem) bool { return (it.Kind == outMessage) != admin }
	// delivered turns one post's outcome into the flush's answer: nil
	// once the relay took the item and this home recorded that.
	delivered := func(it outboxItem, err error) error {
		if err != nil {
			var answered *relayclient.Error
			return &postError{id: it.id, uncertain: !errors.As(err, &answered), err: err}
		}
		if err := c.recordDelivery(name, it, rc.id); err != nil {
			return &unrecordedError{id: it.id, err: err}
		}
		return nil
	}
	post := func(it outboxItem) error {
		switch it.Kind {
		case outAccess:
			return c.sendAccess(ctx, conn, it)
		case outBundle:
			_, err := conn.Post(ctx, wire.KindBundle, it.Payload)
			return err
		}
		_, err := conn.Post(ctx, wire.KindMessage, it.Payload)
		return err
	}
	for _, it := range copies {
		if !mine(it) || slices.Contains(it.Acked, rc.id) {
			continue
		}
		err := post(it)
		if errors.Is(err, errProposalLost) {
			// Another relay took this change first; if this one holds
			// another organizer's change of the same version, it keeps
			// it until the next version (see docs/protocol.md §18).
			err = nil
		}
		if err := delivered(it, err); err != nil {
			return err
		}
	}
	var stale error
	for i := 0; i < len(items); i++ {
		it := items[i]
		if !mine(it) {
			continue
		}
		if it.Kind == outMessage {
			if it, err = c.prepareToPost(name, it); errors.Is(err, ErrStale) {
				// A talks message waits for a fresh epoch; briefings
				// behind it still go, so a member can say it is stuck.
				stale = err
				continue
			} else if err != nil {
				return err
			}
		}
		err := post(it)
		if it.Kind == outAccess && errors.Is(err, errProposalLost) {
			// Drop the proposal: this list and its bundle.
			drop := []outboxItem{it}
			if i+1 < len(items) && items[i+1].Kind == outBundle {
				drop = append(drop, items[i+1])
				i++
			}
			if derr := c.dropItems(name, drop); derr != nil {
				return derr
			}
			return err
		}
		if err := delivered(it, err); err != nil {
			return err
		}
	}
	return stale
}

// adminQueued reports whether an access list or epoch bundle waits to
// be posted to any relay of the channel (the outbox, or a copy a relay
// lacks).
func (c *Client) adminQueued(name string) (bool, error) {
	if due, err := c.proposalQueued(name); err != nil || due {
		return due, err
	}
	due := false
	err := c.read(name, func(tx *sql.Tx, row *channelRow) error {
		copies, err := c.items(tx, "copies", row.id)
		for _, it := range copies {
			for _, r := range row.st.Relays {
				due = due || it.Kind != outMessage && !slices.Contains(it.Acked, r.ID)
			}
		}
		return err
	})
	return due, err
}

// failRecord, set only by tests (none of them parallel), makes recording
// a delivery fail as a full disk does.
var failRecord func() error

func (c *Client) recordDelivery(name string, it outboxItem, relayID int) error {
	if failRecord != nil {
		if err := failRecord(); err != nil {
			return err
		}
	}
	return c.update(name, func(tx *sql.Tx, row *channelRow) error {
		r := row.st.relay(relayID)
		if r == nil {
			return nil // the roster dropped this relay meanwhile
		}
		return c.acknowledged(tx, row, it, r)
	})
}

// unrecordedError is an outbox item the relay acknowledged that this
// home could not mark as sent (a full disk, say). It stays in the
// outbox; the next sync finds the frame at the relay and records it
// without sending it again.
type unrecordedError struct {
	id  int64
	err error
}

func (e *unrecordedError) Error() string {
	return fmt.Sprintf("the relay acknowledged a queued item, but this home could not record that (%v); the next sync records it without sending it again", e.err)
}

func (e *unrecordedError) Unwrap() error { return e.err }

// postError is an outbox item the relay did not acknowledge. The item
// stays queued.
type postError struct {
	id int64
	// uncertain is set when the relay gave no answer: it may have
	// stored the item. A sync fetches before it sends, and an item
	// found at the relay is marked delivered, not sent again.
	uncertain bool
	err       error
}

func (e *postError) Error() string {
	if e.uncertain {
		return fmt.Sprintf("no answer from the relay (%v): it may have the last item sent; that item stays queued, and parley sync sends it only if the relay does not have it", e.err)
	}
	return fmt.Sprintf("the relay refused a queued item (%v); it stays queued and parley sync tries again (parley outbox lists the queue)", e.err)
}

func (e *postError) Unwrap() error { return e.err }

// sendAccess sends a queued access list. Its version is the roster's, so
// a stale answer means either that it was sent before (the relay holds
// exactly it) or that another organizer's list of that version won.
func (c *Client) sendAccess(ctx context.Context, conn *relayclient.Conn, it outboxItem) error {
	list, err := crypto.ParseAccessList(it.Payload)
	if err != nil {
		return err
	}
	err = conn.SetAccess(ctx, list)
	if !errors.Is(err, relayclient.ErrStale) {
		return err
	}
	cur, gerr := conn.AccessList(ctx)
	if gerr == nil && bytes.Equal(cur, it.Payload) {
		return nil
	}
	// "Stale" is the relay's word; what it shows is checked. Another
	// organizer's change of this version is signed under the same
	// administration key as ours; a later version means ours is
	// outdated either way. An older list, or one of this version that
	// does not verify, is a relay refusing the change, not a lost race.
	shown, perr := crypto.ParseAccessList(cur)
	switch {
	case gerr != nil:
		return fmt.Errorf("the relay called this change stale but shows no access list: %w", gerr)
	case perr != nil || shown.Channel != list.Channel || shown.Version < list.Version:
		return fmt.Errorf("%w: it called this change (version %d) stale, but holds no newer access list", errRelayRefusedChange, list.Version)
	case shown.Version == list.Version:
		if shown.VerifyNext(&crypto.AccessList{Channel: list.Channel, Version: list.Version - 1, Admin: list.Signer}) != nil {
			return fmt.Errorf("%w: it called this change (version %d) stale, but the access list it shows of that version does not verify", errRelayRefusedChange, list.Version)
		}
	}
	return errProposalLost
}

// errRelayRefusedChange is a relay that answered a roster change as
// stale without showing the newer change that would make it so.
var errRelayRefusedChange = errors.New("the relay refuses this roster change")

func (c *Client) dropItems(name string, items []outboxItem) error {
	return c.update(name, func(tx *sql.Tx, row *channelRow) error {
		for _, it := range items {
			if _, err := tx.Exec(`DELETE FROM outbox WHERE id = ?`, it.id); err != nil {
				return err
			}
		}
		return nil
	})
}

// prepareToPost seals a queued message, unless a first attempt already
// did, and marks it attempted. A message sealed in an older epoch is
// sealed again: a message is only ever sent to the roster current when
// it leaves.
func (c *Client) prepareToPost(name string, it outboxItem) (outboxItem, error) {
	err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
		if len(it.Payload) == 0 {
			// A roster change of this home's own still queued (an
			// interrupted remove, or one no relay took yet) replaces
			// the current epoch: nothing new is sealed in it, which may
			// hold the member being removed. Once a relay takes the
			// change, NewerEpoch holds the messages until its bundle
			// comes back (acknowledged).
			if queued, err := c.hasProposal(tx, row.id); err != nil {
				return err
			} else if queued {
				return fmt.Errorf("%w: a roster change of this home's was still to be sent, and nothing is sealed in the epoch it replaces until a relay has taken it and returned its bundle; the message stays queued for the next parley sync", ErrStale)
			}
		}
		sealed := len(it.Payload) > 0
		if sealed && !(it.Attempted && len(row.st.Relays) > 1) {
			// With one relay, a sync fetches before it sends, so a first
			// attempt that reached the relay has been recognised by now.
			// With several, the relay that may hold it can be away while
			// another brings a newer epoch: once attempted, the bytes stay
			// (sealed again they would be a second message).
			h, err := crypto.ParseClearHeader(it.Payload)
			if err != nil {
				return err
			}
			cur := row.st.current()
			sealed = cur == nil || cur.Epoch == h.Epoch
		}
		if !sealed {
			env, ref, err := c.sealEnvelope(row, it.Comp, it.Type, it.Content, it.Composed)
			if err != nil {
				return err
			}
			it.Payload, it.Sent = env, &ref
		}
		it.Attempted = true
		plain, _ := json.Marshal(it)
		_, err := tx.Exec(`UPDATE outbox SET item = ? WHERE id = ?`, c.seal.seal(fmt.Sprintf("outbox/%d", it.id), plain), it.id)
		return err
	})
	return it, err
}

// Queued returns how many items wait in a channel's outbox.
func (c *Client) Queued(name string) (int, error) {
	row, err := c.view(name)
	if err != nil {
		return 0, err
	}
	var n int
	err = c.db.QueryRow(`SELECT count(*) FROM outbox WHERE channel = ?`, row.id).Scan(&n)
	return n, err
}

// proposalUnadopted reports whether a roster change of ours waits: in
// the outbox, or at some relays (a copy) while its epoch has not come
// back to this home yet.
func (c *Client) proposalUnadopted(tx *sql.Tx, row *channelRow) (bool, error) {
	if pending, err := c.hasProposal(tx, row.id); err != nil || pending {
		return pending, err
	}
	copies, err := c.items(tx, "copies", row.id)
	if err != nil {
		return false, err
	}
	cur := row.st.current()
	for _, it := range copies {
		if it.Kind != outBundle {
			continue
		}
		if b, err := crypto.ParseEpochBundle(it.Payload); err == nil && (cur == nil || b.Epoch > cur.Epoch) {
			return true, nil
		}
	}
	return false, nil
}

// pruneCopies drops copies that no relay of the channel lacks any more
// (the roster dropped the relays that did).
func (c *Client) pruneCopies(tx *sql.Tx, row *channelRow) error {
	copies, err := c.items(tx, "copies", row.id)
	if err != nil {
		return err
	}
	for _, it := range copies {
		lacking := slices.ContainsFunc(row.st.Relays, func(r *relayState) bool { return !slices.Contains(it.Acked, r.ID) })
		if !lacking {
			if _, err := tx.Exec(`DELETE FROM copies WHERE id = ?`, it.id); err != nil {
				return err
			}
		}
	}
	return nil
}
