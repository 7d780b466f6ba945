package client

import (
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// A channel's transcript is a run of age-encrypted chunks in the state
// database, in the order they were received. Each chunk has, beside it
// and sealed under the state key (never in the clear), a small summary:
// when its oldest and newest entries were received, how many entries it
// holds and how large they are. Retention and compaction read the
// summaries, so their cost follows what changes, not the transcript's
// length.

// chunkMeta is a chunk's sealed summary.
type chunkMeta struct {
	oldest, newest time.Time
	count, size    int
}

func metaPurpose(id int64) string { return fmt.Sprintf("transcript-meta/%d", id) }

func metaOf(entries []Entry, size int) chunkMeta {
	m := chunkMeta{count: len(entries), size: size}
	for i, e := range entries {
		at := receivedAt(e)
		if i == 0 || at.Before(m.oldest) {
			m.oldest = at
		}
		if at.After(m.newest) {
			m.newest = at
		}
	}
	return m
}

// receivedAt is when this home stored an entry (its sender's time for
// entries from before that was recorded).
func receivedAt(e Entry) time.Time {
	if e.Received.IsZero() {
		return e.Time
	}
	return e.Received
}

func (m chunkMeta) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(m.oldest.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(m.newest.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(m.count))
	return binary.BigEndian.AppendUint64(b, uint64(m.size))
}

func decodeMeta(b []byte) (chunkMeta, bool) {
	if len(b) != 32 {
		return chunkMeta{}, false
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(b[8*i:]) }
	return chunkMeta{oldest: time.Unix(0, int64(u(0))).UTC(), newest: time.Unix(0, int64(u(1))).UTC(),
		count: int(u(2)), size: int(u(3))}, true
}

// appendTranscript stores entries as one chunk, inside the caller's
// transaction, so entries and the state that produced them are committed
// together.
func (c *Client) appendTranscript(tx *sql.Tx, channel int64, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	for i := range entries {
		if entries[i].Received.IsZero() {
			entries[i].Received = c.Now().UTC()
		}
	}
	res, err := tx.Exec(`INSERT INTO transcript (channel, chunk) VALUES (?, x'')`, channel)
	if err != nil {
		return err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	return c.writeChunk(tx, id, entries)
}

// writeChunk (re)writes chunk id with entries and its summary.
func (c *Client) writeChunk(tx *sql.Tx, id int64, entries []Entry) error {
	plain, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	chunk, err := c.sealChunk(plain)
	if err != nil {
		return err
	}
	meta := metaOf(entries, len(plain))
	_, err = tx.Exec(`UPDATE transcript SET chunk = ?, received = ? WHERE id = ?`, chunk, c.seal.seal(metaPurpose(id), meta.encode()), id)
	return err
}

// storedChunk is a chunk row with its summary; the chunk itself (up to
// a draft's 8 MiB) is read and decrypted only when needed.
type storedChunk struct {
	tx      *sql.Tx
	id      int64
	meta    chunkMeta
	entries []Entry
}

func (c *Client) loadEntries(ch *storedChunk) error {
	if ch.entries != nil {
		return nil
	}
	var chunk []byte
	if err := ch.tx.QueryRow(`SELECT chunk FROM transcript WHERE id = ?`, ch.id).Scan(&chunk); err != nil {
		return err
	}
	entries, err := c.openChunk(chunk)
	ch.entries = entries
	return err
}

// chunksFrom calls f with the chunks of channel after id, oldest first,
// until f returns false. A chunk without a summary (written before
// summaries were kept) is decrypted once and given one.
func (c *Client) chunksFrom(tx *sql.Tx, channel, after int64, f func(*storedChunk) (bool, error)) error {
	for {
		rows, err := tx.Query(`SELECT id, received FROM transcript WHERE channel = ? AND id > ? ORDER BY id LIMIT 16`, channel, after)
		if err != nil {
			return err
		}
		var batch []*storedChunk
		var sealed [][]byte
		for rows.Next() {
			ch := &storedChunk{tx: tx}
			var s []byte
			if err := rows.Scan(&ch.id, &s); err != nil {
				rows.Close()
				return err
			}
			batch, sealed = append(batch, ch), append(sealed, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for i, ch := range batch {
			after = ch.id
			ok := false
			if sealed[i] != nil {
				plain, err := c.seal.open(metaPurpose(ch.id), sealed[i])
				if err != nil {
					return err
				}
				ch.meta, ok = decodeMeta(plain)
			}
			if !ok {
				if err := c.loadEntries(ch); err != nil {
					return err
				}
				if err := c.writeChunk(tx, ch.id, ch.entries); err != nil {
					return err
				}
				plain, _ := json.Marshal(ch.entries)
				ch.meta = metaOf(ch.entries, len(plain))
			}
			more, err := f(ch)
			if err != nil || !more {
				return err
			}
		}
	}
}

// expire drops the entries of a channel received before cutoff and
// returns them. Chunks are in the order they were received, so the walk
// stops at the first chunk with nothing expired: a sync with nothing to
// expire reads one summary. A chunk that is only partly expired is
// rewritten in place without the expired entries.
func (c *Client) expire(tx *sql.Tx, channel int64, cutoff time.Time) ([]Entry, error) {
	var dropped []Entry
	err := c.chunksFrom(tx, channel, 0, func(ch *storedChunk) (bool, error) {
		if !ch.meta.oldest.Before(cutoff) {
			return false, nil
		}
		if err := c.loadEntries(ch); err != nil {
			return false, err
		}
		if ch.meta.newest.Before(cutoff) {
			dropped = append(dropped, ch.entries...)
			_, err := tx.Exec(`DELETE FROM transcript WHERE id = ?`, ch.id)
			return err == nil, err
		}
		var keep []Entry
		for _, e := range ch.entries {
			if receivedAt(e).Before(cutoff) {
				dropped = append(dropped, e)
			} else {
				keep = append(keep, e)
			}
		}
		return false, c.writeChunk(tx, ch.id, keep)
	})
	return dropped, err
}

// Compaction merges old chunks (one per fetch, usually one entry each)
// into archive chunks of up to archiveEntries entries or archiveBytes,
// so that reading a whole transcript decrypts a few hundred chunks, not
// tens of thousands. Only chunks received more than compactAfter ago are
// merged: a reader (read --follow, parley chat) has long read past them,
// and its mark, a chunk id, stays valid, since merged entries move into
// an archive chunk with a lower id.
const (
	compactAfter   = 10 * time.Minute
	archiveEntries = 256
	archiveBytes   = 256 << 10
	compactBatch   = 64 // chunks merged by one sync at most
)

// compact merges the old chunks after the channel's current archive
// into it, starting a new archive when it is full. Its cost is bounded:
// one archive and compactBatch chunks.
func (c *Client) compact(tx *sql.Tx, row *channelRow) error {
	st := row.st
	cutoff := c.Now().Add(-compactAfter)
	var archive *storedChunk
	dirty := false
	flush := func() error {
		if archive == nil || !dirty {
			return nil
		}
		dirty = false
		return c.writeChunk(tx, archive.id, archive.entries)
	}
	if st.Archive != 0 {
		// The archive, unless retention has deleted it since.
		err := c.chunksFrom(tx, row.id, st.Archive-1, func(ch *storedChunk) (bool, error) {
			if ch.id == st.Archive {
				archive = ch
			}
			return false, nil
		})
		if err != nil {
			return err
		}
		if archive == nil {
			st.Archive = 0
		}
	}
	seen := 0
	err := c.chunksFrom(tx, row.id, max(st.Compacted, st.Archive), func(ch *storedChunk) (bool, error) {
		if !ch.meta.newest.Before(cutoff) || seen == compactBatch {
			return false, nil
		}
		seen++
		st.Compacted = ch.id
		fits := archive != nil && archive.meta.count+ch.meta.count <= archiveEntries && archive.meta.size+ch.meta.size <= archiveBytes
		if !fits {
			if err := flush(); err != nil {
				return false, err
			}
			archive, st.Archive = ch, ch.id
			return true, nil
		}
		if err := c.loadEntries(archive); err != nil {
			return false, err
		}
		if err := c.loadEntries(ch); err != nil {
			return false, err
		}
		archive.entries = append(archive.entries, ch.entries...)
		archive.meta.count += ch.meta.count
		archive.meta.size += ch.meta.size
		dirty = true
		_, err := tx.Exec(`DELETE FROM transcript WHERE id = ?`, ch.id)
		return err == nil, err
	})
	if err != nil {
		return err
	}
	return flush()
}

// applyRetention drops transcript entries, and unfinished drafts, older
// than the channel's retention by this client's clock when they were
// stored (a sender cannot back-date a message out of others'
// transcripts), then compacts. The policy applies on the client as on
// the relay. All of it happens in one transaction, so entries another
// process adds meanwhile are never lost.
func (c *Client) applyRetention(channel string) error {
	scrubbed := false
	err := c.update(channel, func(tx *sql.Tx, row *channelRow) error {
		r, err := row.st.roster()
		if err != nil {
			return nil // not admitted yet: nothing to keep or drop
		}
		cutoff := c.Now().Add(-r.Policy.Retention())
		for k, p := range row.st.Partial {
			if p.Time.Before(cutoff) {
				delete(row.st.Partial, k)
			}
		}
		dropped, err := c.expire(tx, row.id, cutoff)
		if err != nil {
			return err
		}
		scrubbed = len(dropped) > 0
		if err := c.expireRelayRecords(tx, row, cutoff); err != nil {
			return err
		}
		return c.compact(tx, row)
	})
	if err != nil || !scrubbed {
		return err
	}
	return scrub(c.db)
}
