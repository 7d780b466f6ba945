package client

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"parley/crypto"
	"parley/internal/wire"
	"parley/relay"
)

// falseBurn is a relay store that says every channel was burned and
// shows a notice that is none.
type falseBurn struct{ relay.Store }

func (s *falseBurn) Channel(context.Context, relay.ChannelID) ([]byte, uint64, error) {
	return nil, 0, relay.ErrNotFound
}

func (s *falseBurn) Tombstone(context.Context, relay.ChannelID) ([]byte, error) {
	return []byte("not a burn notice"), nil
}

// One relay of two saying "burned" with a notice that does not check
// out is named, and the talks go on through the other.
func TestOneRelayFalseBurnStopsNothing(t *testing.T) {
	ctx, relays, org, alice := homesOnRelays(t, 2)
	r := relays[1]
	r.stop()
	r.startWith(func(s relay.Store) relay.Store { return &falseBurn{s} })
	if err := alice.Send(ctx, "c", crypto.Talks, "relay 1 is fine"); err != nil {
		t.Fatalf("send with one relay honest and the other claiming a burn it cannot show: %v", err)
	}
	rep, err := org.Sync(ctx, "c")
	if err != nil {
		t.Fatalf("the organizer's sync: %v", err)
	}
	if problems := strings.Join(rep.RelayProblems, "\n"); !strings.Contains(problems, "says the channel was burned") {
		t.Errorf("the relay claiming a burn is not named: %q", problems)
	}
	entries, err := org.Read("c")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(entries, func(e Entry) bool { return e.Text == "relay 1 is fine" }) {
		t.Fatalf("the organizer did not read Alice: %+v", entries)
	}
}

// One relay of two injecting a frame whose clear header names an epoch
// far ahead does not pause the talks, which the other relay carries.
func TestOneRelayMadeUpEpochDoesNotPauseTalks(t *testing.T) {
	ctx, relays, org, alice := homesOnRelays(t, 2)
	if err := org.Send(ctx, "c", crypto.Talks, "hello"); err != nil {
		t.Fatal(err)
	}
	id, env := lastMessageAt(t, ctx, relays[1], org)
	binary.BigEndian.PutUint64(env[1:9], 1<<62)
	if _, err := relays[1].Store.Append(ctx, []relay.NewFrame{{Channel: id, Kind: wire.KindMessage, Payload: env}}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := alice.Send(ctx, "c", crypto.Talks, "still here"); err != nil {
		t.Fatalf("one relay's made-up epoch stopped the talks: %v", err)
	}
}

// staleLiar answers every new access list as stale.
type staleLiar struct{ relay.Store }

func (s *staleLiar) ReplaceAccessList(context.Context, relay.ChannelID, uint64, uint64, []byte) error {
	return relay.ErrStale
}

// A relay answering a removal as stale while it shows no newer access
// list is not taken at its word: the organizer is not told another
// organizer won (there is none), and the relay is named as refusing.
func TestRelayCallingAChangeStaleMustShowWhy(t *testing.T) {
	ctx, relays, org, _ := homesOnRelays(t, 2)
	r := relays[0]
	r.stop()
	r.startWith(func(s relay.Store) relay.Store { return &staleLiar{s} })
	err := org.Remove(ctx, "c", "Alice")
	if errors.Is(err, errProposalLost) || err != nil && strings.Contains(err.Error(), "another organizer") {
		t.Fatalf("remove, the first relay calling it stale with nothing newer: %v", err)
	}
	t.Logf("remove: %v", err)
}

// A relay that keeps an old frame and serves it again once this home
// has forgotten it (past the retention and a day) is the one refused as
// replaying; the honest relay, which rightly does not deliver it again,
// is not named for lacking it.
func TestReplayByOneRelayNamesNoOther(t *testing.T) {
	ctx, relays, org, alice := homesOnRelays(t, 2)
	if err := alice.Send(ctx, "c", crypto.Talks, "an old message"); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	id, old := lastMessageAt(t, ctx, relays[1], org)
	later := time.Now().Add(5 * 24 * time.Hour)
	org.Now = func() time.Time { return later }
	if _, err := org.Sync(ctx, "c"); err != nil { // forgets the frame's record
		t.Fatal(err)
	}
	if _, err := relays[1].Store.Append(ctx, []relay.NewFrame{{Channel: id, Kind: wire.KindMessage, Payload: old}}); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	org.Now = func() time.Time { return later.Add(11 * time.Minute) }
	if _, err := org.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	entries, err := org.Read("c")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Reason == ReasonRelayWithheld {
			t.Errorf("the honest relay named: %s", e.Text)
		}
	}
}

// lastMessageAt returns home's channel "c" and a copy of the newest
// message frame relay r holds for it.
func lastMessageAt(t *testing.T, ctx context.Context, r *testRelay, home *Client) (crypto.ChannelID, []byte) {
	t.Helper()
	id, err := home.ChannelID("c")
	if err != nil {
		t.Fatal(err)
	}
	frames, _, err := r.Store.Fetch(ctx, id, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var env []byte
	for _, f := range frames {
		if f.Kind == wire.KindMessage {
			env = append([]byte(nil), f.Payload...)
		}
	}
	if env == nil {
		t.Fatal("no message frame at the relay")
	}
	return id, env
}
