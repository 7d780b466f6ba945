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

// gateStore is a relay store that can refuse messages (as a full disk
// or a quota does) or store one and then withhold the answer (as a
// relay that dies, or a network that drops, between commit and ack).
type gateStore struct {
	relay.Store
	mu      sync.Mutex
	refuse  bool
	hold    bool
	release chan struct{}
}

func (s *gateStore) set(f func(*gateStore)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *gateStore) Append(ctx context.Context, frames []relay.NewFrame) ([]wire.Stored, error) {
	s.mu.Lock()
	refuse, hold, release := s.refuse, s.hold, s.release
	s.mu.Unlock()
	if frames[0].Kind != wire.KindMessage {
		return s.Store.Append(ctx, frames)
	}
	if refuse {
		return nil, errors.New("database or disk is full")
	}
	stored, err := s.Store.Append(ctx, frames)
	if hold {
		<-release
	}
	return stored, err
}

func gateSetup(t *testing.T) (*gateStore, *client.Client, *client.Client) {
	gate := &gateStore{release: make(chan struct{})}
	w := newWorld(t, func(s relay.Store) relay.Store { gate.Store = s; return gate })
	org := w.Home("Organizer")
	if err := org.CreateChannel(ctxT(t), "c", w.Relay.URL, crypto.PolicyHard); err != nil {
		t.Fatal(err)
	}
	alice := w.Join(org, "c", "Alice", crypto.RoleParticipant)
	return gate, org, alice
}

func queuedCount(t *testing.T, c *client.Client) int {
	t.Helper()
	items, err := c.Outbox("c")
	if err != nil {
		t.Fatal(err)
	}
	return len(items)
}

func countLine(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// A message behind an older item the relay refused is queued, and send
// says so; nothing is lost and nothing arrives twice once the relay
// takes them.
func TestSendBehindRefusedItemIsQueued(t *testing.T) {
	gate, org, alice := gateSetup(t)
	ctx := ctxT(t)
	gate.set(func(g *gateStore) { g.refuse = true })

	var qe *client.QueuedError
	err := alice.Send(ctx, "c", crypto.Talks, "first")
	if !errors.As(err, &qe) || qe.Maybe || qe.Behind || !strings.HasPrefix(err.Error(), "queued: not sent yet") {
		t.Fatalf("a refused send returned %v", err)
	}
	err = alice.Send(ctx, "c", crypto.Talks, "second")
	if !errors.As(err, &qe) || !qe.Behind || !strings.HasPrefix(err.Error(), "queued: not sent yet") {
		t.Fatalf("a send behind a refused item returned %v", err)
	}
	if n := queuedCount(t, alice); n != 2 {
		t.Fatalf("%d items queued, want 2", n)
	}

	gate.set(func(g *gateStore) { g.refuse = false })
	if _, err := alice.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if n := queuedCount(t, alice); n != 0 {
		t.Fatalf("%d items still queued after the relay took them", n)
	}
	got := texts(t, org, "c")
	if countLine(got, "Alice: first") != 1 || countLine(got, "Alice: second") != 1 {
		t.Fatalf("the organizer has %q", got)
	}
}

// A message the relay stored but never acknowledged is reported as
// possibly sent, stays queued, and is not sent a second time.
func TestSendWithoutAnswerIsNotDuplicated(t *testing.T) {
	gate, org, alice := gateSetup(t)
	gate.set(func(g *gateStore) { g.hold = true })

	short, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	err := alice.Send(short, "c", crypto.Talks, "held at the relay")
	cancel()
	var qe *client.QueuedError
	if !errors.As(err, &qe) || !qe.Maybe || !strings.Contains(err.Error(), "may have the message") {
		t.Fatalf("a send with no answer returned %v", err)
	}
	gate.set(func(g *gateStore) { g.hold = false; close(g.release) })

	ctx := ctxT(t)
	if _, err := alice.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if n := queuedCount(t, alice); n != 0 {
		t.Fatalf("%d items still queued", n)
	}
	for who, c := range map[string]*client.Client{"organizer": org, "Alice": alice} {
		if got := texts(t, c, "c"); countLine(got, "Alice: held at the relay") != 1 {
			t.Fatalf("the %s has %q", who, got)
		}
	}
}

// Running a failed send again sends the queued message, not a copy; a
// queued message can be taken back.
func TestSendRetryAndDrop(t *testing.T) {
	gate, org, alice := gateSetup(t)
	ctx := ctxT(t)
	gate.set(func(g *gateStore) { g.refuse = true })
	for i := 0; i < 3; i++ {
		var qe *client.QueuedError
		err := alice.Send(ctx, "c", crypto.Talks, "retried")
		if !errors.As(err, &qe) || qe.Merged != (i > 0) || (i > 0 && !strings.HasPrefix(err.Error(), "the same text was already queued")) {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	var qe *client.QueuedError
	if err := alice.Send(ctx, "c", crypto.Briefings, "taken back"); !errors.As(err, &qe) {
		t.Fatal(err)
	}
	items, err := alice.Outbox("")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Text != "retried" || items[0].Kind != client.KindMessage ||
		items[1].Text != "taken back" || items[1].Kind != client.KindBriefing || !items[1].Droppable {
		t.Fatalf("outbox: %+v", items)
	}
	// The first was tried (the relay refused it), so the relay could
	// have it: it cannot be taken back. The second was never tried.
	if items[0].Droppable {
		t.Fatal("a message a send tried to post is listed as droppable")
	}
	if err := alice.DropQueued("c", items[0].ID); err == nil || !strings.Contains(err.Error(), "cannot be taken back") {
		t.Fatalf("dropping a tried message: %v", err)
	}
	if err := alice.DropQueued("c", items[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := alice.DropQueued("c", items[1].ID); !errors.Is(err, client.ErrNotQueued) {
		t.Fatalf("dropping it twice: %v", err)
	}

	gate.set(func(g *gateStore) { g.refuse = false })
	var once *client.SentOnceNotice
	if err := alice.Send(ctx, "c", crypto.Talks, "retried"); !errors.As(err, &once) {
		t.Fatalf("the retry that went out: %v", err)
	}
	got := texts(t, org, "c")
	if countLine(got, "Alice: retried") != 1 || contains(got, "Alice: taken back") {
		t.Fatalf("the organizer has %q", got)
	}
}
