package client

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/crypto"
)

// Someone who intercepted Bob's invite code and works with the relay
// replaces the KEM key in his join request; the organizer admits Bob's
// pseudonym wrapped to that key (the organizer's client checks the key's
// signature, so the organizer here is made to skip that check). Bob does
// not wait silently: he is told his request was altered.
func TestAlteredAdmissionRaisesAlarm(t *testing.T) {
	ctx, _, org, _ := twoHomes(t)
	dir := filepath.Join(t.TempDir(), "bob")
	if err := Init(dir, "Bob", "pw"); err != nil {
		t.Fatal(err)
	}
	bob, err := Open(dir, "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	code, err := org.Invite(ctx, "c", crypto.RoleParticipant, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, code, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Pending(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	err = org.update("c", func(tx *sql.Tx, row *channelRow) error {
		cur, _, keys, err := row.st.self(crypto.RoleOrganizer)
		if err != nil {
			return err
		}
		req, err := openPending(row.st.Pending[0])
		if err != nil {
			return err
		}
		attacker, err := keys.RotateKEM()
		if err != nil {
			return err
		}
		m := req.Member(crypto.RoleParticipant, time.Time{})
		m.Keys.KEMKey = attacker.Public().KEMKey
		next := cur.Next(time.Now())
		next.Members = append(next.Members, m)
		if err := next.Sign(keys); err != nil {
			return err
		}
		row.st.Pending = nil
		return org.queueProposal(tx, row, next, keys) // what rekey does, without its checks
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := org.administer(ctx, "c", nil, nil); err != nil {
		t.Fatal(err)
	}
	rep, err := bob.Sync(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range rep.New {
		lines = append(lines, e.Text)
	}
	if got := strings.Join(lines, "\n"); !strings.Contains(got, "ALERT") || !strings.Contains(got, "your join request was altered") {
		t.Fatalf("Bob after an admission to another key: %q", got)
	}
}
