package relay

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/internal/wire"
)

func syncTestStore(t *testing.T, fsync func(*os.File) error) (*SQLiteStore, ChannelID) {
	t.Helper()
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ch := ChannelID{1}
	if err := s.CreateChannel(context.Background(), ch, []byte("access"), 1); err != nil {
		t.Fatal(err)
	}
	s.wal.mu.Lock()
	s.wal.fsync = fsync
	s.wal.mu.Unlock()
	return s, ch
}

// A frame is visible (pushed to readers, fetchable) as soon as it is
// committed, but Append, and so the sender's acknowledgement, waits for
// the fsync of the WAL.
func TestAppendWaitsForTheSync(t *testing.T) {
	entered, release := make(chan struct{}, 16), make(chan struct{})
	s, ch := syncTestStore(t, func(f *os.File) error {
		entered <- struct{}{}
		<-release
		return f.Sync()
	})
	visible := make(chan []wire.Stored, 1)
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(context.Background(), []NewFrame{{Channel: ch, Kind: wire.KindMessage, Payload: []byte("frame")}}, func(st []wire.Stored) { visible <- st })
		done <- err
	}()
	select {
	case st := <-visible:
		if len(st) != 1 || st[0].Seq != 1 {
			t.Fatalf("visible got %+v, want one frame with sequence number 1", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the frame did not become visible before its sync")
	}
	<-entered
	frames, _, err := s.Fetch(context.Background(), ch, 0, 1<<20)
	if err != nil || len(frames) != 1 {
		t.Fatalf("a reader fetched %d frames (%v) while the sync ran, want 1", len(frames), err)
	}
	select {
	case err := <-done:
		t.Fatalf("Append returned (%v) before its sync finished", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A failed fsync fails the appends it was for and every write after
// it: nothing is acknowledged that might not be on disk.
func TestFailedSyncRefusesWrites(t *testing.T) {
	var fail bool
	s, ch := syncTestStore(t, func(f *os.File) error {
		if fail {
			return errors.New("input/output error")
		}
		return f.Sync()
	})
	frame := []NewFrame{{Channel: ch, Kind: wire.KindMessage, Payload: []byte("frame")}}
	if _, err := s.Append(context.Background(), frame, nil); err != nil {
		t.Fatal(err)
	}
	s.wal.mu.Lock()
	fail = true
	s.wal.mu.Unlock()
	if _, err := s.Append(context.Background(), frame, nil); !errors.Is(err, ErrSync) {
		t.Fatalf("append with a failing sync: %v, want ErrSync", err)
	}
	s.wal.mu.Lock()
	fail = false
	s.wal.mu.Unlock()
	if _, err := s.Append(context.Background(), frame, nil); !errors.Is(err, ErrSync) {
		t.Fatalf("append after a failed sync: %v, want ErrSync", err)
	}
	if err := s.CreateChannel(context.Background(), ChannelID{2}, []byte("access"), 1); !errors.Is(err, ErrSync) {
		t.Fatalf("creating a channel after a failed sync: %v, want ErrSync", err)
	}
}
