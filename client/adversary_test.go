package client_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
	"parley/internal/wire"
	"parley/relay"
)

// lyingStore is a relay store that, on fetch, hides some frames and
// swaps the contents of others, as a malicious relay may.
type lyingStore struct {
	relay.Store
	mu   sync.Mutex
	hide map[uint64]bool
	swap [2]uint64
	// refuseBundles and refuseMessages make appends of epoch bundles,
	// or of messages, fail as a full quota does.
	refuseBundles, refuseMessages bool
	// renumber, when set, adds to the sequence number of every frame
	// fetched.
	renumber uint64
}

func (s *lyingStore) Append(ctx context.Context, frames []relay.NewFrame) ([]wire.Stored, error) {
	s.mu.Lock()
	bundles, messages := s.refuseBundles, s.refuseMessages
	s.mu.Unlock()
	for _, f := range frames {
		if bundles && f.Kind == wire.KindBundle || messages && f.Kind == wire.KindMessage {
			return nil, relay.ErrQuota
		}
	}
	return s.Store.Append(ctx, frames)
}

func (s *lyingStore) Fetch(ctx context.Context, ch relay.ChannelID, since uint64, max int) ([]wire.Stored, bool, error) {
	frames, more, err := s.Store.Fetch(ctx, ch, since, max)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wire.Stored
	idx := map[uint64]int{}
	for _, f := range frames {
		if s.hide[f.Seq] {
			continue
		}
		idx[f.Seq] = len(out)
		out = append(out, f)
	}
	i, ok1 := idx[s.swap[0]]
	j, ok2 := idx[s.swap[1]]
	if ok1 && ok2 {
		out[i].Payload, out[j].Payload = out[j].Payload, out[i].Payload
	}
	for k := range out {
		out[k].Seq += s.renumber
	}
	return out, more, err
}

