package client_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
	"parley/internal/wire"
	"parley/relay"
)

// quotaStore refuses message posts while full is set, as an honest
// relay whose channel quota is full does.
type quotaStore struct {
	relay.Store
	mu   sync.Mutex
	full bool
}

func (s *quotaStore) Append(ctx context.Context, frames []relay.NewFrame) ([]wire.Stored, error) {
	s.mu.Lock()
	full := s.full
	s.mu.Unlock()
	for _, f := range frames {
		if full && f.Kind == wire.KindMessage {
			return nil, relay.ErrQuota
		}
	}
	return s.Store.Append(ctx, frames)
}

func (s *quotaStore) set(full bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.full = full
}

// A post the relay refused was never there to withhold: a reader's
// report made while it waited in the outbox does not make "the relay
// withheld it from Bob". Once a relay takes it, the same check holds it
// to account.
func TestRefusedPostIsNotReportedWithheld(t *testing.T) {
	qs := &quotaStore{}
	w := newWorld(t, func(s relay.Store) relay.Store { qs.Store = s; return qs })
	org := w.Home("Organizer")
	ctx := ctxT(t)
	if err := org.CreateChannel(ctx, "c", w.Relay.URL, crypto.PolicyHard); err != nil {
		t.Fatal(err)
	}
	alice := w.Join(org, "c", "Alice", crypto.RoleParticipant)
	bob := w.Join(org, "c", "Bob", crypto.RoleParticipant)
	texts(t, alice, "c")
	base := time.Now()
	alice.Now = func() time.Time { return base }
	qs.set(true)
	var queued *client.QueuedError
	if err := alice.Send(ctx, "c", crypto.Talks, "my proposal"); !errors.As(err, &queued) {
		t.Fatalf("refused post: %v", err)
	}
	qs.set(false)
	bob.Now = func() time.Time { return base.Add(30 * time.Minute) }
	if err := bob.Send(ctx, "c", crypto.Talks, "anything new?"); err != nil {
		t.Fatal(err)
	}
	alice.Now = func() time.Time { return base.Add(time.Hour) }
	for _, l := range texts(t, alice, "c") {
		if strings.Contains(l, "had not reached Bob") {
			t.Fatalf("false alarm: %q (the message was refused, never at the relay)", l)
		}
	}
	if q, _ := alice.Queued("c"); q != 0 {
		t.Fatalf("%d items still queued after the relay took them", q)
	}
}
