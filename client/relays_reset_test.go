package client

import (
	"fmt"
	"testing"
	"time"

	"parley/crypto"
)

// A relay loses its data while Alice is away, and is given the channel
// again by the organizer, who talks on until the relay's new numbering
// passes Alice's old cursor there. Alice notices the restart (the relay's
// copy of the channel has another origin) and reads it from the start:
// the relay is never named for lacking what it lost.
func TestEmptiedRelayRestartNoticed(t *testing.T) {
	ctx, rs, org, alice := homesOnRelays(t, 2)

	// Relay 2 loses its data while Alice is away (same address and
	// certificate, empty store); Org gives it the channel again and talks
	// on, so relay 2's new numbering passes Alice's old cursor there.
	rs[1].empty()
	rs[1].start()
	if _, err := org.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		if err := org.Send(ctx, "c", crypto.Talks, fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []time.Duration{20 * time.Minute, 40 * time.Minute} {
		later := time.Now().Add(d)
		alice.Now = func() time.Time { return later }
		if _, err := alice.Sync(ctx, "c"); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := alice.Read("c")
	for _, e := range entries {
		if e.Reason == ReasonRelayWithheld {
			t.Errorf("honest relay named: %s", e.Text)
		}
	}
}
