package client

import (
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// QueuedItem is one line of parley outbox: something this home committed
// to send that the relay has not acknowledged.
type QueuedItem struct {
	// ID names the item for DropQueued; a draft's chunks share the ID
	// of its first chunk.
	ID      int64      `json:"id"`
	Channel string     `json:"channel"`
	Kind    string     `json:"kind"` // message, briefing, draft, key update, leave, roster change
	Text    string     `json:"text,omitempty"`
	Queued  *time.Time `json:"queued,omitempty"`
	// Droppable says whether DropQueued may take it back: messages,
	// briefings and drafts that no send has tried to post yet (once one
	// has, the relay may have it). Roster changes and key updates are
	// part of the channel's agreed state and go out as they are.
	Droppable bool `json:"droppable"`
	// chunks are the outbox rows of a draft.
	chunks []int64
}

// Outbox lists what waits to be sent, for one channel or (name "") for
// every channel, oldest first.
func (c *Client) Outbox(name string) ([]QueuedItem, error) {
	var names []string
	if name != "" {
		names = []string{name}
	} else {
		list, err := c.Channels()
		if err != nil {
			return nil, err
		}
		for _, ch := range list {
			names = append(names, ch.Name)
		}
	}
	var out []QueuedItem
	for _, n := range names {
		items, err := c.queuedIn(n)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

func (c *Client) queuedIn(name string) ([]QueuedItem, error) {
	tx, err := c.db.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	row, err := c.loadChannel(tx, name)
	if err != nil {
		return nil, err
	}
	items, err := c.outbox(tx, row.id)
	if err != nil {
		return nil, err
	}
	var out []QueuedItem
	drafts := map[string]int{} // draft id → index in out
	for _, it := range items {
		q := QueuedItem{ID: it.id, Channel: name}
		switch {
		case it.Kind != outMessage:
			q.Kind = "roster change"
		case it.Type == typeText:
			q.Kind, q.Text, q.Droppable = kindOf(it.Comp), string(it.Content), !it.Attempted
		case it.Type == typeDraft:
			h, _, err := decodeChunk(it.Content)
			if err != nil {
				return nil, errCorrupt
			}
			id := hex.EncodeToString(h.ID[:])
			if i, ok := drafts[id]; ok {
				out[i].chunks = append(out[i].chunks, it.id)
				out[i].Droppable = out[i].Droppable && !it.Attempted
				continue
			}
			drafts[id] = len(out)
			q.Kind, q.Droppable, q.chunks = KindDraft, !it.Attempted, []int64{it.id}
			q.Text = fmt.Sprintf("%s (%d bytes)", h.Name, h.Total)
		case it.Type == typePadding:
			// Goes with its draft: listed and dropped with it.
			if i, ok := drafts[hex.EncodeToString(it.Content)]; ok {
				out[i].chunks = append(out[i].chunks, it.id)
				continue
			}
			q.Kind = "draft padding"
		case it.Type == typeInitial:
			q.Kind, q.Droppable = KindInitial, !it.Attempted
			if it.Entry != nil {
				q.Text = it.Entry.Text
			}
		case it.Type == typeKeyUpdate:
			q.Kind = "key update"
		case it.Type == typeLeave:
			q.Kind = "leave"
		case it.Type == typeProposal:
			q.Kind = "roster proposal"
		case it.Type == typeApproval:
			q.Kind = "approval"
		default:
			q.Kind = "other"
		}
		if it.Entry != nil {
			t := it.Entry.Time
			q.Queued = &t
		}
		out = append(out, q)
	}
	return out, nil
}

// ErrNotQueued is returned by DropQueued for an id that is not waiting
// in the channel's outbox (sent meanwhile, or never there).
var ErrNotQueued = errors.New("no such item waits in the outbox (parley outbox lists them)")

// DropQueued takes a queued message, briefing or draft back before any
// send has tried to post it. One that a send has tried (and got no
// answer, or was interrupted) may be at the relay already, so it is not
// taken back: the next sync delivers it or finds it there.
func (c *Client) DropQueued(name string, id int64) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	items, err := c.queuedIn(name)
	if err != nil {
		return err
	}
	for _, q := range items {
		if q.ID != id {
			continue
		}
		if !q.Droppable && (q.Kind == KindMessage || q.Kind == KindBriefing || q.Kind == KindDraft) {
			return fmt.Errorf("queued %s %d cannot be taken back: a send already tried to post it, so the relay may have it; parley sync delivers it or finds it there", q.Kind, q.ID)
		}
		if !q.Droppable {
			return fmt.Errorf("a queued %s cannot be dropped: it is part of the channel's state and goes out as it is", q.Kind)
		}
		rows := q.chunks
		if len(rows) == 0 {
			rows = []int64{q.ID}
		}
		return c.update(name, func(tx *sql.Tx, row *channelRow) error {
			for _, r := range rows {
				if _, err := tx.Exec(`DELETE FROM outbox WHERE id = ? AND channel = ?`, r, row.id); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return ErrNotQueued
}
