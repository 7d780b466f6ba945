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
	return ctx, relays[0].Relay, org, alice
}

// testRelay is a relay on loopback that a test can stop, empty and start
// again on the same address and data folder (same certificate).
type testRelay struct {
	*relay.Relay
	t         testing.TB
	dir, addr string
}

func startTestRelay(t testing.TB) *testRelay {
	r := &testRelay{t: t, dir: t.TempDir(), addr: "127.0.0.1:0"}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *testRelay) start() { r.startWith(nil) }

// startWith starts the relay on its address and folder with its store
// wrapped (nil: as it is), as a relay turned hostile.
func (r *testRelay) startWith(wrap func(relay.Store) relay.Store) {
	rl, err := relay.Start(relay.Options{Listen: r.addr, DataDir: r.dir, WrapStore: wrap})
	if err != nil {
		r.t.Fatal(err)
	}
	r.Relay, r.addr = rl, rl.Addr.String()
}

func (r *testRelay) stop() {
	if r.Relay != nil {
		r.Relay.Close(context.Background())
		r.Relay = nil
	}
}

// empty stops the relay and deletes its store, as a lost disk would.
func (r *testRelay) empty() {
	r.stop()
	for _, f := range []string{"relay.db", "relay.db-wal", "relay.db-shm"} {
		os.Remove(filepath.Join(r.dir, f))
	}
}

// openHome makes and opens a home for name, closed when the test ends.
func openHome(t testing.TB, name string) *Client {
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

// homesOnRelays starts k relays and makes an organizer ("Org") and an
// admitted participant ("Alice") in channel "c" on all of them.
func homesOnRelays(t testing.TB, k int) (context.Context, []*testRelay, *Client, *Client) {
	os.Setenv("PARLEY_SCRYPT_LOGN", "10")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // a bound, not an expectation
	t.Cleanup(cancel)
	var relays []*testRelay
	var urls []string
	for range k {
		r := startTestRelay(t)
		relays, urls = append(relays, r), append(urls, r.URL)
	}
	org, alice := openHome(t, "Org"), openHome(t, "Alice")
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
