package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/crypto"
	"parley/relay"
)

// Alice's message reaches relay 1 but the acknowledgement is not
// recorded (the same happens on a timeout after the relay stored it);
// relays 2 and 3 are down. Then relay 1 is down while a new epoch
// arrives from relay 2: the message keeps the bytes relay 1 may hold,
// instead of being sealed again (which would make it a second message),
// and Org reads it once.
func TestNotResealedWhileARelayMayHoldIt(t *testing.T) {
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

	// Relays 2 and 3 down; relay 1 stores the message, the ack is lost.
	stop(1)
	stop(2)
	failRecord = func() error { return errors.New("lost acknowledgement") }
	t.Logf("send: %v", alice.Send(ctx, "c", crypto.Talks, "said once"))
	failRecord = nil

	// Relay 1 down, 2 and 3 back; Org changes the roster (drops relay 3).
	stop(0)
	start(1)
	start(2)
	if err := org.RemoveRelay(ctx, "c", "3"); err != nil {
		t.Logf("remove relay 3: %v", err)
	}
	t.Logf("alice sync: %v", func() error { _, err := alice.Sync(ctx, "c"); return err }())

	// Relay 1 back.
	start(0)
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
