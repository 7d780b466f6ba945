package client

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/crypto"
	"parley/relay"
)

// twoHomes starts a relay and a channel "c" with an organizer and Alice
// (a participant) admitted and synced, for the tests inside the package
// that look at a client's state.
func twoHomes(t testing.TB) (ctx context.Context, r *relay.Relay, org, alice *Client) {
	ctx, relays, org, alice := homesOnRelays(t, 1)
	return ctx, relays[0], org, alice
}

// homesOnRelays starts k relays and makes an organizer ("Org") and an
// admitted participant ("Alice") in channel "c" on all of them.
func homesOnRelays(t testing.TB, k int) (context.Context, []*relay.Relay, *Client, *Client) {
	os.Setenv("PARLEY_SCRYPT_LOGN", "10")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // a bound, not an expectation
	t.Cleanup(cancel)
	var relays []*relay.Relay
	var urls []string
	for range k {
		r, err := relay.Start(relay.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(context.Background()) })
		relays, urls = append(relays, r), append(urls, r.URL)
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
	return ctx, relays, org, alice
}
