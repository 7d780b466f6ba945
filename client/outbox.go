package client

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

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
	if _, err := tx.Exec(`DELETE FROM outbox WHERE id = ?`, it.id); err != nil {
		return err
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

// flush sends the channel's outbox over an authenticated connection, in
// order, committing each item's delivery as its acknowledgement comes.
func (c *Client) flush(ctx context.Context, conn *relayclient.Conn, name string) error {
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
	for _, it := range items {
		var seq uint64
		switch it.Kind {
		case outAccess:
			err = c.sendAccess(ctx, conn, name, it)
		case outBundle:
			seq, err = conn.Post(ctx, wire.KindBundle, it.Payload)
		case outMessage:
			seq, err = conn.Post(ctx, wire.KindMessage, it.Payload)
		}
		if err != nil {
			return fmt.Errorf("sending to the relay (kept queued; parley sync retries): %w", err)
		}
		tx, err := c.db.Begin()
		if err != nil {
			return err
		}
		if err := c.delivered(tx, row.id, it, seq); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
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

// sendAccess sends a queued access list. If the relay holds a newer
// version (another organizer changed the list since this one last did),
// the list is signed again one version above the relay's, in the outbox
// first, so a crash cannot lose it.
func (c *Client) sendAccess(ctx context.Context, conn *relayclient.Conn, name string, it outboxItem) error {
	list, err := crypto.ParseAccessList(it.Payload)
	if err != nil {
		return err
	}
	err = conn.SetAccess(ctx, list)
	if !errors.Is(err, relayclient.ErrStale) {
		return err
	}
	cur, gerr := conn.AccessList(ctx)
	if gerr != nil {
		return err
	}
	if bytes.Equal(cur, it.Payload) {
		return nil // sent before a crash; the relay holds exactly it
	}
	held, perr := crypto.ParseAccessList(cur)
	if perr != nil {
		return err
	}
	err = c.update(name, func(tx *sql.Tx, row *channelRow) error {
		keys, err := row.st.keys()
		if err != nil {
			return err
		}
		list.Version = held.Version + 1
		if err := list.Sign(keys); err != nil {
			return err
		}
		row.st.AccessVersion = list.Version
		it.Payload, _ = list.Marshal()
		plain, _ := json.Marshal(it)
		_, err = tx.Exec(`UPDATE outbox SET item = ? WHERE id = ?`, c.seal.seal(fmt.Sprintf("outbox/%d", it.id), plain), it.id)
		return err
	})
	if err != nil {
		return err
	}
	return conn.SetAccess(ctx, list)
}
