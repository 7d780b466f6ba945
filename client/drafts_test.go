package client_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"parley/client"
	"parley/crypto"
)

func TestLargeBinaryDraftRoundTrip(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	org.CreateChannel(ctx, "c", w.Relay.URL, crypto.PolicyHard)
	a := w.Join(org, "c", "A", crypto.RoleParticipant)
	id, _ := org.ChannelID("c")
	// The relay learns a draft's size to a power of two of 13000-byte
	// chunks: 1 MiB is 81 chunks, posted as 128 frames.
	frames := map[int]int{0: 1, 1: 1, 13000: 1, 13001: 2, 13000*2 + 1: 4, 1 << 20: 128}
	for _, size := range []int{0, 1, 13000, 13001, 13000*2 + 1, 1 << 20} {
		data := make([]byte, size)
		rand.Read(data)
		before := len(channelFrames(t, w.Relay.Store, id))
		v, err := a.PutDraft(ctx, "c", "annex", data)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if n := len(channelFrames(t, w.Relay.Store, id)) - before; n != frames[size] {
			t.Fatalf("a draft of %d bytes went out as %d frames, want %d", size, n, frames[size])
		}
		if _, err := org.Sync(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		got, err := org.GetDraft("c", "annex", strconv.Itoa(v))
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%d-byte draft came back as %d different bytes", size, len(got))
		}
	}
	list, _ := org.Drafts("c")
	if len(list) != 6 || list[5].Version != 6 || list[5].Author != "A" || list[5].Size != 1<<20 {
		t.Fatalf("draft list: %+v", list)
	}
}

// Draft numbers are the authors': a relay that reorders two versions
// for one member does not change which text "version N" is, and two
// members revising one version at once make a conflict that everyone
// sees, not a silent order.
func TestDraftNumbersAreTheAuthors(t *testing.T) {
	w, lying, org, alice, bob, ch := adversarySetup(t)
	ctx := ctxT(t)
	put := func(c *client.Client, text string) int {
		t.Helper()
		v, err := c.PutDraft(ctx, "c", "declaration", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := put(alice, "Article 1."); v != 1 {
		t.Fatalf("first version numbered %d", v)
	}
	// Versions 2 and 3, delivered to Bob in the wrong order.
	put(alice, "Article 1, amended.")
	put(alice, "Article 1, amended twice.")
	frames := channelFrames(t, w.Relay.Store, ch)
	n := len(frames)
	lying.mu.Lock()
	lying.swap = [2]uint64{frames[n-2].Seq, frames[n-1].Seq}
	lying.mu.Unlock()
	texts(t, bob, "c")
	lying.mu.Lock()
	lying.swap = [2]uint64{}
	lying.mu.Unlock()
	texts(t, org, "c")
	for _, c := range []*client.Client{bob, org} {
		if got, err := c.GetDraft("c", "declaration", "2"); err != nil || string(got) != "Article 1, amended." {
			t.Fatalf("version 2: %q, %v", got, err)
		}
	}
	// Bob revises version 3 while the relay keeps Alice's revision of
	// it from him: two versions 4.
	put(alice, "Alice's article 2.")
	seq, show := lying.hideNewest(t, w, ch)
	_ = seq
	if v := put(bob, "Bob's article 2."); v != 4 {
		t.Fatalf("Bob's version numbered %d", v)
	}
	show()
	got := texts(t, org, "c")
	if lineWith(got, `draft "declaration" has two versions 4`, "a conflict") == "" {
		t.Fatalf("organizer: %q", got)
	}
	list, err := org.Drafts("c")
	if err != nil {
		t.Fatal(err)
	}
	conflicts := 0
	for _, d := range list {
		if d.Version == 4 && d.Conflict {
			conflicts++
		}
	}
	if conflicts != 2 {
		t.Fatalf("list: %+v", list)
	}
	if _, err := org.GetDraft("c", "declaration", "4"); err == nil || !strings.Contains(err.Error(), "names 2 versions") {
		t.Fatalf("ambiguous number: %v", err)
	}
	sum := sha256.Sum256([]byte("Bob's article 2."))
	if got, err := org.GetDraft("c", "declaration", hex.EncodeToString(sum[:4])); err != nil || string(got) != "Bob's article 2." {
		t.Fatalf("by hash prefix: %q, %v", got, err)
	}
	// The next version revises the newest and takes the next number.
	if v := put(org, "Both articles."); v != 5 {
		t.Fatalf("after the conflict: version %d", v)
	}
}
