package client_test

import (
	"testing"

	"parley/crypto"
)

// Messages a member never received (expired at the relay while the
// member was away, or withheld) are counted in its transcript, not
// passed over in silence.
func TestMissingMessagesAreCounted(t *testing.T) {
	w, lying, _, alice, bob, ch := adversarySetup(t)
	ctx := ctxT(t)
	texts(t, bob, "c")
	for _, s := range []string{"one", "two", "three"} {
		if err := alice.Send(ctx, "c", crypto.Talks, s); err != nil {
			t.Fatal(err)
		}
	}
	frames := channelFrames(t, w.Relay.Store, ch)
	lying.mu.Lock()
	for _, f := range frames[len(frames)-3:] {
		lying.hide[f.Seq] = true
	}
	lying.mu.Unlock()
	if err := alice.Send(ctx, "c", crypto.Talks, "four"); err != nil {
		t.Fatal(err)
	}
	got := texts(t, bob, "c")
	want := "* 3 messages were missing before this home fetched them: they expired at the relay (it keeps messages 3d), or the relay withheld them; this home asks for them again at every sync"
	if !contains(got, want) || !contains(got, "Alice: four") || contains(got, "Alice: one") {
		t.Fatalf("Bob's transcript: %q", got)
	}
}
