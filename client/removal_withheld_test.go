package client_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"

	"parley/client"
	"parley/crypto"
	"parley/internal/wire"
	"parley/relay"
)

// bundleSwallower is a relay store that, while swallow is set, takes
// epoch bundles (they are committed and acknowledged) and then serves
// them to nobody.
type bundleSwallower struct {
	relay.Store
	mu      sync.Mutex
	swallow bool
	hidden  map[uint64]bool
}

func (s *bundleSwallower) Append(ctx context.Context, frames []relay.NewFrame) ([]wire.Stored, error) {
	stored, err := s.Store.Append(ctx, frames)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range stored {
		if s.swallow && f.Kind == wire.KindBundle {
			s.hidden[f.Seq] = true
		}
	}
	return stored, err
}

func (s *bundleSwallower) Fetch(ctx context.Context, ch relay.ChannelID, since uint64, max int) ([]wire.Stored, bool, error) {
	frames, more, err := s.Store.Fetch(ctx, ch, since, max)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := frames[:0]
	for _, f := range frames {
		if !s.hidden[f.Seq] {
			out = append(out, f)
		}
	}
	return out, more, err
}

func (s *bundleSwallower) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.swallow, s.hidden = false, map[uint64]bool{}
}

// A relay acknowledges the bundle that removes Carol and never returns
// it. The organizer writes nothing more in the talks of the epoch Carol holds; once the
// bundle comes back, the organizer enters the new epoch and the talks go
// on in it.
func TestWithheldOwnBundleStopsTalksInTheOldEpoch(t *testing.T) {
	ss := &bundleSwallower{hidden: map[uint64]bool{}}
	w := newWorld(t, func(s relay.Store) relay.Store { ss.Store = s; return ss })
	ctx := ctxT(t)
	org := w.Home("Organizer")
	if err := org.CreateChannel(ctx, "c", w.Relay.URL, crypto.PolicyHard); err != nil {
		t.Fatal(err)
	}
	w.Join(org, "c", "Bob", crypto.RoleParticipant)
	w.Join(org, "c", "Carol", crypto.RoleParticipant)
	id, err := org.ChannelID("c")
	if err != nil {
		t.Fatal(err)
	}
	epochOfLast := func() uint64 {
		frames := channelFrames(t, w.Relay.Store, id)
		for i := len(frames) - 1; i >= 0; i-- {
			if frames[i].Kind == wire.KindMessage {
				return binary.BigEndian.Uint64(frames[i].Payload[1:9])
			}
		}
		return 0
	}
	if err := org.Send(ctx, "c", crypto.Talks, "before"); err != nil {
		t.Fatal(err)
	}
	old := epochOfLast()
	ss.mu.Lock()
	ss.swallow = true
	ss.mu.Unlock()
	if err := org.Remove(ctx, "c", "Carol"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	err = org.Send(ctx, "c", crypto.Talks, "now that Carol is gone")
	if !errors.Is(err, client.ErrStale) {
		t.Fatalf("talks after the withheld removal: %v; want ErrStale", err)
	}
	if got := epochOfLast(); got != old {
		t.Fatalf("a talks message went out in epoch %d", got)
	}
	ss.release()
	if err := org.Send(ctx, "c", crypto.Talks, "now that Carol is gone"); err != nil {
		t.Fatalf("talks once the bundle came back: %v", err)
	}
	if got := epochOfLast(); got <= old {
		t.Fatalf("the talks went on in epoch %d, not past %d", got, old)
	}
	if members, _ := org.Members("c"); len(members) != 2 {
		t.Fatalf("after the bundle came back: %d members, want 2", len(members))
	}
}

// listRefuser is a relay store that, while refuse is set, fails every
// change of the access list as a full disk would.
type listRefuser struct {
	relay.Store
	mu     sync.Mutex
	refuse bool
}

func (s *listRefuser) ReplaceAccessList(ctx context.Context, ch relay.ChannelID, prev, version uint64, access []byte) error {
	s.mu.Lock()
	refuse := s.refuse
	s.mu.Unlock()
	if refuse {
		return errors.New("disk full")
	}
	return s.Store.ReplaceAccessList(ctx, ch, prev, version, access)
}

// A removal no relay has taken yet waits in the organizer's outbox; a
// message written meanwhile waits too, instead of going out in the epoch
// the removed member still holds, and goes out in the new one.
func TestQueuedRemovalHoldsMessagesBack(t *testing.T) {
	lr := &listRefuser{}
	w := newWorld(t, func(s relay.Store) relay.Store { lr.Store = s; return lr })
	ctx := ctxT(t)
	org := w.Home("Organizer")
	if err := org.CreateChannel(ctx, "c", w.Relay.URL, crypto.PolicyHard); err != nil {
		t.Fatal(err)
	}
	w.Join(org, "c", "Bob", crypto.RoleParticipant)
	carol := w.Join(org, "c", "Carol", crypto.RoleParticipant)
	id, err := org.ChannelID("c")
	if err != nil {
		t.Fatal(err)
	}
	count := func() int { return len(channelFrames(t, w.Relay.Store, id)) }
	lr.mu.Lock()
	lr.refuse = true
	lr.mu.Unlock()
	if err := org.Remove(ctx, "c", "Carol"); err == nil {
		t.Fatal("remove with the relay refusing the access list: no error")
	}
	before := count()
	var queued *client.QueuedError
	if err := org.Send(ctx, "c", crypto.Talks, "meant for Bob only"); !errors.As(err, &queued) {
		t.Fatalf("send while the removal waits: %v; want it queued", err)
	}
	if count() != before {
		t.Fatal("a message went out while the removal was still queued")
	}
	lr.mu.Lock()
	lr.refuse = false
	lr.mu.Unlock()
	// The first sync sends the removal (and says the message waits), the
	// next enters the new epoch and sends the message in it.
	for i := 0; ; i++ {
		_, err := org.Sync(ctx, "c")
		if q, _ := org.Queued("c"); q == 0 && err == nil {
			break
		}
		if i == 2 || err != nil && !errors.Is(err, client.ErrStale) {
			t.Fatalf("sync %d: %v", i+1, err)
		}
	}
	for _, l := range texts(t, carol, "c") {
		if strings.Contains(l, "meant for Bob only") {
			t.Fatal("the removed member read the message written while her removal waited")
		}
	}
}
