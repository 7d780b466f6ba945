package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
	"parley/internal/parleytest"
	"parley/internal/wire"
)

// lineWith returns the first line of list containing every part, or "".
func lineWith(list []string, parts ...string) string {
	for _, l := range list {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return l
		}
	}
	return ""
}

// hasReason reports whether c's transcript of channel holds a system
// entry with reason r, flagged as an alarm when r is one.
func hasReason(t *testing.T, c *client.Client, r client.Reason) bool {
	t.Helper()
	entries, err := c.Read("c")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Kind == client.KindSystem && e.Reason == r && e.Alarm == r.Alarm() {
			return true
		}
	}
	return false
}

// hideNewest hides the newest frame of ch from whoever fetches until the
// returned function is called.
func (s *lyingStore) hideNewest(t *testing.T, w *world, ch crypto.ChannelID) (seq uint64, show func()) {
	frames := channelFrames(t, w.Relay.Store, ch)
	seq = frames[len(frames)-1].Seq
	s.mu.Lock()
	s.hide[seq] = true
	s.mu.Unlock()
	return seq, func() {
		s.mu.Lock()
		delete(s.hide, seq)
		s.mu.Unlock()
	}
}

func (s *lyingStore) hideAgain(seq uint64) {
	s.mu.Lock()
	s.hide[seq] = true
	s.mu.Unlock()
}

// The relay keeps one of Alice's messages from Bob only (it is hidden
// whenever Bob fetches). Bob learns it from the next message of anyone
// who got it; Alice learns it from Bob's next message, once Bob's sync
// came well after hers.
func TestWithheldFromOneMemberIsReported(t *testing.T) {
	w, lying, org, alice, bob, ch := adversarySetup(t)
	ctx := ctxT(t)
	if err := alice.Send(ctx, "c", crypto.Talks, "for everyone"); err != nil {
		t.Fatal(err)
	}
	seq, show := lying.hideNewest(t, w, ch)
	texts(t, bob, "c")
	show()
	if err := org.Send(ctx, "c", crypto.Talks, "noted"); err != nil { // the organizer got Alice's message
		t.Fatal(err)
	}
	lying.hideAgain(seq)
	got := texts(t, bob, "c")
	if contains(got, "Alice: for everyone") || lineWith(got, "1 message from Alice never reached this home", "Organizer had them", "the relay withheld") == "" {
		t.Fatalf("Bob, after the organizer's message: %q", got)
	}
	// Bob speaks three minutes later; his report says he never opened
	// Alice's message, and Alice is told.
	later := time.Now().Add(3 * time.Minute)
	bob.Now = func() time.Time { return later }
	alice.Now = func() time.Time { return later }
	if err := bob.Send(ctx, "c", crypto.Talks, "anything new?"); err != nil {
		t.Fatal(err)
	}
	got = texts(t, alice, "c")
	if lineWith(got, "1 message of yours", "had not reached Bob", "the relay withheld them from Bob") == "" {
		t.Fatalf("Alice, after Bob's message: %q", got)
	}
	if !hasReason(t, bob, client.ReasonWithheld) || !hasReason(t, alice, client.ReasonWithheldFromPeer) || !client.ReasonWithheld.Alarm() {
		t.Fatal("the reports carry no withheld reason, or it is not an alarm")
	}
	// Said once, not at every message of Bob's.
	bob.Send(ctx, "c", crypto.Talks, "hello?")
	if n := strings.Count(strings.Join(texts(t, alice, "c"), "\n"), "had not reached Bob"); n != 1 {
		t.Fatalf("Alice told %d times", n)
	}
	// When the relay lets the message through, it still opens.
	show()
	got = texts(t, bob, "c")
	if !contains(got, "Alice: for everyone") || !contains(got, "* a late message from Alice fills an earlier gap") {
		t.Fatalf("Bob, once the relay relents: %q", got)
	}
}

