package client

import (
	"testing"
	"time"

	"parley/crypto"
)

// A message composed 20 minutes before it leaves (queued offline, or a
// talks message that waited for a fresh epoch), read by someone whose
// sync falls between the sender's post to relay 1 and its post to relay
// 2 (the order a sync posts in): relay 2 is not named, because the
// window counts from the frame's arrival here, not from its compose
// time.
func TestNoWithheldAlarmForALateSecondPost(t *testing.T) {
	ctx, _, org, alice := homesOnRelays(t, 2)
	// The channel was made at real time; the message is composed 10 min
	// later and leaves 20 min after that (queued), when Org syncs.
	composed := time.Now().Add(10 * time.Minute)
	alice.Now = func() time.Time { return composed }
	org.Now = func() time.Time { return composed.Add(20 * time.Minute) }
	calls := 0
	failRecord = func() error {
		calls++
		if calls == 1 { // relay 1 acknowledged; relay 2 not posted yet
			if _, err := org.Sync(ctx, "c"); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	}
	err := alice.Send(ctx, "c", crypto.Talks, "written offline")
	failRecord = nil
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := org.Read("c")
	for _, e := range entries {
		if e.Reason == ReasonRelayWithheld {
			t.Errorf("false alarm: %s", e.Text)
		}
	}
}
