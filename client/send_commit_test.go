package client

import (
	"database/sql"
	"errors"
	"testing"

	"parley/crypto"
)

// A send whose queueing transaction fails to commit (a full disk fails
// SQLite there) queued nothing, and says so: it is not taken for a
// message the relay acknowledged.
func TestSendWhoseQueueFailedIsNotSent(t *testing.T) {
	ctx, _, _, alice := homesOnRelays(t, 1)
	full := errors.New("database or disk is full (13)")
	failUpdate = func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM outbox`).Scan(&n); err != nil || n > 0 {
			return full
		}
		return nil
	}
	err := alice.Send(ctx, "c", crypto.Talks, "never queued")
	failUpdate = nil
	if !errors.Is(err, full) {
		t.Fatalf("send whose queue did not commit: %v; want the commit's error", err)
	}
	if q, err := alice.Queued("c"); err != nil || q != 0 {
		t.Fatalf("queued after a failed commit: %d, %v", q, err)
	}
	entries, err := alice.Read("c")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Text == "never queued" {
			t.Fatal("the transcript shows a message that was never queued")
		}
	}
}
