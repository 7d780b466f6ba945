package client

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"unicode/utf8"

	"parley/crypto"
)

// Send posts text to the talks compartment (compartment Talks) or as a
// briefing (Briefings). It syncs first, so it always writes in the
// newest epoch to exactly the current roster.
func (c *Client) Send(ctx context.Context, name string, comp crypto.Compartment, text string) error {
	if !utf8.ValidString(text) {
		return errors.New("message is not valid UTF-8")
	}
	if len(text) == 0 {
		return errors.New("empty message")
	}
	if _, err := c.Sync(ctx, name); err != nil {
		return err
	}
	if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
		return c.seal1(tx, row, comp, typeText, []byte(text), &Entry{Kind: kindOf(comp), Text: text})
	}); err != nil {
		return err
	}
	return c.push(ctx, name)
}

// seal1 seals one message in the current epoch and queues it; entry,
// when not nil, goes into our own transcript once the relay has it.
func (c *Client) seal1(tx *sql.Tx, row *channelRow, comp crypto.Compartment, typ byte, content []byte, entry *Entry) error {
	env, err := c.sealEnvelope(row, comp, typ, content)
	if err != nil {
		return err
	}
	item := outboxItem{Kind: outMessage, Payload: env, Type: typ, Comp: comp, Content: content}
	if entry != nil {
		_, self, _, _ := row.st.self(0)
		e := *entry
		e.Time, e.Sender = c.Now().UTC(), self.Name
		item.Entry = &e
	}
	return c.queue(tx, row.id, item)
}

// sealEnvelope seals content for the current roster, advancing our
// sending chain.
func (c *Client) sealEnvelope(row *channelRow, comp crypto.Compartment, typ byte, content []byte) ([]byte, error) {
	r, self, keys, err := row.st.self(0)
	if err != nil {
		return nil, err
	}
	if !self.Role.CanRead(comp) {
		return nil, fmt.Errorf("a %s cannot post in the %s compartment; use parley brief", self.Role, comp)
	}
	body := encodeBody(c.Now(), content)
	if len(body) > crypto.MaxBody {
		return nil, fmt.Errorf("message of %d bytes is too long; at most %d", len(content), crypto.MaxBody-8)
	}
	e := row.st.current()
	k := chainKey(comp, keys.ID())
	ch, err := crypto.ParseSendChain(e.Send[k])
	if err != nil {
		return nil, err
	}
	n, mk, err := ch.Advance()
	if err != nil {
		return nil, err
	}
	e.Send[k], _ = ch.MarshalBinary()
	pairs, err := keys.PairKeys(r, comp)
	if err != nil {
		return nil, err
	}
	h := crypto.Header{Compartment: comp, Epoch: e.Epoch, Sender: keys.ID(), Counter: n}
	return crypto.SealMessage(r.Channel, h, mk, pairs, crypto.Message{Type: typ, Body: body})
}

func kindOf(comp crypto.Compartment) string {
	if comp == crypto.Talks {
		return KindMessage
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
		if _, err := c.Sync(ctx, name); err != nil {
			return err
		}
		if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
			return c.seal1(tx, row, crypto.Briefings, typeLeave, nil, nil)
		}); err != nil {
			return err
		}
		if err := c.push(ctx, name); err != nil {
			return err
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
		`DELETE FROM channels WHERE id = ?`,
	} {
		if _, err := tx.Exec(q, id); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return scrub(c.db)
}
