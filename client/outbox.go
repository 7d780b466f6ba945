package client

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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
	rows, err := tx.Query(`SELECT id, item FROM outbox WHERE channel = ? ORDER BY id`, channel)
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
		plain, err := c.seal.open(fmt.Sprintf("outbox/%d", id), sealed)
		if err != nil {
			return nil, err
		}
		var it outboxItem
		if err := json.Unmarshal(plain, &it); err != nil {
			return nil, errCorrupt
		}
		it.id = id
		out = append(out, it)
	}
	return out, rows.Err()
}

// delivered removes an item the relay has, recording its transcript
// entry under the sequence number the relay gave it.
func (c *Client) delivered(tx *sql.Tx, channel int64, it outboxItem, seq uint64) error {
	res, err := tx.Exec(`DELETE FROM outbox WHERE id = ?`, it.id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // another process on this home delivered it
	}
	if it.Entry != nil {
		e := *it.Entry
		e.Seq = seq
		return c.appendTranscript(tx, channel, []Entry{e})
	}
	return nil
}

// matchOwnFrame handles a frame of our own seen while fetching: if it is
// an outbox item whose acknowledgement was lost (a crash between post and
// commit), the item is done and is not sent twice.
func (c *Client) matchOwnFrame(tx *sql.Tx, channel int64, f wire.Stored) (bool, error) {
	items, err := c.outbox(tx, channel)
	if err != nil {
		return false, err
	}
	for _, it := range items {
		if (it.Kind == outMessage || it.Kind == outBundle) && bytes.Equal(it.Payload, f.Payload) {
			return true, c.delivered(tx, channel, it, f.Seq)
		}
	}
	return false, nil
}

// errProposalLost is returned when another organizer's change to the
// channel reached the relay first.
var errProposalLost = errors.New("another organizer changed the channel at the same moment; this change was not made: run the command again")

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

// flush sends the channel's outbox over an authenticated connection, in
// order, committing each item's delivery as its acknowledgement comes.
// A lock on the home keeps two parley processes from sending one item
// twice.
func (c *Client) flush(ctx context.Context, conn *relayclient.Conn, name string) error {
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
	items, err := c.outbox(tx, row.id)
	tx.Rollback()
	if err != nil {
		return err
	}
	var stale error
	for i := 0; i < len(items); i++ {
		it := items[i]
		var seq uint64
		switch it.Kind {
		case outAccess:
			err = c.sendAccess(ctx, conn, it)
			if errors.Is(err, errProposalLost) {
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
		case outBundle:
			seq, err = conn.Post(ctx, wire.KindBundle, it.Payload)
		case outMessage:
			if it, err = c.prepareToPost(name, it); errors.Is(err, ErrStale) {
				// A talks message waits for a fresh epoch; briefings
				// behind it still go, so a member can say it is stuck.
				stale = err
				continue
			} else if err != nil {
				return err
			}
			seq, err = conn.Post(ctx, wire.KindMessage, it.Payload)
		}
		if err != nil {
			var answered *relayclient.Error
			return &postError{id: it.id, uncertain: !errors.As(err, &answered), err: err}
		}
		if err := c.recordDelivery(row.id, it, seq); err != nil {
			return &unrecordedError{id: it.id, err: err}
		}
	}
	return stale
}

// failRecord, set only by tests (none of them parallel), makes recording
// a delivery fail as a full disk does.
var failRecord func() error

func (c *Client) recordDelivery(channel int64, it outboxItem, seq uint64) error {
	if failRecord != nil {
		if err := failRecord(); err != nil {
			return err
		}
	}
	tx, err := c.db.Begin()
	if err != nil {
		return err
	}
	if err := c.delivered(tx, channel, it, seq); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
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
	if cur, gerr := conn.AccessList(ctx); gerr == nil && bytes.Equal(cur, it.Payload) {
		return nil
	}
	return errProposalLost
}

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
		sealed := len(it.Payload) > 0
		if sealed {
			h, err := crypto.ParseHeader(it.Payload)
			if err != nil {
				return err
			}
			cur := row.st.current()
			sealed = cur == nil || cur.Epoch == h.Epoch
		}
		if !sealed {
			env, err := c.sealEnvelope(row, it.Comp, it.Type, it.Content, it.Composed)
			if err != nil {
				return err
			}
			it.Payload = env
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
