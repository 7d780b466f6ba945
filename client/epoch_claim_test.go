package client_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"parley/client"
	"parley/crypto"
	"parley/internal/wire"
	"parley/relay"
)

// One frame whose clear header claims an epoch far ahead (the relay made
// it; an honest relay refuses such a post from a member) is rejected as
// made up, not kept as a sign that an epoch is withheld: the talks go on,
// before and after the next real epoch.
func TestMadeUpFarEpochDoesNotPauseTalks(t *testing.T) {
	w, _, org, alice, bob, ch := adversarySetup(t)
	ctx := ctxT(t)
	if err := alice.Send(ctx, "c", crypto.Talks, "hello"); err != nil {
		t.Fatal(err)
	}
	frames := channelFrames(t, w.Relay.Store, ch)
	env := append([]byte(nil), frames[len(frames)-1].Payload...)
	binary.BigEndian.PutUint64(env[1:9], 1<<62)
	if _, err := w.Relay.Store.Append(ctx, []relay.NewFrame{{Channel: ch, Kind: wire.KindMessage, Payload: env}}); err != nil {
		t.Fatal(err)
	}
	got := texts(t, bob, "c")
	if !slicesContainSub(got, "claims epoch 4611686018427387904") {
		t.Fatalf("no line about the made-up epoch: %q", got)
	}
	if err := bob.Send(ctx, "c", crypto.Talks, "still talking"); err != nil {
		t.Fatalf("talks after one made-up header: %v", err)
	}
	w.Join(org, "c", "Carol", crypto.RoleParticipant)
	if err := org.Remove(ctx, "c", "Carol"); err != nil {
		t.Fatal(err)
	}
	if got := texts(t, bob, "c"); !contains(got, "* Carol is no longer a member") {
		t.Fatalf("Bob did not get the real epoch: %q", got)
	}
	if err := bob.Send(ctx, "c", crypto.Talks, "in the new epoch"); err != nil {
		t.Fatalf("talks after the real epoch: %v", err)
	}
	var alarms int
	all, _ := bob.Read("c")
	for _, e := range all {
		if e.Reason == client.ReasonForged && strings.Contains(e.Text, "claims epoch") {
			alarms++
		}
	}
	if alarms != 1 {
		t.Fatalf("%d lines about the made-up epoch, want 1", alarms)
	}
}

func slicesContainSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// A relay that numbers a frame far past the last one is not followed
// there: the frame is not taken, the sync says why, and once the relay
// numbers its frames as before, the home reads on from where it was.
func TestFarSequenceJumpNotTaken(t *testing.T) {
	_, lying, _, alice, bob, _ := adversarySetup(t)
	ctx := ctxT(t)
	texts(t, bob, "c")
	if err := alice.Send(ctx, "c", crypto.Talks, "after the jump"); err != nil {
		t.Fatal(err)
	}
	lying.mu.Lock()
	lying.renumber = 1 << 62
	lying.mu.Unlock()
	if _, err := bob.Sync(ctx, "c"); err == nil || !strings.Contains(err.Error(), "numbers never jump that far") {
		t.Fatalf("sync with a frame numbered 2^62 past the last: %v", err)
	}
	lying.mu.Lock()
	lying.renumber = 0
	lying.mu.Unlock()
	if err := alice.Send(ctx, "c", crypto.Talks, "and later"); err != nil {
		t.Fatal(err)
	}
	if got := texts(t, bob, "c"); !contains(got, "Alice: after the jump") || !contains(got, "Alice: and later") {
		t.Fatalf("Bob, once the relay numbers frames as before: %q", got)
	}
}
