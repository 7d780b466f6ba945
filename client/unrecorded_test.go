package client

import (
	"errors"
	"strings"
	"testing"

	"parley/crypto"
)

// A message the relay acknowledged is reported as sent even when this
// home cannot record it (a full disk); the next sync records it, and it
// is never sent twice.
func TestSentButNotRecorded(t *testing.T) {
	ctx, _, org, alice := twoHomes(t)
	failRecord = func() error { return errors.New("database or disk is full") }
	err := alice.Send(ctx, "c", crypto.Talks, "acknowledged, not recorded")
	failRecord = nil
	var sue *SentUnrecordedError
	if !errors.As(err, &sue) || !strings.HasPrefix(err.Error(), "sent: the relay acknowledged the message") {
		t.Fatalf("send with a full disk after the acknowledgement: %v", err)
	}
	if _, err := alice.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if n, _ := alice.Queued("c"); n != 0 {
		t.Fatalf("%d items still queued", n)
	}
	for who, c := range map[string]*Client{"Org": org, "Alice": alice} {
		if _, err := c.Sync(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		entries, _ := c.Read("c")
		n := 0
		for _, e := range entries {
			if e.Text == "acknowledged, not recorded" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s has the message %d times", who, n)
		}
	}
}
