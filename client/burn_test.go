package client_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
	"parley/relay"
)

// samples returns 32-byte pieces of every sealed row a home holds for
// its channels: transcript chunks, channel state, outbox.
func homeSamples(t *testing.T, home string) [][]byte {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(home, "state.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out [][]byte
	for _, q := range []string{`SELECT chunk FROM transcript`, `SELECT state FROM channels`} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var b []byte
			rows.Scan(&b)
			if len(b) >= 96 {
				out = append(out, b[len(b)/2:len(b)/2+32], b[len(b)-32:])
			}
		}
		rows.Close()
	}
	return out
}

func TestBurnLeavesNoTraceOnDisk(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	org.CreateChannel(ctx, "ending", w.Relay.URL, crypto.PolicyHard)
	a := w.Join(org, "ending", "A", crypto.RoleParticipant)
	for i := 0; i < 5; i++ {
		a.Send(ctx, "ending", crypto.Talks, "final text of the declaration")
		org.Send(ctx, "ending", crypto.Talks, "agreed")
	}
	texts(t, org, "ending")
	texts(t, a, "ending")
	id, _ := org.ChannelID("ending")

	var marks [][]byte
	for _, h := range w.Homes {
		marks = append(marks, homeSamples(t, h)...)
	}
	for _, f := range channelFrames(t, w.Relay.Store, id) {
		marks = append(marks, f.Payload[len(f.Payload)/2:len(f.Payload)/2+32])
	}
	phrases := make([]string, len(marks))
	for i, m := range marks {
		phrases[i] = string(m)
	}
	if len(w.Sweep(phrases...)) == 0 {
		t.Fatal("the samples are not on disk before the burn; the test would prove nothing")
	}

	if err := org.Burn(ctx, "ending"); err != nil {
		t.Fatal(err)
	}
	if rep, err := a.Sync(ctx, "ending"); err != nil || !rep.Burned {
		t.Fatalf("member after burn: %+v %v", rep, err)
	}
	if found := w.Sweep(phrases...); len(found) > 0 {
		t.Fatalf("after the burn, %d pieces of the channel remain, e.g. %s", len(found), strings.SplitN(found[0], " holds", 2)[0])
	}
}

// After a burn or a leave, the state database is no bigger than it was
// before the channel was there: its size tells nothing of what the
// channel held.
func TestEraseShrinksTheStateDatabase(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	size := func() int64 { // the database and its write-ahead log
		var n int64
		for _, f := range []string{"state.db", "state.db-wal"} {
			if fi, err := os.Stat(filepath.Join(w.Dir(org), f)); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	empty := size()
	org.CreateChannel(ctx, "ending", w.Relay.URL, crypto.PolicyHard)
	a := w.Join(org, "ending", "A", crypto.RoleParticipant)
	for i := 0; i < 40; i++ {
		if err := a.Send(ctx, "ending", crypto.Talks, strings.Repeat("a long paragraph of the declaration ", 40)); err != nil {
			t.Fatal(err)
		}
	}
	texts(t, org, "ending")
	full := size()
	if full < empty+64<<10 {
		t.Fatalf("the test would prove nothing: %d bytes empty, %d with the channel", empty, full)
	}
	if err := org.Burn(ctx, "ending"); err != nil {
		t.Fatal(err)
	}
	if after := size(); after > empty+8<<10 {
		t.Fatalf("after the burn the state database holds %d bytes (%d with the channel, %d before it)", after, full, empty)
	}
}

// forgedTombstone is a relay that shows its own burn notice for a burned
// channel: one signed by a key it made up, as if the channel's
// administrator had signed it.
type forgedTombstone struct {
	relay.Store
	notice []byte
}

func (s *forgedTombstone) Tombstone(ctx context.Context, ch relay.ChannelID) ([]byte, error) {
	if _, err := s.Store.Tombstone(ctx, ch); err != nil || s.notice == nil {
		return nil, err
	}
	return s.notice, nil
}

// A member erases a channel only on a notice signed by an administration
// key of an epoch it holds: a relay's own notice erases nothing, and the
// member is told why.
func TestForgedBurnNoticeErasesNothing(t *testing.T) {
	store := &forgedTombstone{}
	w := newWorld(t, func(s relay.Store) relay.Store { store.Store = s; return store })
	ctx := ctxT(t)
	org := w.Home("Organizer")
	org.CreateChannel(ctx, "ending", w.Relay.URL, crypto.PolicyHard)
	a := w.Join(org, "ending", "A", crypto.RoleParticipant)
	a.Send(ctx, "ending", crypto.Talks, "the text stays with us")
	texts(t, a, "ending")
	id, _ := org.ChannelID("ending")
	var secret [32]byte
	made, err := crypto.NewBurnNotice([]*crypto.AdminKey{crypto.NewAdminKey(crypto.ChannelID(id), 99, secret)}, crypto.ChannelID(id), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	store.notice = made.Marshal()
	if err := org.Burn(ctx, "ending"); err != nil {
		t.Fatal(err)
	}
	rep, err := a.Sync(ctx, "ending")
	if err == nil || rep.Burned || !strings.Contains(err.Error(), "not signed by an administration key") {
		t.Fatalf("member shown a forged notice: %+v, %v", rep, err)
	}
	entries, err := a.Read("ending")
	if err != nil || !slices.ContainsFunc(entries, func(e client.Entry) bool { return e.Text == "the text stays with us" }) {
		t.Fatalf("the member's transcript was erased: %v, %v", entries, err)
	}
}
