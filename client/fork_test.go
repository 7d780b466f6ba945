package client

import (
	"strings"
	"testing"
	"time"

	"parley/crypto"
	"parley/internal/wire"
	"parley/relay"
)

// TestForkReported: a relay that serves a second, different roster of a
// version a member already holds (two organizers' concurrent changes, or
// an organizer key in the wrong hands) is reported as a fork and the
// member keeps the roster it has.
func TestForkReported(t *testing.T) {
	ctx, r, org, alice := twoHomes(t)
	// A second roster of the current version, properly signed.
	row, _ := org.view("c")
	keys, _ := row.st.keys()
	cur, _ := row.st.roster()
	// The same members (Alice among them, so she can open it), another
	// roster: signed by the organizer and by the epoch before's
	// administration key.
	fork, _ := crypto.ParseRoster(row.st.Roster)
	fork.Issued = fork.Issued.Add(time.Minute)
	fork.Sign(keys)
	e0 := row.st.Epochs[0]
	prevAdmin := crypto.NewAdminKey(cur.Channel, e0.Epoch, [32]byte(e0.AdminSecret))
	b, err := crypto.NewEpochBundle(fork, crypto.NewEpochSecrets(fork), keys, prevAdmin)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := b.Marshal()
	if _, err := r.Store.Append(ctx, []relay.NewFrame{{Channel: cur.Channel, Kind: wire.KindBundle, Payload: raw}}); err != nil {
		t.Fatal(err)
	}
	alice.Sync(ctx, "c")
	entries, _ := alice.Read("c")
	found := false
	for _, e := range entries {
		found = found || strings.HasPrefix(e.Text, "rejected a second, different roster for epoch")
	}
	if !found {
		t.Fatalf("fork not reported: %+v", entries)
	}
	if ms, _ := alice.Members("c"); len(ms) != 2 {
		t.Fatalf("the fork changed the members: %d", len(ms))
	}
}
