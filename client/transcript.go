package client

import (
	"bytes"
	"cmp"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"filippo.io/age"
)

// Entry kinds.
const (
	KindMessage  = "message"  // talks compartment
	KindBriefing = "briefing" // briefings compartment
	// KindSideBriefing is a side's own briefings (crypto.Side): read by
	// that side's members alone; Entry.Side names the side.
	KindSideBriefing = "side-briefing"
	KindSystem       = "system"  // something the client noticed
	KindDraft        = "draft"   // a new version of a draft (talks)
	KindInitial      = "initial" // a signatory initialled a draft version (talks)
)

// Entry is one line of a channel's transcript.
type Entry struct {
	// Seq orders entries: the relay sequence number of the frame that
	// made the entry.
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Sender string    `json:"sender,omitempty"`
	Kind   string    `json:"kind"`
	// Side is the side whose briefings a KindSideBriefing entry is.
	Side string `json:"side,omitempty"`
	Text string `json:"text"`
	// Draft is set for KindDraft entries.
	Draft *Draft `json:"draft,omitempty"`
	// Initial is set for KindInitial entries.
	Initial *Initialled `json:"initial,omitempty"`
	// Reason says what a system entry reports; Alarm is set when it
	// means the relay may be attacking the channel (reasons.go).
	Reason Reason `json:"reason,omitempty"`
	Alarm  bool   `json:"alarm,omitempty"`
	// Received is this client's clock when the entry was stored: what
	// retention counts from (Time is the sender's claim).
	Received time.Time `json:"received,omitempty"`
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	Query(query string, args ...any) (*sql.Rows, error)
}

// sealChunk encrypts a chunk's JSON to this home's age identity, padded
// with spaces (which JSON ignores) to a size bucket, so that a chunk's
// size on disk tells a message's length only to its bucket.
func (c *Client) sealChunk(plain []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, c.age.Recipient())
	if err != nil {
		return nil, err
	}
	w.Write(plain)
	w.Write(bytes.Repeat([]byte{' '}, chunkBucket(len(plain))-len(plain)))
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// chunkBucket is the padded size of a chunk of n bytes: a power of two
// from 1 KiB to 64 KiB, then a multiple of 64 KiB.
func chunkBucket(n int) int {
	const small, step = 1 << 10, 64 << 10
	if n > step {
		return (n + step - 1) / step * step
	}
	b := small
	for b < n {
		b *= 2
	}
	return b
}

// openChunk decrypts one transcript chunk.
func (c *Client) openChunk(chunk []byte) ([]Entry, error) {
	r, err := age.Decrypt(bytes.NewReader(chunk), c.age)
	if err != nil {
		return nil, fmt.Errorf("transcript is corrupted: %v", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("transcript is corrupted or truncated: %v", err)
	}
	var entries []Entry
	if err := json.Unmarshal(plain, &entries); err != nil {
		return nil, fmt.Errorf("transcript is corrupted: %v", err)
	}
	return entries, nil
}

// transcript decrypts every chunk of a channel. Any chunk that fails to
// decrypt fails the whole read: no partial plaintext.
func (c *Client) transcript(channel int64) ([]Entry, error) {
	entries, _, err := c.chunksAfter(c.db, channel, 0)
	return entries, err
}

// chunksAfter decrypts the chunks of a channel stored after chunk mark,
// and returns their entries in sequence order and the last chunk's id
// (mark when there is none). Chunk ids only grow, so a reader that keeps
// the mark sees every entry once, whichever process on this home
// fetched it.
func (c *Client) chunksAfter(q querier, channel, mark int64) ([]Entry, int64, error) {
	rows, err := q.Query(`SELECT id, chunk FROM transcript WHERE channel = ? AND id > ? ORDER BY id`, channel, mark)
	if err != nil {
		return nil, mark, err
	}
	defer rows.Close()
	var all []Entry
	last := mark
	for rows.Next() {
		var chunk []byte
		if err := rows.Scan(&last, &chunk); err != nil {
			return nil, mark, err
		}
		entries, err := c.openChunk(chunk)
		if err != nil {
			return nil, mark, err
		}
		all = append(all, entries...)
	}
	if err := rows.Err(); err != nil {
		return nil, mark, err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Seq < all[j].Seq })
	return all, last, nil
}

// Read returns the transcript of a channel, oldest first. Draft entries
// carry their version number and no content (GetDraft has it).
//
// Messages, briefings and drafts are in the order they were said: by
// the time each carries (its sender's clock, to the millisecond), then
// sender and text, so every member holding the same messages sees them
// in the same order, however relays delivered them. System lines stay
// where they arrived, and a message that arrived late is marked where it
// arrived ("late"). What is new after a mark (ReadAfter, read --follow)
// comes in order of arrival.
func (c *Client) Read(name string) ([]Entry, error) {
	entries, _, err := c.ReadAfter(name, 0)
	canonicalOrder(entries)
	return entries, err
}

// canonicalOrder sorts the said entries among the places said entries
// hold, leaving system lines in place.
func canonicalOrder(entries []Entry) {
	var slots []int
	var said []Entry
	for i, e := range entries {
		if e.Kind != KindSystem {
			slots = append(slots, i)
			said = append(said, e)
		}
	}
	slices.SortStableFunc(said, func(a, b Entry) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Sender, b.Sender), cmp.Compare(a.Text, b.Text))
	})
	for k, i := range slots {
		entries[i] = said[k]
	}
}

// ReadAfter returns what the channel's transcript gained after mark (0:
// all of it) and the mark to pass next time: the cost is that of what is
// new, not of the whole transcript.
func (c *Client) ReadAfter(name string, mark int64) ([]Entry, int64, error) {
	row, err := c.view(name)
	if err != nil {
		return nil, mark, err
	}
	entries, last, err := c.chunksAfter(c.db, row.id, mark)
	if err != nil {
		return nil, mark, err
	}
	for i := range entries {
		if d := entries[i].Draft; d != nil {
			cp := *d
			cp.Data = nil
			entries[i].Draft = &cp
		}
	}
	return entries, last, nil
}

func hasDraft(entries []Entry) bool {
	for _, e := range entries {
		if e.Kind == KindDraft && e.Draft != nil {
			return true
		}
	}
	return false
}
