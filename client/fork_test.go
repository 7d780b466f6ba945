package client

import (
	"context"
	"os"
	"path/filepath"
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
	os.Setenv("PARLEY_SCRYPT_LOGN", "10")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := relay.Start(relay.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	open := func(name string) *Client {
		dir := filepath.Join(t.TempDir(), "h")
		Init(dir, name, "pw")
		c, err := Open(dir, "pw")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	org, alice := open("Org"), open("Alice")
	org.CreateChannel(ctx, "c", r.URL, crypto.PolicyHard)
	code, _ := org.Invite(ctx, "c", crypto.RoleParticipant, time.Hour, 0)
	alice.Join(ctx, code, "c")
	if _, err := org.Admit(ctx, "c", nil, true); err != nil {
		t.Fatal(err)
	}
	alice.Sync(ctx, "c")

	// A second roster of the current version, properly signed.
	row, _ := org.view("c")
	keys, _ := row.st.keys()
	cur, _ := row.st.roster()
	prev, _ := crypto.ParseRoster(row.st.Epochs[0].Roster)
	fork := prev.Next(time.Now().Add(time.Minute))
	fork.Version = cur.Version
	fork.Sign(keys)
	b, err := crypto.NewEpochBundle(fork, crypto.NewEpochSecrets(fork), keys)
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
