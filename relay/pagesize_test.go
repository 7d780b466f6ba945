package relay

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"parley/internal/wire"
)

func storePageSize(t *testing.T, s *SQLiteStore) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`PRAGMA page_size`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A new store has 8 KiB pages; a store made with SQLite's default keeps
// its 4 KiB pages, and works as before.
func TestPageSize(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "new.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := storePageSize(t, s); got != pageSize {
		t.Errorf("a new store has %d-byte pages, want %d", got, pageSize)
	}

	old := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; ` + schema); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s2, err := OpenSQLite(old)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := storePageSize(t, s2); got != 4096 {
		t.Errorf("an existing store now has %d-byte pages, want its 4096", got)
	}
	ch := ChannelID{7}
	ctx := context.Background()
	if err := s2.CreateChannel(ctx, ch, []byte("access"), 1); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 16384)
	payload[100] = 42
	if _, err := s2.Append(ctx, []NewFrame{{Channel: ch, Kind: wire.KindMessage, Payload: payload}}); err != nil {
		t.Fatal(err)
	}
	frames, _, err := s2.Fetch(ctx, ch, 0, 1<<20)
	if err != nil || len(frames) != 1 || frames[0].Payload[100] != 42 {
		t.Fatalf("fetched %d frames (%v) from the 4 KiB store", len(frames), err)
	}
}
