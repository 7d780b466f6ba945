package client

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"filippo.io/age"
)

// FormatEntry is the human form of a transcript entry that read,
// transcript and exports share. Text from others is made safe for a
// terminal: control characters (escape sequences among them) are shown
// as U+FFFD, and the lines of a multi-line message after the first are
// marked with "  | ", so that no one can write a line that passes for
// another entry.
func FormatEntry(e Entry) string {
	e.Sender, e.Text = Clean(e.Sender), Clean(e.Text)
	t := e.Time.Local().Format("2006-01-02 15:04")
	switch e.Kind {
	case KindSystem:
		return fmt.Sprintf("%s  * %s", t, e.Text)
	case KindBriefing:
		return fmt.Sprintf("%s  [briefing] %s: %s", t, e.Sender, e.Text)
	case KindDraft:
		return fmt.Sprintf("%s  %s %s", t, e.Sender, e.Text)
	}
	return fmt.Sprintf("%s  %s: %s", t, e.Sender, e.Text)
}

// ErrPlaintextExportRefused is returned for a plaintext export of a
// channel under the hard policy.
var ErrPlaintextExportRefused = errors.New("this channel's secrecy policy is hard: plaintext export is refused; give --to AGE_RECIPIENT for an age-encrypted export")

// ParseRecipients reads the age recipients of an export: an age1… or
// age1pq1… recipient, or the path of a file of them, one a line (hybrid
// recipients are about 2 KB long).
func ParseRecipients(to string) ([]age.Recipient, error) {
	text := to
	if !strings.HasPrefix(to, "age1") && !strings.HasPrefix(to, "ssh-") {
		data, err := os.ReadFile(to)
		if err != nil {
			return nil, fmt.Errorf("--to is neither an age recipient nor a readable file: %v", err)
		}
		text = string(data)
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "ssh-") {
			return nil, errors.New("--to: ssh recipients are not supported; give an age1… or age1pq1… recipient (age-keygen makes one)")
		}
	}
	recipients, err := age.ParseRecipients(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("--to: %v", err)
	}
	return recipients, nil
}

// Export writes a channel's transcript to path, which must not exist:
// age-encrypted to recipients, or, with none, as plain text, which only
// the soft policy allows. A failed export leaves no file.
func (c *Client) Export(channel, path string, recipients []age.Recipient) error {
	if err := c.exportAllowed(channel, recipients); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = c.ExportTo(channel, f, recipients)
	err = errors.Join(err, f.Sync(), f.Close())
	if err != nil {
		os.Remove(path)
	}
	return err
}

// ExportTo writes the export to w (standard output, say), under the same
// rules as Export.
func (c *Client) ExportTo(channel string, w io.Writer, recipients []age.Recipient) error {
	if err := c.exportAllowed(channel, recipients); err != nil {
		return err
	}
	entries, err := c.Read(channel)
	if err != nil {
		return err
	}
	var text bytes.Buffer
	for _, e := range entries {
		text.WriteString(FormatEntry(e))
		text.WriteByte('\n')
	}
	if len(recipients) == 0 {
		_, err = w.Write(text.Bytes())
		return err
	}
	aw, err := age.Encrypt(w, recipients...)
	if err != nil {
		return err
	}
	_, err = aw.Write(text.Bytes())
	return errors.Join(err, aw.Close())
}

func (c *Client) exportAllowed(channel string, recipients []age.Recipient) error {
	row, err := c.view(channel)
	if err != nil {
		return err
	}
	r, err := row.st.roster()
	if err != nil {
		return err
	}
	if len(recipients) == 0 && !r.Policy.AllowsPlaintextExport() {
		return ErrPlaintextExportRefused
	}
	return nil
}

