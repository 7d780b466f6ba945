package client

import (
	"errors"
	"strings"
	"testing"

	"parley/crypto"
)

// Relay 2 acknowledges Alice's message but her home cannot record it
// (as after a timeout or a crash between post and commit). Relay 1's
// copy was taken first; when relay 2's comes back, it still tells
// Alice's home that relay 2 has it, so it is not posted there again (a
// second post would be a replay every member is alarmed by).
func TestCopyNotPostedTwice(t *testing.T) {
	ctx, _, org, alice := homesOnRelays(t, 2)
	calls := 0
	failRecord = func() error {
		calls++
		if calls == 2 { // relay 2's acknowledgement
			return errors.New("database or disk is full")
		}
		return nil
	}
	err := alice.Send(ctx, "c", crypto.Talks, "hello once")
	failRecord = nil
	t.Logf("send: %v", err)
	for i := 0; i < 2; i++ {
		if _, err := alice.Sync(ctx, "c"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := org.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	entries, _ := org.Read("c")
	for _, e := range entries {
		if e.Reason != "" || strings.Contains(e.Text, "hello") {
		}
		if e.Reason == ReasonReplay {
			t.Errorf("false replay alarm at Org: %s", e.Text)
		}
	}
}