// Alice's last message before a rekey is kept from Bob; the new epoch
// closes her old chain, so the drop is not forgotten.
func TestWithheldBeforeRekeyIsReported(t *testing.T) {
	w, lying, org, alice, bob, ch := adversarySetup(t)
	ctx := ctxT(t)
	if err := alice.Send(ctx, "c", crypto.Talks, "last words of the epoch"); err != nil {
		t.Fatal(err)
	}
	_, _ = lying.hideNewest(t, w, ch)
	texts(t, bob, "c")
	// The organizer starts a new epoch (a removal), then Alice writes in it.
	carol := w.Join(org, "c", "Carol", crypto.RoleParticipant)
	_ = carol
	if err := org.Remove(ctx, "c", "Carol"); err != nil {
		t.Fatal(err)
	}
	if err := alice.Send(ctx, "c", crypto.Talks, "first words of the next"); err != nil {
		t.Fatal(err)
	}
	got := texts(t, bob, "c")
	if !contains(got, "Alice: first words of the next") || lineWith(got, "1 message from Alice in epoch", "never reached this home", "its sender says it sent them") == "" {
		t.Fatalf("Bob: %q", got)
	}
}

// A copy of Alice's home made earlier is put back. Its first sync finds
// her own later messages at the relay: it says so, and its next message
// does not reuse their counters (Bob reads it, no replay).
func TestRestoredHomeIsDetected(t *testing.T) {
	w, _, _, alice, bob, _ := adversarySetup(t)
	ctx := ctxT(t)
	dir := w.Dir(alice)
	backup := filepath.Join(t.TempDir(), "backup")
	alice.Close()
	if err := os.CopyFS(backup, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	alice = reopen(t, dir)
	for _, m := range []string{"after the backup", "and more"} {
		if err := alice.Send(ctx, "c", crypto.Talks, m); err != nil {
			t.Fatal(err)
		}
	}
	alice.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dir, os.DirFS(backup)); err != nil {
		t.Fatal(err)
	}
	alice = reopen(t, dir)
	if err := alice.Send(ctx, "c", crypto.Talks, "from the restored copy"); err != nil {
		t.Fatal(err)
	}
	if got := texts(t, alice, "c"); lineWith(got, "ALERT", "restored from an older copy") == "" || !hasReason(t, alice, client.ReasonRestored) {
		t.Fatalf("restored Alice: %q", got)
	}
	got := texts(t, bob, "c")
	if !contains(got, "Alice: from the restored copy") || lineWith(got, "replayed") != "" {
		t.Fatalf("Bob: %q", got)
	}
}