// applyRetention drops transcript entries, and unfinished drafts, older
// than the channel's retention by this client's clock when they were
// stored (a sender cannot back-date a message out of others'
// transcripts). The policy applies on the client as on the relay. The
// transcript is read and rewritten in one transaction, so entries another
// process adds meanwhile are never lost.
func (c *Client) applyRetention(channel string) error {
	scrubbed := false
	err := c.update(channel, func(tx *sql.Tx, row *channelRow) error {
		r, err := row.st.roster()
		if err != nil {
			return nil // not admitted yet: nothing to keep or drop
		}
		cutoff := c.Now().Add(-r.Policy.Retention())
		expired, err := c.expiredChunks(tx, row.id, cutoff)
		if err != nil {
			return err
		}
		for k, p := range row.st.Partial {
			if p.Time.Before(cutoff) {
				delete(row.st.Partial, k)
			}
		}
		for _, ch := range expired {
			// Version numbers survive their versions.
			for _, e := range ch.entries {
				if e.Kind == KindDraft && e.Draft != nil {
					if row.st.DraftsDropped == nil {
						row.st.DraftsDropped = map[string]int{}
					}
					row.st.DraftsDropped[e.Draft.Name]++
				}
			}
			if err := c.dropChunk(tx, ch); err != nil {
				return err
			}
			scrubbed = true
		}
		return nil
	})
	if err != nil || !scrubbed {
		return err
	}
	return scrub(c.db)
}

// expiredChunk is a transcript chunk with expired entries: all of them,
// or (in a chunk from before receive times were stored, which may mix
// old and new entries) those not in keep.
type expiredChunk struct {
	id      int64
	entries []Entry
	keep    []Entry
}

func (c *Client) dropChunk(tx *sql.Tx, ch expiredChunk) error {
	if len(ch.keep) == 0 {
		_, err := tx.Exec(`DELETE FROM transcript WHERE id = ?`, ch.id)
		return err
	}
	chunk, err := c.sealChunk(ch.keep)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE transcript SET chunk = ? WHERE id = ?`, chunk, ch.id); err != nil {
		return err
	}
	return c.setChunkTime(tx, ch.id, newestReceived(ch.keep))
}

// expiredChunks returns the chunks of a channel received before cutoff,
// oldest first. Chunks are appended in the order they are received, so
// the walk stops at the first one still kept: a sync with nothing to
// expire reads one sealed time, whatever the transcript's length. Only
// the expired chunks are decrypted (for their draft versions), and a
// chunk from before receive times were stored gets its time now.
func (c *Client) expiredChunks(tx *sql.Tx, channel int64, cutoff time.Time) ([]expiredChunk, error) {
	var out []expiredChunk
	after := int64(0)
	for {
		type row struct {
			id              int64
			chunk, received []byte
		}
		var batch []row
		rows, err := tx.Query(`SELECT id, chunk, received FROM transcript WHERE channel = ? AND id > ? ORDER BY id LIMIT 16`, channel, after)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.chunk, &r.received); err != nil {
				rows.Close()
				return nil, err
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(batch) == 0 {
			return out, nil
		}
		for _, r := range batch {
			after = r.id
			var entries []Entry
			var at time.Time
			if r.received != nil {
				b, err := c.seal.open(chunkTimePurpose(r.id), r.received)
				if err != nil {
					return nil, err
				}
				if err := at.UnmarshalBinary(b); err != nil {
					return nil, errCorrupt
				}
			} else {
				if entries, err = c.openChunk(r.chunk); err != nil {
					return nil, err
				}
				at = newestReceived(entries)
				if err := c.setChunkTime(tx, r.id, at); err != nil {
					return nil, err
				}
				var keep, drop []Entry
				for _, e := range entries {
					if newestReceived([]Entry{e}).Before(cutoff) {
						drop = append(drop, e)
					} else {
						keep = append(keep, e)
					}
				}
				if len(drop) > 0 && len(keep) > 0 {
					return append(out, expiredChunk{id: r.id, entries: drop, keep: keep}), nil
				}
			}
			if !at.Before(cutoff) {
				return out, nil
			}
			if entries == nil {
				if entries, err = c.openChunk(r.chunk); err != nil {
					return nil, err
				}
			}
			out = append(out, expiredChunk{id: r.id, entries: entries})
		}
	}
}

// newestReceived is when the newest entry of a chunk was received.
func newestReceived(entries []Entry) time.Time {
	var t time.Time
	for _, e := range entries {
		at := e.Received
		if at.IsZero() {
			at = e.Time
		}
		if at.After(t) {
			t = at
		}
	}
	return t
}

// Clean makes text from other people safe to print in a terminal: it
// replaces control characters other than newline and tab, and marks
// continuation lines.
func Clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString("\n    | ")
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
