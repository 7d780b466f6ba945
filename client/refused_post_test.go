package client_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
)

// A post the relay refused was never there to withhold: a reader's
// report made while it waited in the outbox does not make "the relay
// withheld it from Bob". Once a relay takes it, the same check holds it
// to account.
func TestRefusedPostIsNotReportedWithheld(t *testing.T) {
	_, lying, _, alice, bob, _ := adversarySetup(t)
	ctx := ctxT(t)
	refuse := func(on bool) {
		lying.mu.Lock()
		defer lying.mu.Unlock()
		lying.refuseMessages = on
	}
	base := time.Now()
	alice.Now = func() time.Time { return base }
	refuse(true)
	var queued *client.QueuedError
	if err := alice.Send(ctx, "c", crypto.Talks, "my proposal"); !errors.As(err, &queued) {
		t.Fatalf("refused post: %v", err)
	}
	refuse(false)
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
