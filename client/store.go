package client

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	_ "modernc.org/sqlite"
)

// The state database holds only sealed blobs, keyed hashes and age
// ciphertext; see doc.go.
const stateSchema = `
CREATE TABLE IF NOT EXISTS channels (
	id INTEGER PRIMARY KEY,
	name_ix BLOB NOT NULL UNIQUE,
	state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
	id INTEGER PRIMARY KEY,
	channel INTEGER NOT NULL,
	item BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS transcript (
	id INTEGER PRIMARY KEY,
	channel INTEGER NOT NULL,
	chunk BLOB NOT NULL,
	received BLOB
);
CREATE INDEX IF NOT EXISTS transcript_channel ON transcript (channel);
`

// migrations bring a state database made by an earlier version up to
// stateSchema. A transcript chunk's sealed receive time (received) lets
// retention find expired chunks without decrypting the others; chunks
// from before it have none, and retention fills it in once.
var migrations = []struct{ table, column, sql string }{
	{"transcript", "received", `ALTER TABLE transcript ADD COLUMN received BLOB`},
}

func migrate(db *sql.DB) error {
	for _, m := range migrations {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, m.table, m.column).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if _, err := db.Exec(m.sql); err != nil {
				return err
			}
		}
	}
	return nil
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
		return nil, fmt.Errorf("state database: %w", err)
	}
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("state database: %w", err)
	}
	return db, nil
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
