package client_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
)

// Follow shows every entry the home gains, also those that another
// parley process on the same home fetched first or sent.
func TestFollowShowsWhatAnotherProcessFetched(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	if err := org.CreateChannel(ctx, "c", w.Relay.URL, crypto.PolicyHard); err != nil {
		t.Fatal(err)
	}
	alice := w.Join(org, "c", "Alice", crypto.RoleParticipant)
	// A second process on Alice's home.
	other, err := client.Open(w.Homes[len(w.Homes)-1], passphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	_, mark, err := alice.ReadAfter("c", 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var shown []string
	fctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- alice.Follow(fctx, "c", &mark, func(e client.Entry) {
			mu.Lock()
			shown = append(shown, e.Sender+": "+e.Text)
			mu.Unlock()
		}, nil)
	}()

	want := []string{"Organizer: fetched by the other process", "Alice: sent from another terminal"}
	for i := 0; i < 5; i++ {
		if err := org.Send(ctx, "c", crypto.Talks, "fetched by the other process"); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Sync(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		if err := other.Send(ctx, "c", crypto.Talks, "sent from another terminal"); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := append([]string(nil), shown...)
		mu.Unlock()
		if countLine(got, want[0]) == 5 && countLine(got, want[1]) == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Follow showed %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(shown) != 10 {
		t.Fatalf("Follow showed %d entries, want 10 (nothing twice): %q", len(shown), shown)
	}
}

// A home that leaves a channel it follows ends the follow. The push of
// its own leave message usually wakes the follow after the erase; under
// load it can come before, and then only the erase's own signal
// (Client.erased) ends the follow (TestExportAndLeave in app/ hung that
// way once on a loaded machine).
func TestFollowEndsWhenThisHomeLeaves(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	if err := org.CreateChannel(ctx, "c", w.Relay.URL, crypto.PolicyHard); err != nil {
		t.Fatal(err)
	}
	alice := w.Join(org, "c", "Alice", crypto.RoleParticipant)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mark int64
	connected := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- alice.Follow(fctx, "c", &mark, func(client.Entry) {}, func(s string) {
			if s == "connected" {
				select {
				case connected <- struct{}{}:
				default:
				}
			}
		})
	}()
	<-connected
	if err := alice.Leave(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, client.ErrNoChannel) {
			t.Fatalf("follow ended with %v", err)
		}
	case <-time.After(30 * time.Second): // a bound, not an expectation
		t.Fatal("the follow of a channel this home left goes on")
	}
}
