package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
)

// libHome is a home driven through the client library (whose clock a
// test can move), against real relay processes.
func libHome(t *testing.T, name string) *client.Client {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "home")
	if err := client.Init(dir, name, "pw"); err != nil {
		t.Fatal(err)
	}
	c, err := client.Open(dir, "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// libChannel makes channel "c" on relays with org as its organizer and
// the others admitted as participants and synced; the context bounds
// the test.
func libChannel(t *testing.T, relays []string, org *client.Client, others ...*client.Client) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute) // a bound, not an expectation
	t.Cleanup(cancel)
	if err := org.CreateChannel(ctx, "c", relays[0], crypto.PolicyHard, relays[1:]...); err != nil {
		t.Fatal(err)
	}
	for _, h := range others {
		code, err := org.Invite(ctx, "c", crypto.RoleParticipant, time.Hour, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Join(ctx, code, "c"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := org.Admit(ctx, "c", nil, true); err != nil {
		t.Fatal(err)
	}
	for _, h := range others {
		if rep, err := h.Sync(ctx, "c"); err != nil || rep.Pending {
			t.Fatalf("sync after admission: %+v %v", rep, err)
		}
	}
	return ctx
}

// messages returns a home's transcript after a sync: its message lines,
// in order, and its system entries.
func messages(t *testing.T, ctx context.Context, c *client.Client) (said []string, system []client.Entry) {
	t.Helper()
	if _, err := c.Sync(ctx, "c"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	entries, err := c.Read("c")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Kind == client.KindSystem {
			system = append(system, e)
			continue
		}
		said = append(said, e.Sender+": "+e.Text)
	}
	return said, system
}

// A channel on three relay processes: one killed with kill -9 in the
// middle of the talks, one that comes back empty, one whose operator
// hides every message of Alice from Bob. Every member still gets every
// message exactly once, in the same order, and Bob is told which relay
// withheld.
func TestThreeRelays(t *testing.T) {
	t.Setenv("PARLEY_SCRYPT_LOGN", "10")
	r1, r2 := startRelay(t), startRelay(t)
	r3 := startHostile(t)
	org, alice, bob := libHome(t, "Convener"), libHome(t, "Alice"), libHome(t, "Bob")
	ctx := libChannel(t, []string{r1.url, r2.url, r3.url}, org, alice, bob)
	keyOf := func(h *client.Client) string {
		if _, err := h.Sync(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		return lastLine(t, r3.callers) // relay 3 is synced last
	}
	r3.set(relayRules{Hide: []hideRule{{Reader: keyOf(bob), Sender: keyOf(alice)}}})
	say := func(h *client.Client, text string) {
		t.Helper()
		if err := h.Send(ctx, "c", crypto.Talks, text); err != nil {
			t.Fatalf("send %q: %v", text, err)
		}
	}

	say(alice, "one")
	r1.kill() // kill -9, mid-conversation
	say(alice, "two")
	say(org, "three")

	// Relay 2 comes back empty (its disk lost, its certificate kept):
	// the organizer's next sync gives it the channel again.
	r2.kill()
	for _, f := range []string{"relay.db", "relay.db-wal", "relay.db-shm"} {
		os.Remove(filepath.Join(r2.dir, f))
	}
	r2.start()
	if _, err := bob.Sync(ctx, "c"); err != nil { // sees relay 2 without the channel; the others serve
		t.Fatal(err)
	}
	_, orgSystem := messages(t, ctx, org)
	if !slices.ContainsFunc(orgSystem, func(e client.Entry) bool { return e.Reason == client.ReasonRelayRestored }) {
		t.Fatalf("the organizer did not restore the empty relay: %+v", orgSystem)
	}
	say(alice, "four")
	say(bob, "five")

	r1.start() // back, with what it had
	want := []string{"Alice: one", "Alice: two", "Convener: three", "Alice: four", "Bob: five"}
	var got [3][]string
	for round := 0; round < 2; round++ { // the second round takes in the copies the first sent
		for i, h := range []*client.Client{org, alice, bob} {
			got[i], _ = messages(t, ctx, h)
		}
	}
	for i, who := range []string{"Convener", "Alice", "Bob"} {
		if !slices.Equal(got[i], want) {
			t.Errorf("%s's transcript: %q, want %q", who, got[i], want)
		}
	}
	for _, h := range []*client.Client{org, alice} {
		info, err := h.Relays("c")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range info {
			if !r.Reachable || r.ToCopy != 0 {
				t.Errorf("relay %d after every relay came back: %+v", r.ID, r)
			}
		}
	}

	// Ten minutes on, relay 3 still lacks Alice's messages for Bob: it
	// is named.
	later := time.Now().Add(11 * time.Minute)
	bob.Now = func() time.Time { return later }
	_, bobSystem := messages(t, ctx, bob)
	i := slices.IndexFunc(bobSystem, func(e client.Entry) bool { return e.Reason == client.ReasonRelayWithheld })
	if i < 0 || !strings.Contains(bobSystem[i].Text, "relay 3 (") || !bobSystem[i].Alarm {
		info, _ := bob.Relays("c")
		t.Fatalf("Bob was not told relay 3 withheld: %+v\nrelays: %+v", bobSystem, info)
	}
	info, _ := bob.Relays("c")
	if info[2].Withheld == 0 || info[0].Withheld != 0 {
		t.Fatalf("Bob's relays: %+v", info)
	}
	for _, r := range info[:2] {
		if r.Withheld != 0 {
			t.Errorf("an honest relay named: %+v", r)
		}
	}

	// Nothing in one relay's files names another: the list is only in
	// the sealed roster.
	hostPort := func(url string) string { return strings.SplitN(strings.TrimPrefix(url, "wss://"), "/", 2)[0] }
	for dir, own := range map[string]string{r1.dir: r1.url, r2.dir: r2.url} {
		filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			data, _ := os.ReadFile(path)
			for _, other := range []string{r1.url, r2.url, r3.url} {
				if other != own && strings.Contains(string(data), hostPort(other)) {
					t.Errorf("%s names another relay (%s)", path, hostPort(other))
				}
			}
			return nil
		})
	}
}

// The Protocol v2 attack "removed member keeps reading", with one
// hostile relay among three: the relay keeps the epoch that removes
// Carol from Bob. With one relay Bob's talks pause (reported); here Bob
// takes the epoch from an honest relay, his talks go on, sealed to the
// roster without Carol.
func TestThreeRelaysSurviveAWithheldEpoch(t *testing.T) {
	t.Setenv("PARLEY_SCRYPT_LOGN", "10")
	r1, r2 := startRelay(t), startRelay(t)
	r3 := startHostile(t)
	org, bob, carol := libHome(t, "Convener"), libHome(t, "Bob"), libHome(t, "Carol")
	ctx := libChannel(t, []string{r1.url, r2.url, r3.url}, org, carol, bob) // Bob syncs last
	bobKey := lastLine(t, r3.callers)
	if err := org.Remove(ctx, "c", "Carol"); err != nil {
		t.Fatal(err)
	}
	r3.set(relayRules{Hide: []hideRule{{Reader: bobKey, Seqs: []uint64{r3.lastBundle()}}}})
	if err := bob.Send(ctx, "c", crypto.Talks, "after Carol left"); err != nil {
		t.Fatalf("Bob's talks with the epoch withheld by one relay of three: %v", err)
	}
	said, system := messages(t, ctx, bob)
	if !slices.Contains(said, "Bob: after Carol left") {
		t.Fatalf("Bob: %q", said)
	}
	for _, e := range system {
		if e.Reason == client.ReasonEpochWithheld || e.Reason == client.ReasonStaleEpoch {
			t.Fatalf("Bob was held back: %+v", e)
		}
	}
	if got, _ := messages(t, ctx, org); !slices.Contains(got, "Bob: after Carol left") {
		t.Fatalf("the organizer: %q", got)
	}
	if got, _ := messages(t, ctx, carol); slices.Contains(got, "Bob: after Carol left") {
		t.Fatal("Carol, removed, read what Bob sent after")
	}
	// And relay 3 did hold the epoch back: ten minutes on, it is named.
	later := time.Now().Add(11 * time.Minute)
	bob.Now = func() time.Time { return later }
	messages(t, ctx, bob)
	if info, _ := bob.Relays("c"); info[2].Withheld == 0 || info[0].Withheld+info[1].Withheld != 0 {
		t.Fatalf("Bob's relays: %+v", info)
	}
}

// A relay that hangs (its process stopped: connections are accepted by
// the system and never answered) does not hold up the talks: once
// another relay answers, a sync waits a few seconds more for it, then
// goes on, and says why.
func TestHungRelayDoesNotHoldSends(t *testing.T) {
	t.Setenv("PARLEY_SCRYPT_LOGN", "10")
	r1, r2 := startRelay(t), startRelay(t)
	org, alice := libHome(t, "Convener"), libHome(t, "Alice")
	ctx := libChannel(t, []string{r1.url, r2.url}, org, alice)
	r2.cmd.Process.Signal(syscall.SIGSTOP)
	defer r2.cmd.Process.Signal(syscall.SIGCONT)
	if err := alice.Send(ctx, "c", crypto.Talks, "while relay 2 hangs"); err != nil {
		t.Fatalf("send with one relay hanging: %v", err)
	}
	info, _ := alice.Relays("c")
	if info[1].Reachable || !strings.Contains(info[1].Error, "no answer in time") || info[1].ToCopy != 1 {
		t.Fatalf("relay 2 while it hangs: %+v", info[1])
	}
	if got, _ := messages(t, ctx, org); !slices.Contains(got, "Alice: while relay 2 hangs") {
		t.Fatalf("the organizer: %q", got)
	}
	r2.cmd.Process.Signal(syscall.SIGCONT)
	if _, err := alice.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if info, _ := alice.Relays("c"); !info[1].Reachable || info[1].ToCopy != 0 {
		t.Fatalf("relay 2 once it answers again: %+v", info[1])
	}
}

// When every relay holds back an epoch, a member is told once, after all
// relays were fetched (not at the first relay, which is often just a
// little behind another), and its talks wait.
func TestAllRelaysWithholdAnEpoch(t *testing.T) {
	t.Setenv("PARLEY_SCRYPT_LOGN", "10")
	r1, r2 := startHostile(t), startHostile(t)
	org, bob, carol := libHome(t, "Convener"), libHome(t, "Bob"), libHome(t, "Carol")
	ctx := libChannel(t, []string{r1.url, r2.url}, org, carol, bob) // Bob syncs last
	bobAt := []string{lastLine(t, r1.callers), lastLine(t, r2.callers)}
	if err := org.Remove(ctx, "c", "Carol"); err != nil {
		t.Fatal(err)
	}
	r1.set(relayRules{Hide: []hideRule{{Reader: bobAt[0], Seqs: []uint64{r1.lastBundle()}}}})
	r2.set(relayRules{Hide: []hideRule{{Reader: bobAt[1], Seqs: []uint64{r2.lastBundle()}}}})
	if err := org.Send(ctx, "c", crypto.Talks, "in the new epoch"); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		_, system := messages(t, ctx, bob)
		n := 0
		for _, e := range system {
			if e.Reason == client.ReasonEpochWithheld {
				n++
			}
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("Bob was told %d times that the epoch is held back, want once", n)
	}
	if n := count(); n != 1 {
		t.Fatalf("after a second sync, %d lines", n)
	}
	if err := bob.Send(ctx, "c", crypto.Talks, "sealed to the old roster?"); err == nil {
		t.Fatal("Bob's talks went out while every relay held back the epoch that removed Carol")
	}
}
