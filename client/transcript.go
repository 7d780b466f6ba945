package client

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"filippo.io/age"
)

// Entry kinds.
const (
	KindMessage  = "message"  // talks compartment
	KindBriefing = "briefing" // briefings compartment
	KindSystem   = "system"   // something the client noticed
	KindDraft    = "draft"    // a new version of a draft (talks)
)

// Entry is one line of a channel's transcript.
type Entry struct {
	// Seq orders entries: the relay sequence number of the frame that
	// made the entry.
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Sender string    `json:"sender,omitempty"`
	Kind   string    `json:"kind"`
	Text   string    `json:"text"`
	// Draft is set for KindDraft entries.
	Draft *Draft `json:"draft,omitempty"`
	// Received is this client's clock when the entry was stored: what
	// retention counts from (Time is the sender's claim).
	Received time.Time `json:"received,omitempty"`
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	Query(query string, args ...any) (*sql.Rows, error)
}

// appendTranscript stores entries as one age-encrypted chunk, inside the
// caller's transaction, so entries and the state that produced them are
// committed together.
func (c *Client) appendTranscript(tx *sql.Tx, channel int64, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	for i := range entries {
		if entries[i].Received.IsZero() {
			entries[i].Received = c.Now().UTC()
		}
	}
	plain, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, c.age.Recipient())
	if err != nil {
		return err
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT INTO transcript (channel, chunk) VALUES (?, ?)`, channel, buf.Bytes())
	return err
}

// transcript decrypts every chunk of a channel. Any chunk that fails to
// decrypt fails the whole read: no partial plaintext.
func (c *Client) transcript(channel int64) ([]Entry, error) { return c.transcriptIn(c.db, channel) }

func (c *Client) transcriptIn(q querier, channel int64) ([]Entry, error) {
	rows, err := q.Query(`SELECT chunk FROM transcript WHERE channel = ? ORDER BY id`, channel)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []Entry
	for rows.Next() {
		var chunk []byte
		if err := rows.Scan(&chunk); err != nil {
			return nil, err
		}
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
		all = append(all, entries...)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Seq < all[j].Seq })
	return all, nil
}

// Read returns the transcript of a channel, oldest first. Draft entries
// carry their version number and no content (GetDraft has it).
func (c *Client) Read(name string) ([]Entry, error) {
	row, err := c.view(name)
	if err != nil {
		return nil, err
	}
	entries, err := c.transcript(row.id)
	if err != nil {
		return nil, err
	}
	numberDrafts(entries, row.st.DraftsDropped)
	for i := range entries {
		if d := entries[i].Draft; d != nil {
			cp := *d
			cp.Data = nil
			entries[i].Draft = &cp
		}
	}
	return entries, nil
}
