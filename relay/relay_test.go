package relay_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
	"parley/relay"
)

func TestAuthentication(t *testing.T) {
	r, _ := startRelay(t, relay.Config{})
	tc := newTestChannel(t, r.URL, time.Now())
	outsider := newMember(t, "Outsider", crypto.RoleParticipant)

	c := dial(t, r.URL)
	if _, err := c.Post(ctxT(t), wire.KindMessage, envelope(outsider.keys)); !errors.Is(err, relayclient.ErrUnauthorized) {
		t.Fatalf("post before auth: %v", err)
	}
	if _, _, err := c.Fetch(ctxT(t), 0); !errors.Is(err, relayclient.ErrUnauthorized) {
		t.Fatalf("fetch before auth: %v", err)
	}
	if err := c.Auth(ctxT(t), tc.roster.Channel, outsider.keys); !errors.Is(err, relayclient.ErrUnauthorized) {
		t.Fatalf("auth with a key outside the list: %v", err)
	}
	// An unknown channel is said plainly, so that members of a relay
	// that lost its data are not told they were removed.
	if err := c.Auth(ctxT(t), crypto.ChannelID{1, 2, 3}, tc.org.keys); !errors.Is(err, relayclient.ErrNotFound) {
		t.Fatalf("auth to an unknown channel: %v", err)
	}

	// A response signed for another relay (pin) or another challenge.
	raw, pin, err := relayclient.DialWebSocket(ctxT(t), r.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, data, _ := raw.ReadMessage()
	f, _ := wire.Decode(data)
	ch, _ := wire.ParseChallenge(f.Body)
	for _, sig := range [][]byte{
		tc.org.keys.SignRelayChallenge([32]byte{9}, tc.roster.Channel, ch.Nonce),
		tc.org.keys.SignRelayChallenge(pin, tc.roster.Channel, [32]byte{}),
	} {
		a := wire.Auth{Channel: tc.roster.Channel}
		copy(a.Key[:], tc.org.keys.SigningPublicKey())
		copy(a.Signature[:], sig)
		raw.WriteMessage(2, a.Encode(1))
		_, data, _ = raw.ReadMessage()
		f, _ = wire.Decode(data)
		e, _ := wire.ParseError(f.Body)
		if f.Type != wire.TError || e.Code != wire.CodeUnauthorized {
			t.Fatalf("replayed or foreign auth response accepted: %#x", f.Type)
		}
	}

	good := dial(t, r.URL)
	if err := good.Auth(ctxT(t), tc.roster.Channel, tc.org.keys); err != nil {
		t.Fatal(err)
	}
	if err := good.Auth(ctxT(t), tc.roster.Channel, tc.org.keys); !errors.Is(err, relayclient.ErrMalformed) {
		t.Fatalf("second auth on one connection: %v", err)
	}
}

// TestNoRoles: the relay knows no roles. Every member may post in
// either compartment and receives every frame (a mentor cannot open a
// talks envelope anyway); only the administration key administers, and
// it neither posts messages nor reads them.
func TestNoRoles(t *testing.T) {
	now := time.Now()
	r, _ := startRelay(t, relay.Config{})
	tc := newTestChannel(t, r.URL, now)
	alice := newMember(t, "Alice", crypto.RoleParticipant)
	mentor := newMember(t, "Mentor", crypto.RoleMentor)
	ac := tc.add(alice, now, time.Time{})
	mc := tc.add(mentor, now, time.Time{})
	ctx := ctxT(t)

	// Three members: an access list of four keys, none marked.
	if len(tc.list.Entries) != 4 {
		t.Fatalf("%d entries for 3 members, want a bucket of 4", len(tc.list.Entries))
	}
	talk, err := ac.Post(ctx, wire.KindMessage, envelope(alice.keys))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mc.Post(ctx, wire.KindMessage, envelope(mentor.keys)); err != nil {
		t.Fatalf("the relay told a mentor from a participant: %v", err)
	}
	if p := nextPush(t, mc); p.Seq != talk {
		t.Fatalf("mentor was pushed seq %d first, want the talks frame %d", p.Seq, talk)
	}
	if p := nextPush(t, tc.orgC); p.Seq != talk {
		t.Fatalf("organizer pushed %d first, want %d", p.Seq, talk)
	}
	// No one posts as someone else.
	if _, err := ac.Post(ctx, wire.KindMessage, envelope(mentor.keys)); !errors.Is(err, relayclient.ErrForbidden) {
		t.Fatalf("posting with another member's sender id: %v", err)
	}
	// Administration is the administration key's alone: not even the
	// organizer's member key has it.
	list := crypto.AccessListFor(tc.roster, tc.admin.SigningPublicKey())
	list.Version = tc.list.Version + 1
	list.Sign(tc.admin, tc.admin)
	notice, err := crypto.NewBurnNotice([]*crypto.AdminKey{tc.admin}, tc.roster.Channel, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []struct {
		name string
		c    *relayclient.Conn
		keys *crypto.ChannelKeys
	}{{"participant", ac, alice.keys}, {"organizer's member key", tc.orgC, tc.org.keys}} {
		for name, err := range map[string]error{
			"set access":  who.c.SetAccess(ctx, list),
			"invite":      who.c.RegisterInvite(ctx, [32]byte{1}, now.Add(time.Hour)),
			"burn":        who.c.Burn(ctx, notice),
			"join list":   func() error { _, err := who.c.Joins(ctx); return err }(),
			"drop joins":  who.c.DropJoins(ctx, []uint64{1}),
			"post bundle": func() error { _, err := who.c.Post(ctx, wire.KindBundle, []byte{1}); return err }(),
		} {
			if !errors.Is(err, relayclient.ErrForbidden) {
				t.Errorf("%s %s: %v", who.name, name, err)
			}
		}
	}
	if _, err := tc.adminC.Post(ctx, wire.KindMessage, envelope(tc.org.keys)); !errors.Is(err, relayclient.ErrForbidden) {
		t.Fatalf("administration key posting a message: %v", err)
	}
	// It reads what members read (an organizer administers on this
	// connection alone).
	if frames, _, err := tc.adminC.Fetch(ctx, 0); err != nil || !slices.ContainsFunc(frames, func(f wire.Stored) bool { return f.Seq == talk }) {
		t.Fatalf("administration key fetching: %d frames, %v", len(frames), err)
	}
	// A member key is no administration key, even with a valid answer.
	if c := dial(t, r.URL); !errors.Is(c.Auth(ctx, tc.roster.Channel, newAdminKey(tc.roster.Channel, 1)), relayclient.ErrUnauthorized) {
		t.Fatal("an unlisted administration key was let in")
	}
	// A malformed envelope is refused, not stored.
	if _, err := ac.Post(ctx, wire.KindMessage, []byte("short")); !errors.Is(err, relayclient.ErrMalformed) {
		t.Fatalf("short envelope: %v", err)
	}
}

// TestAdminKeyReplaced: a new access list names a new administration
// key; the connection that submitted it (and proved it holds the new
// key) goes on with it, and the old key opens nothing any more.
func TestAdminKeyReplaced(t *testing.T) {
	now := time.Now()
	r, _ := startRelay(t, relay.Config{})
	tc := newTestChannel(t, r.URL, now)
	ctx := ctxT(t)
	old := tc.admin
	other := dial(t, r.URL)
	if err := other.Auth(ctx, tc.roster.Channel, old); err != nil {
		t.Fatal(err)
	}
	next := tc.roster.Next(now)
	next.Sign(tc.org.keys)
	fresh := newAdminKey(next.Channel, next.Version)
	list := crypto.AccessListFor(next, fresh.SigningPublicKey())
	// Signed by the old key alone (the new key's proof made by another
	// key): refused.
	forged := *list
	forged.Admin = old.SigningPublicKey()
	if err := forged.Sign(old, old); err != nil {
		t.Fatal(err)
	}
	forged.Admin = fresh.SigningPublicKey()
	if err := tc.adminC.SetAccess(ctx, &forged); !errors.Is(err, relayclient.ErrForbidden) {
		t.Fatalf("a list whose administration key did not sign it: %v", err)
	}
	if err := list.Sign(old, fresh); err != nil {
		t.Fatal(err)
	}
	if err := tc.adminC.SetAccess(ctx, list); err != nil {
		t.Fatal(err)
	}
	if err := tc.adminC.RegisterInvite(ctx, [32]byte{2}, now.Add(time.Hour)); err != nil {
		t.Fatalf("the submitter goes on with the new key: %v", err)
	}
	waitClosed(t, other)
	if c := dial(t, r.URL); !errors.Is(c.Auth(ctx, tc.roster.Channel, old), relayclient.ErrUnauthorized) {
		t.Fatal("the replaced administration key still opens the channel")
	}
	if c := dial(t, r.URL); c.Auth(ctx, tc.roster.Channel, fresh) != nil {
		t.Fatal("the new administration key does not open the channel")
	}
}

func TestAccessListReplacement(t *testing.T) {
	now := time.Now()
	r, _ := startRelay(t, relay.Config{})
	tc := newTestChannel(t, r.URL, now)
	alice := newMember(t, "Alice", crypto.RoleParticipant)
	bob := newMember(t, "Bob", crypto.RoleParticipant)
	ac := tc.add(alice, now, time.Time{})
	bc := tc.add(bob, now, time.Time{})
	ctx := ctxT(t)

	stale := *tc.list
	if err := tc.adminC.SetAccess(ctx, &stale); !errors.Is(err, relayclient.ErrStale) {
		t.Fatalf("replayed list: %v", err)
	}
	old := crypto.AccessListFor(tc.roster, tc.admin.SigningPublicKey())
	old.Version = 1
	old.Sign(tc.admin, tc.admin)
	if err := tc.adminC.SetAccess(ctx, old); !errors.Is(err, relayclient.ErrStale) {
		t.Fatalf("older list: %v", err)
	}

	// Removing Bob cuts his live connection at once.
	if err := tc.update(now, func(r *crypto.Roster) { r.Remove(bob.keys.ID()) }); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, bc)
	c := dial(t, r.URL)
	if err := c.Auth(ctx, tc.roster.Channel, bob.keys); !errors.Is(err, relayclient.ErrUnauthorized) {
		t.Fatalf("removed key re-authenticating: %v", err)
	}
	if _, err := ac.Post(ctx, wire.KindMessage, envelope(alice.keys)); err != nil {
		t.Fatalf("remaining member after a removal: %v", err)
	}
	got, err := ac.AccessList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := tc.list.Marshal()
	if !bytes.Equal(got, want) {
		t.Fatal("relay serves another access list than the one set")
	}
}

func TestExpiredKeyCutOff(t *testing.T) {
	clk := &clock{t: time.Now()}
	r, _ := startRelay(t, relay.Config{Now: clk.Now})
	tc := newTestChannel(t, r.URL, clk.Now())
	alice := newMember(t, "Alice", crypto.RoleParticipant)
	ac := tc.add(alice, clk.Now(), clk.Now().Add(time.Hour))
	if _, err := ac.Post(ctxT(t), wire.KindMessage, envelope(alice.keys)); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour + time.Second)
	waitClosed(t, ac) // by the relay's sweep, without a request
	c := dial(t, r.URL)
	if err := c.Auth(ctxT(t), tc.roster.Channel, alice.keys); !errors.Is(err, relayclient.ErrUnauthorized) {
		t.Fatalf("expired key authenticating: %v", err)
	}
}

