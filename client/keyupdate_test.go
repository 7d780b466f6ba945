package client

import (
	"bytes"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
)

// TestKeyUpdatesAndTimedRekey: after the key-update interval a member
// makes a fresh KEM key, the organizer's next epoch is wrapped to it, and
// the old key (as a thief would hold it) opens nothing from then on; the
// organizer rotates its own key and starts epochs on a timer too.
func TestKeyUpdatesAndTimedRekey(t *testing.T) {
	ctx, r, org, alice := twoHomes(t)
	row, _ := alice.view("c")
	stolen, _ := row.st.keys()
	orgRow, _ := org.view("c")
	orgOld, _ := orgRow.st.keys()
	epochBefore := row.st.current().Epoch

	later := time.Now().Add(KeyUpdateInterval + time.Hour)
	org.Now = func() time.Time { return later }
	alice.Now = func() time.Time { return later }
	if _, err := alice.Sync(ctx, "c"); err != nil { // sends the key update
		t.Fatal(err)
	}
	if row, _ = alice.view("c"); row.st.NextKeys == nil {
		t.Fatal("no key rotation after the interval")
	}
	if _, err := org.Sync(ctx, "c"); err != nil { // rekeys to the fresh keys
		t.Fatal(err)
	}
	if _, err := alice.Sync(ctx, "c"); err != nil { // adopts them
		t.Fatal(err)
	}
	row, _ = alice.view("c")
	now, _ := row.st.keys()
	if row.st.NextKeys != nil || string(now.Public().KEMKey) == string(stolen.Public().KEMKey) {
		t.Fatal("the rotated key was not adopted")
	}
	if row.st.current().Epoch <= epochBefore {
		t.Fatal("no new epoch")
	}
	orgRow, _ = org.view("c")
	if k, _ := orgRow.st.keys(); string(k.Public().KEMKey) == string(orgOld.Public().KEMKey) {
		t.Fatal("the organizer did not rotate its own key")
	}

	// The thief's copy of Alice's old keys opens no bundle of the new
	// epoch.
	conn, err := relayclient.Dial(ctx, r.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Auth(ctx, row.st.channelID(), stolen); err != nil {
		t.Fatal(err) // same pseudonym: the relay lets it in
	}
	frames, _, _ := conn.Fetch(ctx, 0)
	var last *crypto.EpochBundle
	for _, f := range frames {
		if f.Kind == wire.KindBundle {
			last, _ = crypto.ParseEpochBundle(f.Payload)
		}
	}
	cur, _ := crypto.ParseRoster(row.st.Roster)
	if last == nil || last.Epoch != cur.Version {
		t.Fatal("the newest bundle is not at the relay")
	}
	if _, _, err := last.Open(stolen, nil, cur.IsOrganizer); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("old KEM key on the new epoch: %v, want ErrDecrypt", err)
	}

	// And the channel keeps working.
	if err := alice.Send(ctx, "c", crypto.Talks, "after rotation"); err != nil {
		t.Fatal(err)
	}
	org.Sync(ctx, "c")
	entries, _ := org.Read("c")
	if entries[len(entries)-1].Text != "after rotation" {
		t.Fatalf("last entry %+v", entries[len(entries)-1])
	}

	// An epoch older than RekeyInterval is renewed by the organizer.
	epoch := cur.Version
	evenLater := later.Add(RekeyInterval + time.Minute)
	org.Now = func() time.Time { return evenLater }
	org.Sync(ctx, "c")
	orgRow, _ = org.view("c")
	if orgRow.st.current().Epoch != epoch+1 {
		t.Fatalf("epoch %d after the rekey interval, want %d", orgRow.st.current().Epoch, epoch+1)
	}
}

// A key update whose KEM key the sender's pseudonym did not sign (one
// swapped on the way) is refused; a signed one is kept for the next
// roster.
func TestKeyUpdateNeedsThePseudonymsSignature(t *testing.T) {
	_, _, org, alice := twoHomes(t)
	arow, err := alice.view("c")
	if err != nil {
		t.Fatal(err)
	}
	akeys, _ := arow.st.keys()
	fresh, err := akeys.RotateKEM()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := crypto.GenerateChannelKeys()
	orow, err := org.view("c")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := orow.st.roster()
	sender := r.Member(akeys.ID())
	swapped := append(bytes.Clone(other.Public().KEMKey), fresh.SignKEM(orow.st.channelID())...)
	if out := orow.st.receiveKeyUpdate(sender, crypto.RoleOrganizer, swapped); len(out) != 1 || !strings.Contains(out[0].Text, "rejected a key update from Alice") || orow.st.KeyUpdates != nil {
		t.Fatalf("a swapped key update: %+v, kept %d", out, len(orow.st.KeyUpdates))
	}
	if out := orow.st.receiveKeyUpdate(sender, crypto.RoleOrganizer, keyUpdate(arow.st, fresh)); len(out) != 0 || len(orow.st.KeyUpdates) != 1 {
		t.Fatalf("a genuine key update: %+v", out)
	}
}

// dropQueued removes everything waiting in a home's outbox, as a relay
// that acknowledges and then discards would.
func dropQueued(t *testing.T, c *Client) {
	t.Helper()
	if _, err := c.db.Exec(`DELETE FROM outbox`); err != nil {
		t.Fatal(err)
	}
}

// The relay discards Alice's key-update message. Her rotated key still
// reaches the organizer in the report of her next message, and the next
// epoch adopts it; a key that no roster adopts within two days is
// reported to her.
func TestSuppressedKeyUpdate(t *testing.T) {
	ctx, _, org, alice := twoHomes(t)
	later := time.Now().Add(KeyUpdateInterval + time.Hour)
	org.Now = func() time.Time { return later }
	alice.Now = func() time.Time { return later }
	if err := alice.update("c", func(tx *sql.Tx, row *channelRow) error { return alice.memberKeyDuties(tx, row) }); err != nil {
		t.Fatal(err)
	}
	dropQueued(t, alice)
	if err := alice.Send(ctx, "c", crypto.Briefings, "nothing to report"); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if row, _ := alice.view("c"); row.st.NextKeys != nil {
		t.Fatal("the key that rode in a message was not adopted")
	}

	// Now the relay keeps everything Alice sends from the organizer.
	later = later.Add(KeyUpdateInterval + time.Hour)
	if err := alice.update("c", func(tx *sql.Tx, row *channelRow) error { return alice.memberKeyDuties(tx, row) }); err != nil {
		t.Fatal(err)
	}
	dropQueued(t, alice)
	later = later.Add(KeyUpdateOverdue + time.Hour)
	rep, err := alice.Sync(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range rep.New {
		lines = append(lines, e.Text)
	}
	if got := strings.Join(lines, "\n"); !strings.Contains(got, "your new key, made 49h ago, is in no roster yet") {
		t.Fatalf("after two days without adoption: %q", got)
	}
}