func reopen(t *testing.T, dir string) *client.Client {
	c, err := client.Open(dir, parleytest.Passphrase)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Bob's newest roster is older than the hard policy allows (no organizer
// synced, or the relay withholds the new epoch): his talks messages
// pause with a reason, his briefings do not.
func TestTalksPauseWithoutFreshEpoch(t *testing.T) {
	_, _, _, _, bob, _ := adversarySetup(t)
	ctx := ctxT(t)
	later := time.Now().Add(client.StaleAfter(crypto.PolicyHard) + time.Hour)
	bob.Now = func() time.Time { return later }
	err := bob.Send(ctx, "c", crypto.Talks, "are we still on?")
	if !errors.Is(err, client.ErrStale) || !strings.Contains(err.Error(), "an organizer (Organizer) running parley sync starts one") {
		t.Fatalf("stale talks send: %v", err)
	}
	if n, _ := bob.Queued("c"); n != 0 {
		t.Fatalf("%d items queued after a refusal", n)
	}
	if err := bob.Send(ctx, "c", crypto.Briefings, "the organizer is away"); err != nil {
		t.Fatalf("briefing: %v", err)
	}
	if lineWith(texts(t, bob, "c"), "no new epoch for", "the talks pause for this home at 36h") == "" {
		t.Fatal("no warning before the pause")
	}
}

// The relay withholds a new epoch's bundle from Bob while Alice writes
// in it: Bob's talks pause, with the reason, until the bundle arrives.
func TestWithheldEpochPausesTalks(t *testing.T) {
	w, lying, org, alice, bob, ch := adversarySetup(t)
	ctx := ctxT(t)
	carol := w.Join(org, "c", "Carol", crypto.RoleParticipant)
	texts(t, bob, "c")
	_ = carol
	if err := org.Remove(ctx, "c", "Carol"); err != nil {
		t.Fatal(err)
	}
	var bundle uint64
	for _, f := range channelFrames(t, w.Relay.Store, ch) {
		if f.Kind == wire.KindBundle {
			bundle = f.Seq
		}
	}
	texts(t, alice, "c") // Alice has the new epoch; from now on Bob is denied it
	lying.hideAgain(bundle)
	if err := alice.Send(ctx, "c", crypto.Talks, "in the new epoch"); err != nil {
		t.Fatal(err)
	}
	got := texts(t, bob, "c")
	if lineWith(got, "has not received that epoch", "withholding") == "" || contains(got, "Alice: in the new epoch") || !hasReason(t, bob, client.ReasonEpochWithheld) {
		t.Fatalf("Bob: %q", got)
	}
	if err := bob.Send(ctx, "c", crypto.Talks, "old epoch words"); !errors.Is(err, client.ErrStale) || !strings.Contains(err.Error(), "messages of epoch") {
		t.Fatalf("send without the new epoch: %v", err)
	}
	// Nor a briefing: the epoch Bob holds is the one Carol holds too.
	before := len(channelFrames(t, w.Relay.Store, ch))
	if err := bob.Send(ctx, "c", crypto.Briefings, "old epoch briefing"); !errors.Is(err, client.ErrStale) {
		t.Fatalf("briefing without the new epoch: %v", err)
	}
	if after := len(channelFrames(t, w.Relay.Store, ch)); after != before {
		t.Fatalf("%d frames posted in the superseded epoch", after-before)
	}
	// The relay lets the bundle through: Bob's next sync asks for it
	// again, enters the epoch, reads Alice and may speak.
	lying.mu.Lock()
	delete(lying.hide, bundle)
	lying.mu.Unlock()
	if err := bob.Send(ctx, "c", crypto.Talks, "back in step"); err != nil {
		t.Fatalf("send once the epoch arrived: %v", err)
	}
	got = texts(t, bob, "c")
	if !contains(got, "* Carol is no longer a member") || !contains(got, "Alice: in the new epoch") {
		t.Fatalf("Bob, once the relay relents: %q", got)
	}
}

// A talks message queued while the relay was down, which its epoch has
// grown too old to send by the time the relay is back, waits; a briefing
// queued after it still goes, so the member can say it is stuck.
func TestStaleTalksDoNotBlockBriefings(t *testing.T) {
	w, _, org, _, bob, _ := adversarySetup(t)
	ctx := ctxT(t)
	addr := w.Relay.Addr.String()
	w.StopRelay()
	var qe *client.QueuedError
	if err := bob.Send(ctx, "c", crypto.Talks, "my position on article 2"); !errors.As(err, &qe) {
		t.Fatalf("send with the relay down: %v", err)
	}
	w.StartRelay(addr)
	later := time.Now().Add(client.StaleAfter(crypto.PolicyHard) + time.Hour)
	bob.Now = func() time.Time { return later }
	if err := bob.Send(ctx, "c", crypto.Briefings, "I cannot post in the talks"); err != nil {
		t.Fatalf("briefing behind a waiting talks message: %v", err)
	}
	if !contains(texts(t, org, "c"), "Bob: I cannot post in the talks") {
		t.Fatal("the briefing did not arrive")
	}
	if n, _ := bob.Queued("c"); n != 1 {
		t.Fatalf("%d items queued, want the talks message", n)
	}
	if contains(texts(t, org, "c"), "Bob: my position on article 2") {
		t.Fatal("a talks message left in a stale epoch")
	}
}
