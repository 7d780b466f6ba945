package client

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite"

	"parley/internal/noroom"
)

// The state database holds only sealed blobs, keyed hashes and age
// ciphertext; see doc.go.
const stateSchema = `
CREATE TABLE IF NOT EXISTS channels (
	id INTEGER PRIMARY KEY,
	name_ix BLOB NOT NULL UNIQUE,
	state BLOB NOT NULL
);
` + outboxTable + transcriptTable + copiesTable + seenTable + `
CREATE INDEX IF NOT EXISTS transcript_channel ON transcript (channel);
`

// copies holds frames some relays of a channel have acknowledged and
// others not yet (relays.go); seen, a keyed hash of every frame fetched
// or posted, with its record sealed.
const (
	copiesTable = `
CREATE TABLE IF NOT EXISTS copies (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	channel INTEGER NOT NULL,
	item BLOB NOT NULL
);`
	seenTable = `
CREATE TABLE IF NOT EXISTS seen (
	channel INTEGER NOT NULL,
	digest BLOB NOT NULL,
	info BLOB NOT NULL,
	PRIMARY KEY (channel, digest)
);`
)

// Outbox and transcript ids are AUTOINCREMENT: an id is never given out
// twice, even after the row with the highest id is deleted. Readers keep
// the last transcript chunk id they showed as their mark, and `parley
// outbox --drop ID` names an item by id; a reused id would hide a new
// chunk from every reader, or drop another message.
const (
	outboxTable = `
CREATE TABLE IF NOT EXISTS outbox (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	channel INTEGER NOT NULL,
	item BLOB NOT NULL
);`
	transcriptTable = `
CREATE TABLE IF NOT EXISTS transcript (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	channel INTEGER NOT NULL,
	chunk BLOB NOT NULL,
	received BLOB
);`
)

// migrate brings a state database made by an earlier version up to
// stateSchema, in one transaction (a second parley process opening the
// home at the same moment waits, then finds nothing to do):
//   - transcript.received, a chunk's sealed summary (chunks.go); chunks
//     from before it get theirs from retention, once;
//   - AUTOINCREMENT ids for outbox and transcript, by copying each into a
//     new table with the same ids.
func migrate(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM pragma_table_info('transcript') WHERE name = 'received'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if _, err := tx.Exec(`ALTER TABLE transcript ADD COLUMN received BLOB`); err != nil {
			return err
		}
	}
	for _, t := range []struct{ name, create, cols string }{
		{"outbox", outboxTable, "id, channel, item"},
		{"transcript", transcriptTable, "id, channel, chunk, received"},
	} {
		var def string
		if err := tx.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, t.name).Scan(&def); err != nil {
			return err
		}
		if strings.Contains(strings.ToUpper(def), "AUTOINCREMENT") {
			continue
		}
		for _, q := range []string{
			`ALTER TABLE ` + t.name + ` RENAME TO ` + t.name + `_old`,
			t.create,
			`INSERT INTO ` + t.name + ` (` + t.cols + `) SELECT ` + t.cols + ` FROM ` + t.name + `_old`,
			`DROP TABLE ` + t.name + `_old`,
		} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
	}
	if _, err := tx.Exec(`CREATE INDEX IF NOT EXISTS transcript_channel ON transcript (channel)`); err != nil {
		return err
	}
	return tx.Commit()
}

func openState(path string) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "secure_delete(ON)", "busy_timeout(30000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	// Owner-only, before SQLite makes the WAL and shared-memory files,
	// which take the database file's mode.
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600); err == nil {
		f.Chmod(0o600)
		f.Close()
	}
	if _, err := db.Exec(stateSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("state database: %w", noRoom(filepath.Dir(path), err))
	}
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("state database: %w", noRoom(filepath.Dir(path), err))
	}
	return db, nil
}

// noRoom says in words what SQLite reports as a bare I/O error when the
// disk holding the home has no room left (internal/noroom). Opening
// changes nothing, so nothing was changed.
func noRoom(dir string, err error) error {
	if free, full := noroom.Full(dir, err); full {
		return fmt.Errorf("the disk that holds this home is full (%d KiB free): make room and try again; nothing was changed (%w)", free>>10, err)
	}
	return err
}

// scrub folds the WAL back into the database file and truncates it, so
// that rows just deleted (already zeroed by secure_delete in the main
// file) leave no older page images behind.
func scrub(db *sql.DB) error {
	for i := 0; i < 50; i++ {
		var busy, a, b int
		if err := db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &a, &b); err != nil {
			return err
		}
		if busy == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("could not checkpoint the state database: another parley process holds it")
}
