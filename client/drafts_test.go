package client_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"parley/crypto"
)

func TestLargeBinaryDraftRoundTrip(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	org.CreateChannel(ctx, "c", w.Relay.URL, crypto.PolicyHard)
	a := w.Join(org, "c", "A", crypto.RoleParticipant)
	for _, size := range []int{0, 1, 15000, 15001, 1 << 20} {
		data := make([]byte, size)
		rand.Read(data)
		v, err := a.PutDraft(ctx, "c", "annex", data)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if _, err := org.Sync(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		got, err := org.GetDraft("c", "annex", v)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%d-byte draft came back as %d different bytes", size, len(got))
		}
	}
	list, _ := org.Drafts("c")
	if len(list) != 5 || list[4].Version != 5 || list[4].Author != "A" || list[4].Size != 1<<20 {
		t.Fatalf("draft list: %+v", list)
	}
}
