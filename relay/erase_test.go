package relay

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"parley/internal/smalldisk"
)

// A frame whose bytes were zeroed by a burn or purge that then never
// committed (a failed commit, or the relay killed first) is not served:
// its row outlived its bytes.
func TestZeroedFrameNotServed(t *testing.T) {
	ch := ChannelID{31}
	s := newEarlyStore(t, filepath.Join(t.TempDir(), "relay.db"), ch)
	defer s.Close()
	hour := time.Now().Add(time.Hour)
	var want [][]byte
	for _, mark := range []string{"ONE.", "TWO.", "THREE."} {
		f := logFrame(ch, mark, 16000, hour)
		if _, err := s.Append(context.Background(), []NewFrame{f}); err != nil {
			t.Fatal(err)
		}
		want = append(want, f.Payload)
	}
	// What a burn or purge does before its deletes and commit.
	var second logRegion
	if err := s.w.QueryRow(`SELECT log_seg, log_off, log_len FROM frames WHERE channel = ? AND seq = 2`, ch[:]).Scan(&second.seg, &second.off, &second.size); err != nil {
		t.Fatal(err)
	}
	s.log.erasing.Lock()
	err := s.log.erase([]logRegion{second})
	s.log.erasing.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	frames, _, err := s.Fetch(context.Background(), ch, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 2 || frames[0].Seq != 1 || frames[1].Seq != 3 ||
		!bytes.Equal(frames[0].Payload, want[0]) || !bytes.Equal(frames[1].Payload, want[2]) {
		t.Fatalf("fetched %d frames (want seq 1 and 3 as stored)", len(frames))
	}
}

// A burn on a full disk fails when SQLite commits, after the frames'
// bytes were zeroed: what the organizer asked to destroy is destroyed,
// and members are served none of it, never zeros in its place. The
// organizer is told the burn failed and burns again.
func TestBurnOnFullDiskServesNoZeros(t *testing.T) {
	disk := smalldisk.Mount(t, "64m")
	ch := ChannelID{32}
	s := newEarlyStore(t, filepath.Join(disk, "relay.db"), ch)
	defer s.Close()
	hour := time.Now().Add(time.Hour)
	for range 200 {
		if _, err := s.Append(context.Background(), []NewFrame{logFrame(ch, "BURNME.", 16000, hour)}); err != nil {
			t.Fatal(err)
		}
	}
	// The WAL moved into the database and started over: the burn's
	// commit needs room the disk no longer has.
	if err := s.scrub(context.Background()); err != nil {
		t.Fatal(err)
	}
	smalldisk.Fill(t, disk, 0)
	if err := s.Burn(context.Background(), ch, []byte("notice"), hour); err == nil {
		t.Skip("the burn succeeded on a full disk: nothing to check")
	}
	frames, _, err := s.Fetch(context.Background(), ch, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 0 {
		t.Fatalf("after a failed burn, %d frames are served (the first: %.16q)", len(frames), frames[0].Payload)
	}
	if found := grepFiles(t, disk, "BURNME."); len(found) > 0 {
		t.Fatalf("after a failed burn, a burned frame is still in %v", found)
	}
}
