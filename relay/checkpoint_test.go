package relay_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"parley/relay"
)

// Under a steady stream of appends from many connections the WAL stays
// bounded (the background checkpoints let SQLite start it over), every
// frame is there afterwards, and the file is sound.
func TestWALStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 64 MB")
	}
	path := filepath.Join(t.TempDir(), "relay.db")
	s, err := relay.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const channels, writers, perWriter = 4, 64, 64 // 4096 envelopes, 64 MiB
	ids := make([]relay.ChannelID, channels)
	for i := range ids {
		ids[i][0] = byte(i + 1)
		if err := s.CreateChannel(context.Background(), ids[i], []byte("access"), 1); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var largest int64
	var mu sync.Mutex
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := envelopeFrame(ids[w%channels])
			for range perWriter {
				if _, err := s.Append(context.Background(), []relay.NewFrame{f}); err != nil {
					t.Error(err)
					return
				}
				if fi, err := os.Stat(path + "-wal"); err == nil {
					mu.Lock()
					largest = max(largest, fi.Size())
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	// Growing to 32 MiB at most before a restart, plus one batch of 256
	// envelopes (4 MiB) and what the store's estimate of its WAL misses:
	// under 48 MiB. A WAL that never starts over holds all 64 MiB of
	// envelopes and more.
	if limit := int64(48 << 20); largest > limit {
		t.Errorf("the WAL grew to %d MiB, want at most %d", largest>>20, limit>>20)
	}
	t.Logf("largest WAL %.1f MiB", float64(largest)/(1<<20))
	for _, ch := range ids {
		var n int
		since := uint64(0)
		for {
			frames, more, err := s.Fetch(context.Background(), ch, since, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range frames {
				if f.Seq != since+1 {
					t.Fatalf("frame %d after %d", f.Seq, since)
				}
				since = f.Seq
				n++
			}
			if !more {
				break
			}
		}
		if n != writers/channels*perWriter {
			t.Errorf("channel %d holds %d frames, want %d", ch[0], n, writers/channels*perWriter)
		}
	}
	if v, err := s.IntegrityCheck(context.Background()); err != nil || v != "ok" {
		t.Fatalf("integrity check: %q, %v", v, err)
	}
}
