package client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/crypto"
	"parley/relay"
)

// A relay loses its data while Alice is away, and is given the channel
// again by the organizer, who talks on until the relay's new numbering
// passes Alice's old cursor there. Alice notices the restart (the relay's
// copy of the channel has another origin) and reads it from the start:
// the relay is never named for lacking what it lost.
func TestEmptiedRelayRestartNoticed(t *testing.T) {
	os.Setenv("PARLEY_SCRYPT_LOGN", "10")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type rl struct {
		r    *relay.Relay
		dir  string
		addr string
	}
	var rs []*rl
	var urls []string
	for range 3 {
		dir := t.TempDir()
		r, err := relay.Start(relay.Options{Listen: "127.0.0.1:0", DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, &rl{r, dir, r.Addr.String()})
		urls = append(urls, r.URL)
	}
	t.Cleanup(func() {
		for _, x := range rs {
			if x.r != nil {
				x.r.Close(context.Background())
			}
		}
	})
	stop := func(i int) { rs[i].r.Close(context.Background()); rs[i].r = nil }
	start := func(i int) {
		r, err := relay.Start(relay.Options{Listen: rs[i].addr, DataDir: rs[i].dir})
		if err != nil {
			t.Fatal(err)
		}
		rs[i].r = r
	}
	open := func(name string) *Client {
		dir := filepath.Join(t.TempDir(), "h")
		if err := Init(dir, name, "pw"); err != nil {
			t.Fatal(err)
		}
		c, err := Open(dir, "pw")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	org, alice := open("Org"), open("Alice")
	if err := org.CreateChannel(ctx, "c", urls[0], crypto.PolicyHard, urls[1:]...); err != nil {
		t.Fatal(err)
	}
	code, err := org.Invite(ctx, "c", crypto.RoleParticipant, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Join(ctx, code, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Admit(ctx, "c", nil, true); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}

	// Relay 2 loses its data while Alice is away (same address and
	// certificate, empty store); Org gives it the channel again and talks
	// on, so relay 2's new numbering passes Alice's old cursor there.
	stop(1)
	os.Remove(filepath.Join(rs[1].dir, "relay.db"))
	os.Remove(filepath.Join(rs[1].dir, "relay.db-wal"))
	os.Remove(filepath.Join(rs[1].dir, "relay.db-shm"))
	start(1)
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