// channelFrames returns the frames of a channel as the relay stored them.
func channelFrames(t *testing.T, s relay.Store, ch crypto.ChannelID) []wire.Stored {
	frames, _, err := s.Fetch(ctxT(t), ch, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return frames
}

// setup makes a channel with an organizer, Alice and Bob behind a lying
// relay, and returns the channel id.
func adversarySetup(t *testing.T) (*world, *lyingStore, *client.Client, *client.Client, *client.Client, crypto.ChannelID) {
	lying := &lyingStore{hide: map[uint64]bool{}}
	w := newWorld(t, func(s relay.Store) relay.Store { lying.Store = s; return lying })
	org := w.Home("Organizer")
	if err := org.CreateChannel(ctxT(t), "c", w.Relay.URL, crypto.PolicyHard); err != nil {
		t.Fatal(err)
	}
	alice := w.Join(org, "c", "Alice", crypto.RoleParticipant)
	bob := w.Join(org, "c", "Bob", crypto.RoleParticipant)
	texts(t, alice, "c")
	id, err := org.ChannelID("c")
	if err != nil {
		t.Fatal(err)
	}
	return w, lying, org, alice, bob, id
}

func TestReplayedMessageRejected(t *testing.T) {
	w, _, _, alice, bob, ch := adversarySetup(t)
	ctx := ctxT(t)
	if err := alice.Send(ctx, "c", crypto.Talks, "only once"); err != nil {
		t.Fatal(err)
	}
	frames := channelFrames(t, w.Relay.Store, ch)
	last := frames[len(frames)-1]
	// The relay stores the same envelope again: a replay.
	if _, err := w.Relay.Store.Append(ctx, []relay.NewFrame{{Channel: ch, Kind: wire.KindMessage, Payload: last.Payload}}); err != nil {
		t.Fatal(err)
	}
	got := texts(t, bob, "c")
	n := 0
	for _, l := range got {
		if l == "Alice: only once" {
			n++
		}
	}
	if n != 1 || !contains(got, "* rejected a replayed message from Alice") {
		t.Fatalf("after a replay: %q", got)
	}
	// The relay reflects Alice's own frame back to her: not shown again.
	if got := texts(t, alice, "c"); strings.Count(strings.Join(got, "\n"), "only once") != 1 {
		t.Fatalf("Alice sees her own message twice: %q", got)
	}
	// And Bob keeps working.
	alice.Send(ctx, "c", crypto.Talks, "and then")
	if !contains(texts(t, bob, "c"), "Alice: and then") {
		t.Fatal("Bob stopped receiving after the replay")
	}
}

func TestDroppedAndReorderedMessages(t *testing.T) {
	w, lying, _, alice, bob, ch := adversarySetup(t)
	ctx := ctxT(t)
	for _, m := range []string{"one", "two", "three", "four"} {
		if err := alice.Send(ctx, "c", crypto.Talks, m); err != nil {
			t.Fatal(err)
		}
	}
	frames := channelFrames(t, w.Relay.Store, ch)
	n := len(frames)
	lying.mu.Lock()
	lying.hide[frames[n-4].Seq] = true                       // "one" is dropped
	lying.swap = [2]uint64{frames[n-2].Seq, frames[n-1].Seq} // "three" and "four" swapped
	lying.mu.Unlock()
	got := texts(t, bob, "c")
	for _, want := range []string{"* 1 message(s) from Alice missing", "Alice: two", "Alice: three", "Alice: four"} {
		if !contains(got, want) {
			t.Fatalf("missing %q in %q", want, got)
		}
	}
	if contains(got, "Alice: one") {
		t.Fatal("a dropped message was shown")
	}
}

func TestInjectedFrameFromOutsider(t *testing.T) {
	w, _, _, _, bob, ch := adversarySetup(t)
	ctx := ctxT(t)
	mallory, _ := crypto.GenerateChannelKeys()
	// A well-formed header naming Mallory, then bytes no key opens: an
	// outsider holds no chain to seal with.
	env := make([]byte, crypto.EnvelopeSize)
	rand.Read(env)
	env[0] = crypto.EnvelopeVersion
	binary.BigEndian.PutUint64(env[1:], 3)
	id := mallory.ID()
	copy(env[9:25], id[:])
	if _, err := w.Relay.Store.Append(ctx, []relay.NewFrame{{Channel: ch, Kind: wire.KindMessage, Payload: env}}); err != nil {
		t.Fatal(err)
	}
	got := texts(t, bob, "c")
	if !contains(got, "* rejected a message from a key outside the roster") {
		t.Fatalf("injected frame: %q", got)
	}
	for _, l := range got {
		if strings.Contains(l, "forged") {
			t.Fatal("an injected message was shown")
		}
	}
}

func TestStaleRosterReplayed(t *testing.T) {
	w, _, org, alice, _, ch := adversarySetup(t)
	ctx := ctxT(t)
	frames := channelFrames(t, w.Relay.Store, ch)
	// The relay serves the genesis bundle again, and the bundle that
	// admitted Alice.
	for _, f := range frames[:2] {
		if _, err := w.Relay.Store.Append(ctx, []relay.NewFrame{{Channel: ch, Kind: wire.KindBundle, Payload: f.Payload}}); err != nil {
			t.Fatal(err)
		}
	}
	got := texts(t, alice, "c")
	if !contains(got, "* ignored an old roster for epoch 1") || !contains(got, "* ignored a replayed roster for epoch 2") {
		t.Fatalf("stale rosters: %q", got)
	}
	m, _ := alice.Members("c")
	if len(m) != 3 {
		t.Fatalf("a stale roster changed the members: %d", len(m))
	}
	org.Send(ctx, "c", crypto.Talks, "still working")
	if !contains(texts(t, alice, "c"), "Organizer: still working") {
		t.Fatal("Alice stopped working after stale rosters")
	}
}

func TestFramesFromAnotherChannel(t *testing.T) {
	w, _, org, alice, _, ch := adversarySetup(t)
	ctx := ctxT(t)
	// The same people in a second channel: other pseudonyms, other keys.
	if err := org.CreateChannel(ctx, "other", w.Relay.URL, crypto.PolicyHard); err != nil {
		t.Fatal(err)
	}
	code, _ := org.Invite(ctx, "other", crypto.RoleParticipant, time.Hour, 0)
	alice.Join(ctx, code, "other")
	org.Admit(ctx, "other", nil, true)
	org.Send(ctx, "other", crypto.Talks, "meant for the other channel")
	other, _ := org.ChannelID("other")
	frames := channelFrames(t, w.Relay.Store, other)
	last := frames[len(frames)-1]
	if _, err := w.Relay.Store.Append(ctx, []relay.NewFrame{{Channel: ch, Kind: wire.KindMessage, Payload: last.Payload}}); err != nil {
		t.Fatal(err)
	}
	got := texts(t, alice, "c")
	if !contains(got, "* rejected a message from a key outside the roster") {
		t.Fatalf("a frame of another channel: %q", got)
	}
	if contains(got, "Organizer: meant for the other channel") {
		t.Fatal("a frame of another channel was shown")
	}
}

// TestConcurrentOrganizersDoNotFork: two organizers change the same
// roster version; the relay accepts one access list per version, so the
// second change is refused and reported, and everyone stays on one
// roster.
func TestConcurrentOrganizersDoNotFork(t *testing.T) {
	lying := &lyingStore{hide: map[uint64]bool{}}
	w := newWorld(t, func(s relay.Store) relay.Store { lying.Store = s; return lying })
	ctx := ctxT(t)
	o1 := w.Home("First Organizer")
	o1.CreateChannel(ctx, "c", w.Relay.URL, crypto.PolicyHard)
	o2 := w.Join(o1, "c", "Second Organizer", crypto.RoleOrganizer)
	alice := w.Join(o1, "c", "Alice", crypto.RoleParticipant)
	w.Join(o1, "c", "Bob", crypto.RoleParticipant)
	w.Join(o2, "c", "Carol", crypto.RoleParticipant) // the second organizer can admit
	texts(t, alice, "c")
	texts(t, o1, "c")

	// The first organizer's bundle does not get through at once...
	lying.mu.Lock()
	lying.refuseBundles = true
	lying.mu.Unlock()
	if err := o1.Remove(ctx, "c", "Bob"); err == nil {
		t.Fatal("the bundle got through")
	}
	lying.mu.Lock()
	lying.refuseBundles = false
	lying.mu.Unlock()
	// ...while the second removes someone else from the same version:
	// refused, since the first's access list holds that version.
	if err := o2.Remove(ctx, "c", "Carol"); err == nil || !strings.Contains(err.Error(), "another organizer changed the channel") {
		t.Fatalf("second organizer's concurrent change: %v", err)
	}
	if _, err := o1.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, c := range []*client.Client{o1, o2, alice} {
		texts(t, c, "c")
		ms, err := c.Members("c")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range ms {
			names = append(names, m.Name)
		}
		got := strings.Join(names, ",")
		if want == "" {
			want = got
		}
		if got != want || strings.Contains(got, "Bob") || !strings.Contains(got, "Carol") {
			t.Fatalf("members disagree or are wrong: %q vs %q", got, want)
		}
	}
	// The second organizer can make its change now.
	if err := o2.Remove(ctx, "c", "Carol"); err != nil {
		t.Fatal(err)
	}
	if m, _ := alice.Members("c"); len(m) != 3 {
		texts(t, alice, "c")
	}
}