// channelWithAlice starts a relay with a channel of its organizer and
// one participant, Alice, connected.
func channelWithAlice(t *testing.T) (*testChannel, *member, *relayclient.Conn) {
	now := time.Now()
	r, _ := startRelay(t, relay.Config{})
	tc := newTestChannel(t, r.URL, now)
	alice := newMember(t, "Alice", crypto.RoleParticipant)
	return tc, alice, tc.add(alice, now, time.Time{})
}

func TestStoreAndForward(t *testing.T) {
	tc, alice, ac := channelWithAlice(t)
	ctx := ctxT(t)
	var sent [][]byte
	var last uint64
	for i := 0; i < 5; i++ {
		e := envelope(alice.keys)
		seq, err := ac.Post(ctx, wire.KindMessage, e)
		if err != nil {
			t.Fatal(err)
		}
		if seq <= last {
			t.Fatalf("sequence %d after %d", seq, last)
		}
		last = seq
		sent = append(sent, e)
		p := nextPush(t, tc.orgC)
		if p.Seq != seq || !bytes.Equal(p.Payload, e) {
			t.Fatalf("push %d differs from post %d", p.Seq, seq)
		}
	}
	noPush(t, ac) // no echo to the sender
	frames, more, err := tc.orgC.Fetch(ctx, 0)
	if err != nil || more || len(frames) != 5 {
		t.Fatalf("fetch: %d frames, more %v, %v", len(frames), more, err)
	}
	for i, f := range frames {
		if !bytes.Equal(f.Payload, sent[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
	frames, _, _ = tc.orgC.Fetch(ctx, frames[2].Seq)
	if len(frames) != 2 {
		t.Fatalf("fetch since the third: %d frames", len(frames))
	}
}

// A member's message may name the epoch of the relay's access list or
// the one after it (another relay of the channel may have taken the
// change first), never one further: members read a later epoch as a
// sign that one is kept from them, so a made-up one would pause their
// talks.
func TestMessageOfUnknownEpochRefused(t *testing.T) {
	tc, alice, ac := channelWithAlice(t)
	ctx := ctxT(t)
	for _, epoch := range []uint64{tc.list.Version, tc.list.Version + 1, tc.list.Version + 2, 1 << 62} {
		e := envelope(alice.keys)
		binary.BigEndian.PutUint64(e[1:9], epoch)
		_, err := ac.Post(ctx, wire.KindMessage, e)
		var re *relayclient.Error
		if refused := errors.As(err, &re) && re.Code == wire.CodeForbidden; refused != (epoch > tc.list.Version+1) {
			t.Fatalf("epoch %d with the list at %d: %v", epoch, tc.list.Version, err)
		}
	}
}

// Pushed and fetched payloads are the client's own: reading more
// frames, which reuses the connection's read buffers, changes none of
// those already taken (wire.ParsePush and ParseFrames do not copy).
func TestPushesKeepTheirBytes(t *testing.T) {
	tc, alice, ac := channelWithAlice(t)
	ctx := ctxT(t)
	var sent [][]byte
	for range 8 {
		e := envelope(alice.keys)
		if _, err := ac.Post(ctx, wire.KindMessage, e); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, e)
	}
	var pushed []wire.Stored
	for range sent {
		pushed = append(pushed, nextPush(t, tc.orgC))
	}
	first, _, err := tc.orgC.Fetch(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tc.orgC.Fetch(ctx, 4); err != nil {
		t.Fatal(err)
	}
	for i, e := range sent {
		if !bytes.Equal(pushed[i].Payload, e) {
			t.Fatalf("push %d changed after later reads", i)
		}
		if !bytes.Equal(first[i].Payload, e) {
			t.Fatalf("fetched frame %d changed after a later fetch", i)
		}
	}
}

func TestJoinInbox(t *testing.T) {
	clk := &clock{t: time.Now()}
	r, _ := startRelay(t, relay.Config{Now: clk.Now})
	tc := newTestChannel(t, r.URL, clk.Now())
	ctx := ctxT(t)
	inv, err := crypto.NewInvite(r.URL, r.Pin, tc.roster.Channel, tc.org.keys.ID(), crypto.RoleParticipant, clk.Now().Add(time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.adminC.RegisterInvite(ctx, crypto.TokenID(inv.Token()), inv.Expires); err != nil {
		t.Fatal(err)
	}
	alice := newMember(t, "Alice", crypto.RoleParticipant)
	req, _ := crypto.NewJoinRequest(inv, alice.id, "Alice", alice.keys)
	sealed, _ := inv.SealJoinRequest(req)

	anon := dial(t, r.URL) // joining needs no authentication
	if err := anon.Join(ctx, tc.roster.Channel, [32]byte{7}, sealed); !errors.Is(err, relayclient.ErrInviteInvalid) {
		t.Fatalf("unknown token: %v", err)
	}
	if err := anon.Join(ctx, tc.roster.Channel, inv.Token(), sealed); err != nil {
		t.Fatal(err)
	}
	if err := anon.Join(ctx, tc.roster.Channel, inv.Token(), sealed); !errors.Is(err, relayclient.ErrInviteInvalid) {
		t.Fatalf("second use of one invite: %v", err)
	}
	joins, err := tc.adminC.Joins(ctx)
	if err != nil || len(joins) != 1 {
		t.Fatalf("join list: %d, %v", len(joins), err)
	}
	got, err := inv.OpenJoinRequest(joins[0].Sealed)
	if err != nil || got.Name != "Alice" {
		t.Fatalf("join request through the relay: %v", err)
	}
	// Its id is random, not a relay-wide count an organizer could read
	// how many requests all channels received from (the first request
	// of a fresh relay would be 1).
	if joins[0].ID < 1<<32 {
		t.Fatalf("join request id %d looks like a counter", joins[0].ID)
	}
	if err := tc.adminC.DropJoins(ctx, []uint64{joins[0].ID}); err != nil {
		t.Fatal(err)
	}
	if joins, _ := tc.adminC.Joins(ctx); len(joins) != 0 {
		t.Fatal("dropped join request still listed")
	}

	// An invite used after its expiry is refused.
	late, _ := crypto.NewInvite(r.URL, r.Pin, tc.roster.Channel, tc.org.keys.ID(), crypto.RoleParticipant, clk.Now().Add(time.Minute), "")
	tc.adminC.RegisterInvite(ctx, crypto.TokenID(late.Token()), late.Expires)
	clk.Add(2 * time.Minute)
	if err := anon.Join(ctx, tc.roster.Channel, late.Token(), sealed); !errors.Is(err, relayclient.ErrInviteInvalid) {
		t.Fatalf("expired invite: %v", err)
	}
}

func TestBurnLeavesNoTrace(t *testing.T) {
	now := time.Now()
	r, dir := startRelay(t, relay.Config{})
	tc := newTestChannel(t, r.URL, now)
	alice := newMember(t, "Alice", crypto.RoleParticipant)
	ac := tc.add(alice, now, time.Time{})
	ctx := ctxT(t)
	var marks [][]byte
	for i := 0; i < 20; i++ {
		e := envelope(alice.keys)
		if _, err := ac.Post(ctx, wire.KindMessage, e); err != nil {
			t.Fatal(err)
		}
		marks = append(marks, e[1000:1032], e[crypto.EnvelopeSize-32:])
	}
	if found := grepDir(t, dir, marks); len(found) == 0 {
		t.Fatal("the marks are not on disk before the burn; the test would prove nothing")
	}
	// A notice signed by another administration key than the one the
	// relay holds burns nothing, even on the administrator's connection.
	other, err := crypto.NewBurnNotice([]*crypto.AdminKey{newAdminKey(tc.roster.Channel, 9)}, tc.roster.Channel, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.adminC.Burn(ctx, other); !errors.Is(err, relayclient.ErrForbidden) {
		t.Fatalf("burn signed by another key: %v", err)
	}
	notice, err := crypto.NewBurnNotice([]*crypto.AdminKey{tc.admin}, tc.roster.Channel, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.adminC.Burn(ctx, notice); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ac.Events():
		if ev.Type != wire.TBurned {
			t.Fatalf("member got frame %#x, want a burn notice", ev.Type)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("member not told of the burn")
	}
	waitClosed(t, ac)
	if found := grepDir(t, dir, marks); len(found) > 0 {
		t.Fatalf("burned ciphertext still in %v", found)
	}
	c := dial(t, r.URL)
	if err := c.Auth(ctx, tc.roster.Channel, alice.keys); !errors.Is(err, relayclient.ErrBurned) {
		t.Fatalf("auth to a burned channel: %v", err)
	}
	stone, err := c.Tombstone(ctx, tc.roster.Channel)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := crypto.ParseBurnNotice(stone); err != nil || b.Verify(tc.roster.Channel) != nil || !b.SignedBy(tc.admin.SigningPublicKey()) {
		t.Fatal("tombstone does not hold the signed notice")
	}
	if v, err := r.Store.IntegrityCheck(ctx); err != nil || v != "ok" {
		t.Fatalf("integrity after burn: %q %v", v, err)
	}
	if err := c.Create(ctx, tc.list); !errors.Is(err, relayclient.ErrExists) {
		t.Fatalf("re-creating a burned channel: %v", err)
	}
}

// grepDir returns the files under dir that contain any of marks.
func grepDir(t testing.TB, dir string, marks [][]byte) []string {
	t.Helper()
	var found []string
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range marks {
			if bytes.Contains(data, m) {
				found = append(found, filepath.Base(path))
				break
			}
		}
		return nil
	})
	return found
}
