package relay_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
	"parley/relay"
)

// clock is a settable relay clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startRelay runs an in-process relay on loopback with a real SQLite
// store in a temporary folder.
func startRelay(t testing.TB, cfg relay.Config) (*relay.Relay, string) {
	t.Helper()
	dir := t.TempDir()
	r, err := relay.Start(relay.Options{Listen: "127.0.0.1:0", DataDir: dir, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Close(ctx)
	})
	return r, dir
}

// member is one pseudonym in a test channel.
type member struct {
	name string
	role crypto.Role
	id   *crypto.Identity
	keys *crypto.ChannelKeys
}

func newMember(t testing.TB, name string, role crypto.Role) *member {
	id, err := crypto.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	k, err := crypto.GenerateChannelKeys()
	if err != nil {
		t.Fatal(err)
	}
	return &member{name: name, role: role, id: id, keys: k}
}

// testChannel is a channel created at the relay by its organizer.
type testChannel struct {
	t      testing.TB
	url    string
	org    *member
	roster *crypto.Roster
	list   *crypto.AccessList
	// orgC is the organizer's member connection; adminC the one
	// authenticated with the channel's administration key, admin.
	orgC   *relayclient.Conn
	adminC *relayclient.Conn
	admin  *crypto.AdminKey
}

func newTestChannel(t testing.TB, url string, now time.Time) *testChannel {
	t.Helper()
	org := newMember(t, "Convener", crypto.RoleOrganizer)
	r, err := crypto.NewGenesisRoster(org.id, org.name, org.keys, crypto.PolicyHard, now)
	if err != nil {
		t.Fatal(err)
	}
	admin := newAdminKey(r.Channel, 1)
	list := crypto.AccessListFor(r, admin.SigningPublicKey())
	if err := list.Sign(admin, admin); err != nil {
		t.Fatal(err)
	}
	a := dial(t, url)
	if err := a.Create(ctxT(t), list); err != nil {
		t.Fatal(err)
	}
	if err := a.Auth(ctxT(t), r.Channel, admin); err != nil {
		t.Fatal(err)
	}
	c := dial(t, url)
	if err := c.Auth(ctxT(t), r.Channel, org.keys); err != nil {
		t.Fatal(err)
	}
	return &testChannel{t: t, url: url, org: org, roster: r, list: list, orgC: c, adminC: a, admin: admin}
}

// newAdminKey makes an administration key from a fresh secret.
func newAdminKey(channel crypto.ChannelID, epoch uint64) *crypto.AdminKey {
	var secret [32]byte
	rand.Read(secret[:])
	return crypto.NewAdminKey(channel, epoch, secret)
}

func dial(t testing.TB, url string) *relayclient.Conn {
	t.Helper()
	c, err := relayclient.Dial(ctxT(t), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialAs dials and authenticates with keys to channel ch.
func dialAs(t testing.TB, url string, ch crypto.ChannelID, keys relayclient.Signer) *relayclient.Conn {
	t.Helper()
	c := dial(t, url)
	if err := c.Auth(ctxT(t), ch, keys); err != nil {
		t.Fatal(err)
	}
	return c
}

// update signs the next roster and access list after f changes the
// roster, and sends the list to the relay.
func (tc *testChannel) update(now time.Time, f func(r *crypto.Roster)) error {
	next := tc.roster.Next(now)
	f(next)
	if err := next.Sign(tc.org.keys); err != nil {
		tc.t.Fatal(err)
	}
	list := crypto.AccessListFor(next, tc.admin.SigningPublicKey())
	if err := list.Sign(tc.admin, tc.admin); err != nil {
		tc.t.Fatal(err)
	}
	if err := tc.adminC.SetAccess(ctxT(tc.t), list); err != nil {
		return err
	}
	tc.roster, tc.list = next, list
	return nil
}

// add admits m (optionally until expires) and returns a connection
// authenticated as m.
func (tc *testChannel) add(m *member, now, expires time.Time) *relayclient.Conn {
	tc.t.Helper()
	err := tc.update(now, func(r *crypto.Roster) {
		pub := m.keys.Public()
		r.Members = append(r.Members, crypto.Member{Identity: *m.id.Public(), Name: m.name, Role: m.role, Expires: expires, Keys: *pub, Binding: m.id.Bind(r.Channel, pub), KEMSig: m.keys.SignKEM(r.Channel)})
	})
	if err != nil {
		tc.t.Fatal(err)
	}
	c := dial(tc.t, tc.url)
	if err := c.Auth(ctxT(tc.t), tc.roster.Channel, m.keys); err != nil {
		tc.t.Fatal(err)
	}
	return c
}

// envelope makes a message-sized payload with a valid clear header from
// keys (the sealed sender data is as random as the ciphertext after it:
// the relay reads neither).
func envelope(keys *crypto.ChannelKeys) []byte {
	e := make([]byte, crypto.EnvelopeSize)
	rand.Read(e)
	e[0] = crypto.EnvelopeVersion
	binary.BigEndian.PutUint64(e[1:], 1)
	id := keys.ID()
	copy(e[9:25], id[:])
	return e
}

// nextPush waits for one pushed frame.
func nextPush(t testing.TB, c *relayclient.Conn) wire.Stored {
	t.Helper()
	select {
	case f := <-c.Pushes():
		return f
	case <-c.Done():
		t.Fatalf("connection closed: %v", c.Err())
	case <-time.After(10 * time.Second):
		t.Fatal("no push")
	}
	return wire.Stored{}
}

// noPush checks that nothing is pushed for a moment.
func noPush(t testing.TB, c *relayclient.Conn) {
	t.Helper()
	select {
	case f := <-c.Pushes():
		t.Fatalf("unexpected push of seq %d", f.Seq)
	case <-time.After(200 * time.Millisecond):
	}
}

// waitClosed waits for the relay to close c.
func waitClosed(t testing.TB, c *relayclient.Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("connection not closed")
	}
}
