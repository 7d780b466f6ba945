package client

import (
	"errors"
	"testing"

	"parley/crypto"
)

// Alice's message reaches relay 1 but the acknowledgement is not
// recorded (the same happens on a timeout after the relay stored it);
// relays 2 and 3 are down. Then relay 1 is down while a new epoch
// arrives from relay 2: the message keeps the bytes relay 1 may hold,
// instead of being sealed again (which would make it a second message),
// and Org reads it once.
func TestNotResealedWhileARelayMayHoldIt(t *testing.T) {
	ctx, rs, org, alice := homesOnRelays(t, 3)

	// Relays 2 and 3 down; relay 1 stores the message, the ack is lost.
	rs[1].stop()
	rs[2].stop()
	failRecord = func() error { return errors.New("lost acknowledgement") }
	t.Logf("send: %v", alice.Send(ctx, "c", crypto.Talks, "said once"))
	failRecord = nil

	// Relay 1 down, 2 and 3 back; Org changes the roster (drops relay 3).
	rs[0].stop()
	rs[1].start()
	rs[2].start()
	if err := org.RemoveRelay(ctx, "c", "3"); err != nil {
		t.Logf("remove relay 3: %v", err)
	}
	t.Logf("alice sync: %v", func() error { _, err := alice.Sync(ctx, "c"); return err }())

	// Relay 1 back.
	rs[0].start()
	for _, c := range []*Client{alice, org, org} {
		if _, err := c.Sync(ctx, "c"); err != nil {
			t.Logf("sync: %v", err)
		}
	}
	entries, _ := org.Read("c")
	n := 0
	for _, e := range entries {
		if e.Text == "said once" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("Org reads the message %d times", n)
	}
}
