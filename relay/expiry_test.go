package relay_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"parley/internal/wire"
	"parley/relay"
)

// A frame past its retention is not served, even before the purge; the
// purge then leaves no trace of it in relay.db, its WAL or its frame
// log.
func TestExpiredFramesNotServedAndScrubbed(t *testing.T) {
	dir := t.TempDir()
	s, err := relay.OpenSQLite(filepath.Join(dir, "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var ch relay.ChannelID
	ch[0] = 7
	if err := s.CreateChannel(ctx, ch, []byte("access"), 1); err != nil {
		t.Fatal(err)
	}
	expired := bytes.Repeat([]byte("EXPIRED-CIPHERTEXT-MARKER "), 40)
	live := []byte("live frame")
	now := time.Now()
	if _, err := s.Append(ctx, []relay.NewFrame{
		{Channel: ch, Kind: wire.KindMessage, Expires: now.Add(-time.Second), Payload: expired},
		{Channel: ch, Kind: wire.KindMessage, Expires: now.Add(time.Hour), Payload: live},
	}); err != nil {
		t.Fatal(err)
	}
	frames, _, err := s.Fetch(ctx, ch, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 1 || !bytes.Equal(frames[0].Payload, live) {
		t.Fatalf("fetch before the purge returned %d frames", len(frames))
	}

	n, err := s.Expire(ctx, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("expire: %d rows, %v", n, err)
	}
	if found := grepDir(t, dir, [][]byte{[]byte("EXPIRED-CIPHERTEXT-MARKER")}); len(found) > 0 {
		t.Errorf("%v still hold the expired frame after the purge", found)
	}
}
